# E015: a setting given twice in a step.
workflow err {
  input topic: string

  llm write {
    prompt "About {{topic}}"
    output {
      text: string
    }
    prompt "Again about {{topic}}"
    -> done
  }
}
