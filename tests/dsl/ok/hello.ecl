# hello.ecl - the smallest workflow: one step, no inputs, a bare `done`.
workflow hello {
  llm greet {
    prompt "Say hello."
    output {
      text: string
    }
    -> done
  }
}
