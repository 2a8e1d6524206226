# E036: a human step without a question.
workflow err {
  human approve {
    output {
      ok: bool
    }
    when approve.ok -> done
    else -> fail "refused"
  }
}
