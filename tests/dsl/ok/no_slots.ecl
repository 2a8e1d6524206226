# no_slots.ecl - a workflow with no inputs, vars or outputs: no slot at all, and no result code.
workflow no-slots {
  set start {
    -> done
  }
}
