# E041: `set` with a value of another type.
workflow err {
  input topic: string
  var n: int

  llm write {
    prompt "About {{topic}}"
    output {
      text: string
    }
    set n = write.text
    when n > 3 -> done
    -> done
  }
}
