# E023: a step has no such output field.
workflow err {
  input topic: string

  llm write {
    prompt "About {{topic}}"
    output {
      text: string
    }
    when write.txet == "" -> done
    -> done
  }
}
