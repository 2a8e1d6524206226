# c_names.ecl - names that would collide in the generated C if eclc wrote them as they are:
# steps `main` and `main_parts` (both limited, failing at the limit), a step `a` beside a C
# function `prompt_a`, and C functions named like the tables and the step function.
workflow c-names {
  input slots: int = 1
  var step: int = 0

  llm a {
    prompt "go {{slots}}"
    output { n: int }
    set step = a.n
    -> main
  }

  set main {
    limit 2 as loops else fail "main ran {{loops}} times"
    when step > 3 -> main_parts
    -> c
  }

  code c {
    call step(n: int = step)
    output { again: bool }
    when c.again -> main
    -> d
  }

  code d {
    call slots(n: int = slots)
    output { again: bool }
    when d.again -> main_parts
    -> e
  }

  code e {
    call prompt_a()
    output { again: bool }
    when e.again -> main_parts
    -> done
  }

  set main_parts {
    limit 3 as parts else fail "main_parts ran {{parts}} times"
    when step > 5 -> main
    -> done
  }
}
