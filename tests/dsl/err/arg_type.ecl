# E053: an argument of a code step's function given a value of another type.
workflow err {
  input text: string
  input limit: int = 10
  code check {
    call check_text(text: string = text, limit: int = text, strict: bool = limit > 1,
                    ratio: float = limit, mode: fast | slow = "medium")
    output {
      ok: bool
    }
    when check.ok -> done
    else -> fail "rejected"
  }
}
