# E021: a template names something that does not exist.
workflow err {
  input topic: string
  llm write {
    prompt "About {{topik}}"
    output {
      text: string
    }
    -> done
  }
}
