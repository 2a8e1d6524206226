# E033: limits whose fallbacks lead to each other.
workflow err {
  input topic: string
  llm write {
    prompt "About {{topic}}"
    output {
      text: string
    }
    when write.text == "" -> done
    -> a
  }

  llm a {
    limit 2 as tries_a else -> b
    prompt "Try {{write.text}}"
    output {
      ok: bool
    }
    -> write
  }

  llm b {
    limit 2 as tries_b else -> a
    prompt "Retry {{write.text}}"
    output {
      ok: bool
    }
    -> write
  }
}
