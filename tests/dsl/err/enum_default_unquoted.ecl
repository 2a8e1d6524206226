# E010 with a hint: the default of an enum is one of its choices, written as a string.
workflow err {
  input kind: general | special = general
  set pick {
    -> done kind
  }
}
