# E042: a condition that is not bool.
workflow err {
  input topic: string

  llm write {
    prompt "About {{topic}}"
    output {
      text: string
    }
    when write.text -> done
    -> done
  }
}
