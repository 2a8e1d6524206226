# E012: a type that does not exist.
workflow err {
  input topic: string
  var count: integer

  llm write {
    prompt "About {{topic}}"
    output {
      text: string
    }
    -> done
  }
}
