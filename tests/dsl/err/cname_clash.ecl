# E024: two names that would be the same C identifier.
workflow err {
  input topic: string
  var write_text: string

  llm write {
    prompt "About {{topic}}"
    output {
      text: string
    }
    set write_text = write.text
    when write_text == "" -> done
    -> done
  }
}
