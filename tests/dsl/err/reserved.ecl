# E014: a reserved word as a name.
workflow err {
  input topic: string
  var done: int

  llm write {
    prompt "About {{topic}}"
    output {
      text: string
    }
    -> done
  }
}
