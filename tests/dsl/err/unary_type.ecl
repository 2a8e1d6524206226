# E044: `not` on a string.
workflow err {
  input topic: string

  llm write {
    prompt "About {{topic}}"
    output {
      text: string
    }
    when not write.text -> done
    -> done
  }
}
