# long_chains.ecl - chains of 110 operands: a chain is long, not nested (E016 is for nesting).
workflow long-chains {
  input n: int = 1
  input f: float = 0.5
  input s: string = "s"
  var total: int
  var text: string
  var ok: bool
  var x: float
  set sum {
    set total = n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n + n
    set text = n + s + n + s + n + s + n + s + n + s + n + s + n + s + n + s + n + s + n + s + n + s + n + s + n + s + n + s + n + s + n + s + n + s + n + s + n + s + n + s + n + s + n + s + n + s + n + s + n + s + n + s + n + s + n + s + n + s + n + s + n + s + n + s + n + s + n + s + n + s + n + s + n + s + n + s + n + s + n + s + n + s + n + s + n + s + n + s + n + s + n + s + n + s + n + s + n + s + n + s + n + s + n + s + n + s + n + s + n + s
    set ok = n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0 and n > 0
    set x = f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f * f
    -> done { total: total, text: text, ok: ok, x: x }
  }
}
