# E054: an output read where its step may not have run yet (or, in its own prompt, before the
# step has it).
workflow err {
  input text: string
  llm triage {
    prompt "Classify {{text}} (last reply: {{reply.text}})"
    output {
      urgent: bool
    }
    when triage.urgent -> reply
    else -> done { reply: reply.text }
  }
  llm reply {
    limit 2 as replies else fail "gave up after {{reply.text}}"
    prompt "Reply to {{text}}; your draft was {{reply.text}}"
    output {
      text: string
    }
    when len(reply.text) > 10 -> done reply.text
    else -> reply
  }
}
