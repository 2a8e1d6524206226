# E011: a workflow id written with spaces.
workflow my - flow {
  input topic: string

  llm write {
    prompt "About {{topic}}"
    output {
      text: string
    }
    -> done
  }
}
