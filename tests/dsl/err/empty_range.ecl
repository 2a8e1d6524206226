# E049: a range whose low end is above its high end.
workflow err {
  input topic: string
  input n: int 10..1

  llm write {
    prompt "About {{topic}}"
    output {
      text: string
    }
    when n > 3 -> done
    -> done
  }
}
