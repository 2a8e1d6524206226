# E052: a division by the constant zero.
workflow err {
  input topic: string
  input n: int = 1

  llm write {
    prompt "About {{topic}}"
    output {
      text: string
    }
    when n / 0 > 3 -> done
    -> done
  }
}
