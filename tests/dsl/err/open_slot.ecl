# E056: a template slot that is not closed.
workflow err {
  input topic: string
  llm write {
    prompt "About {{topic"
    output {
      text: string
    }
    -> done
  }
}
