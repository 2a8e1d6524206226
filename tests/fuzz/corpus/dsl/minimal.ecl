workflow tiny {
  input q: string
  llm ask {
    prompt "Answer {{q}}"
    output { a: string }
    -> done a
  }
}
