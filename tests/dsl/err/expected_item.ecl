# E010 with a misspelt keyword.
workflow err {
  input topic: string

  llm write {
    prompt "About {{topic}}"
    output {
      text: string
    }
    promt "again"
    -> done
  }
}
