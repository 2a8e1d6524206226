# Every kind of step: llm, code (with arguments of every type), human, and set steps with
# computed strings and computed `done` results.
workflow step-kinds {
  input text: string "The text"
  input tags: list "Its tags"
  input level: low | high = "low"
  input ratio: float = 0.5
  var label: string
  var size: int
  var score: float

  set prepare {
    set label = "[" + level + "] " + text + " (" + len(tags) + " tags, ratio " + ratio + ", " + (ratio > 0.1) + ")"
    set size = len(label + "!") * 2 - 1
    -> measure
  }

  code measure {
    call measure_text(text: string = label, tags: list = tags, limit: int = size,
                      ratio: float = 1, strict: bool = level == "high", level: low | high = level)
    output {
      ok: bool
      score: float
      note?: string
    }
    set score = measure.score
    when measure.ok and len(measure.note) == 0 -> review
    else -> fail "measure_text refused {{label}}: {{measure.note}}"
  }

  human review {
    limit 2 as reviews else fail "not approved after 2 reviews"
    question """
      Review "{{label}}" (score {{score}}, review {{reviews}}).
      """
    output {
      approved: bool
      stars: int 1..5
      mood?: calm | angry
      weight?: float
      comment?: string
    }
    when review.approved and review.mood == "calm" -> done { label: label + "!", stars: review.stars * 2, score: score / 2.0 + review.weight, calm: true, comment: review.comment }
    when review.approved -> done label + " (" + review.comment + ")"
    else -> rewrite
  }

  llm rewrite {
    prompt "Rewrite {{label}}."
    output {
      text: string
    }
    set label = rewrite.text + ""
    -> review
  }
}
