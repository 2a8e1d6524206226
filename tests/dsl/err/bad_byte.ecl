# E001: a byte that is not UTF-8, outside any string.
workflow err {
  input topic: string
  ÿ
  llm write {
    prompt "About {{topic}}"
    output {
      text: string
    }
    -> done
  }
}
