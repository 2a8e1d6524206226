# E006: a number run into letters (a duration with an unknown unit).
workflow err {
  input topic: string

  llm write {
    prompt "About {{topic}}"
    output {
      text: string
    }
    timeout 30sec
    -> done
  }
}
