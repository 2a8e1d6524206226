# E029: a `set` after a transition.
workflow err {
  input topic: string
  var text: string
  llm write {
    prompt "About {{topic}}"
    output {
      text: string
    }
    when write.text == "" -> done
    set text = write.text
    -> done text
  }
}
