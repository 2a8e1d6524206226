# E031: no transition ever finishes the run.
workflow err {
  input topic: string
  llm write {
    prompt "About {{topic}}"
    output {
      text: string
    }
    when write.text == "" -> fail "nothing written"
    -> critique
  }

  llm critique {
    limit 2 as rounds else fail "too many rounds"
    prompt "Judge {{write.text}}"
    output {
      ok: bool
    }
    -> write
  }
}
