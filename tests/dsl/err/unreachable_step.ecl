# W001: a step no transition leads to.
workflow err {
  input topic: string
  llm write {
    prompt "About {{topic}}"
    output {
      text: string
    }
    -> done
  }

  llm orphan {
    prompt "Nobody asks for {{topic}}"
    output {
      text: string
    }
    -> done
  }
}
