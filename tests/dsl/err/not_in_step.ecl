# E037: items that a kind of step does not have.
workflow err {
  var n: int
  set start {
    prompt "Count."
    output {
      n: int
    }
    set n = 1
    -> ask
  }
  human ask {
    question "Go on after {{n}}?"
    retry 2
    call check(n: int = n)
    output {
      ok: bool
    }
    when ask.ok -> done
    else -> fail "stopped"
  }
  llm write {
    question "Why?"
    prompt "Write."
    output {
      text: string
    }
    -> done write.text
  }
}
