# A code step's C function cannot have a name the generated C, ecl.h or C already has.
workflow w {
  code a {
    call ecl_run_start()
    output { x: int }
    -> b
  }
  code b {
    call printf()
    output { x: int }
    -> c
  }
  code c {
    call my__helper()
    output { x: int }
    -> d
  }
  code d {
    call _helper()
    output { x: int }
    -> e
  }
  code e {
    call rc()
    output { x: int }
    -> done { a: a.x, b: b.x, c: c.x, d: d.x, e: e.x }
  }
}
