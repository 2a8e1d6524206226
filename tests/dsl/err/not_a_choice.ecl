# E045: an enum compared with a string that is not one of its choices.
workflow err {
  input topic: string
  llm judge {
    prompt "Judge {{topic}}"
    output {
      decision: pass | revise
    }
    when judge.decision == "passs" -> done
    else -> fail "revise"
  }
}
