# E002: a character the language does not use.
workflow err {
  input topic: string

  llm write {
    prompt "About {{topic}}"
    output {
      text: string
    }
    temperature 0.5 @
    -> done
  }
}
