# E030: a workflow without a step.
workflow err {
  input topic: string
}
