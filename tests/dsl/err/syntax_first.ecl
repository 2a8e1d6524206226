# E010 alone: a step cut short by a syntax error has no prompt, no output and no transition,
# and the checker, which would say so, does not run after a syntax error.
workflow err {
  llm write {
    prompt: "hi"
    output { text: string }
    -> done write.text
  }
}
