# E040: `set` on an input.
workflow err {
  input topic: string

  llm write {
    prompt "About {{topic}}"
    output {
      text: string
    }
    set topic = write.text
    -> done
  }
}
