# E035: a code step without a call.
workflow err {
  code count {
    output {
      words: int
    }
    when count.words > 0 -> done
    else -> fail "empty"
  }
}
