# E028: a transition after an unconditional one.
workflow err {
  input topic: string

  llm write {
    prompt "About {{topic}}"
    output {
      text: string
    }
    -> done
    when write.text == "" -> write
  }
}
