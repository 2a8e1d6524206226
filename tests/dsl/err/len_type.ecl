# E046: `len` of an int.
workflow err {
  input topic: string
  input n: int = 3

  llm write {
    prompt "About {{topic}}"
    output {
      text: string
    }
    when len(n) > 3 -> done
    -> done
  }
}
