# E004: an escape the language does not know.
workflow err {
  input topic: string
  description "a tab\q here"

  llm write {
    prompt "About {{topic}}"
    output {
      text: string
    }
    -> done
  }
}
