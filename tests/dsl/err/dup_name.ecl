# E020: two declarations of one name.
workflow err {
  input topic: string
  var topic: string

  llm write {
    prompt "About {{topic}}"
    output {
      text: string
    }
    -> done
  }
}
