# E038: a human step's answer gives one value per field; a list has no such form.
workflow err {
  human tag {
    question "Which tags?"
    output {
      tags: list
    }
    when len(tag.tags) > 0 -> done tag.tags
    else -> fail "no tags"
  }
}
