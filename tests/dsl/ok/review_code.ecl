# review_code.ecl - reviews a change until the reviewer approves, escalating after two rounds
# of fixes. Exercises guarded branches with an else, a limit whose fallback is another step,
# optional fields, int ranges, enums, float and bool inputs, lists, model options, integer and
# float arithmetic, and every kind of `done`.

workflow review-code {
  name "Code Review"
  description "Reviews a diff, asks for fixes until the reviewer approves, and escalates after two rounds."

  input diff: string "The change to review"
  input strictness: float = 0.5 "How strict the reviewer is, from 0 to 1"
  input allow_style_nits: bool = false
  input max_findings: int 1..50 = 10
  input language: python | c | rust = "c" "The language of the change"

  var verdict: approve | fix | escalate = "fix"
  var findings: int = 0
  var score: float
  var blocking: bool
  var summary: string = "none"
  var notes: list

  model "gpt-4o-mini"
  temperature 0.2
  max_tokens 2000
  timeout 90s
  retry 1
  repair 2

  llm review {
    system """
      You review {{language}} code, {{strictness}} strictly.
      Style nits allowed: {{allow_style_nits}}.
      """
    prompt "Review this diff and list at most {{max_findings}} findings:\n{{diff}}"
    temperature 0
    output {
      decision: approve | fix | escalate
      findings: int 0..50
      severity: float
      blocking: bool
      comments: list
      summary?: string
    }
    set findings = review.findings
    set score = review.severity * 2.0 + review.findings / 2
    set blocking = review.blocking and not allow_style_nits or review.findings > max_findings
    set verdict = review.decision
    set notes = review.comments
    when review.decision == "approve" and not blocking -> done { verdict: verdict, findings: findings }
    when review.decision == "escalate" or score >= 8.5 -> escalate
    when review.findings - 1 > max_findings % 7 or len(review.comments) == 0 -> fix
    when len(diff) < 10 -> fail "diff too short for {{language}}: {{ review.summary }}"
    else -> fix
  }

  llm fix {
    limit 2 as rounds else -> escalate
    prompt """
      Round {{rounds}}: propose fixes for these findings (\{{not a slot}}).
      {{review.summary}}
      """
    model "gpt-4o"
    timeout 500ms
    output {
      patch: string
      confident?: bool
    }
    set summary = fix.patch
    when fix.confident -> review
    -> review
  }

  llm escalate {
    prompt "Why does {{diff}} need a human? {{summary}}; {{findings}} findings, score {{score}}, blocking {{blocking}}, notes {{notes}}."
    max_tokens 300
    output {
      reason: string
    }
    -> done escalate.reason
  }
}
