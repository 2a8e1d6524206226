workflow kinds {
  input q: string
  var s: string
  set prep {
    set s = q + " " + len(q) + (len(q) > 2)
    -> tool
  }
  code tool {
    call f(text: string = s, n: int = len(s))
    output { ok: bool  n: int }
    when tool.ok -> ask
    else -> fail "tool: {{s}}"
  }
  human ask {
    limit 2 as asks else fail "asked {{asks}} times"
    question "Fine? {{tool.n}}"
    output { yes: bool  why?: string }
    when ask.yes -> done { s: s + "!", n: tool.n * 2 }
    else -> ask
  }
}
