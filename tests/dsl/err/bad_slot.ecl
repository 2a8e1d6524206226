# E055: a template slot that is not a name.
workflow err {
  input topic: string
  llm write {
    prompt "About {{ 1 + 2 }} and {{topic}}"
    output {
      text: string
    }
    -> done
  }
}
