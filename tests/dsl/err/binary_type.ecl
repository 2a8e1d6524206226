# E043: an operator on operands of the wrong types.
workflow err {
  input topic: string

  llm write {
    prompt "About {{topic}}"
    output {
      text: string
    }
    when write.text > 3 -> done
    -> done
  }
}
