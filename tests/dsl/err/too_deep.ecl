# E016: an expression nested deeper than the compiler allows.
workflow err {
  input topic: string

  llm write {
    prompt "About {{topic}}"
    output {
      text: string
    }
    when (((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((topic))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))) == "x" -> done
    -> done
  }
}
