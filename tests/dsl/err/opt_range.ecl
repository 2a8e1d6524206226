# E050: a model option out of its range.
workflow err {
  input topic: string
  temperature 3.5

  llm write {
    prompt "About {{topic}}"
    output {
      text: string
    }
    -> done
  }
}
