# triage.ecl - classifies a support ticket, asks for clarification at most twice, then
# guesses once. Exercises a chain of limits (clarify falls back to guess, which fails),
# negative numbers and ranges, `!=`, unary minus and a bare `done`.

workflow triage {
  input ticket: string "The ticket's text"
  input priority: int -1..5 = 0

  llm classify {
    prompt "Classify this ticket: {{ticket}}"
    output {
      kind: bug | question | other
      confidence: float
    }
    when priority >= 4 or classify.kind == "bug" and classify.confidence > 0.5 -> answer_bug
    when classify.kind != "question" -> clarify
    else -> answer
  }

  llm clarify {
    limit 2 as clarifications else -> guess
    prompt "Ask the reporter of {{ticket}} what they mean (attempt {{clarifications}})."
    output {
      question: string
    }
    -> classify
  }

  llm guess {
    limit 1 as guesses else fail "no guess left for \"{{ticket}}\" after {{guesses}} guess"
    prompt "Guess what this ticket is about: {{ticket}}"
    output {
      kind: bug | question | other
    }
    when guess.kind == "bug" -> answer_bug
    -> clarify
  }

  llm answer_bug {
    prompt "Write the bug report for {{ticket}}."
    output {
      report: string
    }
    -> done answer_bug.report
  }

  llm answer {
    prompt "Answer the question in {{ticket}}."
    output {
      text: string
      sure: bool
    }
    when -classify.confidence < -0.9 and answer.sure -> done { answer: answer.text, sure: answer.sure }
    when not answer.sure -> fail "unsure about {{ticket}}"
    else -> done
  }
}
