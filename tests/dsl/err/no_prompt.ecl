# E025: a step without a prompt.
workflow err {
  llm write {
    system "You write."
    output {
      text: string
    }
    -> done
  }
}
