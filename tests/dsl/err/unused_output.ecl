# W004: an output field of a code or human step that nothing reads.
workflow err {
  input text: string
  code count {
    call count_words(text: string = text)
    output {
      words: int
      lines: int
    }
    -> approve
  }
  human approve {
    question "Approve {{count.words}} words?"
    output {
      ok: bool
      comment?: string
    }
    when approve.ok -> done count.words
    else -> fail "refused"
  }
}
