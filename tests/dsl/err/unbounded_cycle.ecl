# E032: a loop without a step that has a `limit`.
workflow err {
  input topic: string
  llm generate {
    prompt "About {{topic}}"
    output {
      text: string
    }
    -> a
  }

  llm a {
    prompt "Improve {{generate.text}}"
    output {
      ok: bool
    }
    when a.ok -> done
    -> b
  }

  llm b {
    prompt "Criticise {{generate.text}}"
    output {
      note: string
    }
    -> a
  }
}
