# E043: `+` joins a string with a string, a number or a bool, not with a list; E046: len of a
# computed value that is not a string.
workflow err {
  input tags: list
  input name: string
  var label: string
  set start {
    set label = name + tags
    -> finish
  }
  set finish {
    -> done { label: label, size: len(1 + 2), ok: len(name + "!") > 1 }
  }
}
