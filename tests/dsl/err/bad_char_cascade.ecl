# E002 alone: the rest of the line makes no sense to the parser once `[` is skipped, and it
# says nothing more; no type error is reported after a syntax error.
workflow err {
  input sources: list
  var v: string
  set pick {
    set v = sources[0]
    -> done v
  }
}
