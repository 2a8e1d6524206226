# E027: a step with no transition.
workflow err {
  input topic: string
  llm write {
    prompt "About {{topic}}"
    output {
      text: string
    }
    when write.text == "" -> done
    -> polish
  }

  llm polish {
    prompt "Polish {{write.text}}"
    output {
      text: string
    }
  }
}
