# E022: a transition to a step that does not exist.
workflow err {
  input topic: string
  llm write {
    prompt "About {{topic}}"
    output {
      text: string
    }
    when write.text == "" -> critque
    -> done
  }

  llm critique {
    prompt "Judge {{write.text}}"
    output {
      ok: bool
    }
    -> done
  }
}
