# E002 with a character outside ASCII.
workflow err {
  input topic: string
  →

  llm write {
    prompt "About {{topic}}"
    output {
      text: string
    }
    -> done
  }
}
