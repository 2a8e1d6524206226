# E005: an integer that does not fit in 64 bits.
workflow err {
  input topic: string
  input n: int = 99999999999999999999

  llm write {
    prompt "About {{topic}}"
    output {
      text: string
    }
    when n > 0 -> done
    -> done
  }
}
