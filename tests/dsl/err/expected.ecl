# E010: a syntax error.
workflow err {
  input topic: string
  input n int

  llm write {
    prompt "About {{topic}}"
    output {
      text: string
    }
    -> done
  }
}
