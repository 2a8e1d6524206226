# E001 inside a string: strings must be UTF-8.
workflow err {
  input topic: string
  llm write {
    prompt "About {{topic}} été"
    output {
      text: string
    }
    -> done
  }
}
