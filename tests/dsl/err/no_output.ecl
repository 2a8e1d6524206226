# E026: a step without an output.
workflow err {
  input topic: string
  llm write {
    prompt "About {{topic}}"
    -> done
  }
}
