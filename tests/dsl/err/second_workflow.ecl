# E013: two workflows in one file.
workflow err {
  input topic: string

  llm write {
    prompt "About {{topic}}"
    output {
      text: string
    }
    -> done
  }
}

workflow other {
}
