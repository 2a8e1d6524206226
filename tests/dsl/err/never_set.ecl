# W003: a var read but never given a value.
workflow err {
  input topic: string
  var style: string

  llm write {
    prompt "About {{topic}}"
    output {
      text: string
    }
    when style == "" -> done
    -> done
  }
}
