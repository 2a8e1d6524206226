# E003: a string that does not end on its line.
workflow err {
  input topic: string
  llm write {
    prompt "About {{topic}}
    output {
      text: string
    }
    -> done
  }
}
