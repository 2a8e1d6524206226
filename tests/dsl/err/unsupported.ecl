# E051: a `done` value that is not a name.
workflow err {
  input topic: string
  input n: int = 1

  llm write {
    prompt "About {{topic}}"
    output {
      text: string
    }
    when n > 3 -> done n + 1
    -> done
  }
}
