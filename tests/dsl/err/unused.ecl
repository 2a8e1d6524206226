# W002: an input nothing reads.
workflow err {
  input topic: string
  input tone: string = "plain"

  llm write {
    prompt "About {{topic}}"
    output {
      text: string
    }
    -> done
  }
}
