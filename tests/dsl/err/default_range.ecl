# E048: a default outside the range of its type.
workflow err {
  input topic: string
  input n: int 1..10 = 50

  llm write {
    prompt "About {{topic}}"
    output {
      text: string
    }
    when n > 3 -> done
    -> done
  }
}
