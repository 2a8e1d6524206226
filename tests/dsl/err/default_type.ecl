# E047: a default of the wrong type.
workflow err {
  input topic: string
  input n: int = "ten"

  llm write {
    prompt "About {{topic}}"
    output {
      text: string
    }
    when n > 3 -> done
    -> done
  }
}
