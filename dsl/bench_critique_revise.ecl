# bench_critique_revise.ecl - the anchor workload of the benchmarks (bench/README.md): the
# critique-revise loop with the exact prompts every compared system sends to the same
# deterministic fake LLM (the `fake` provider, or the fake server in tests/tools/).

workflow bench-critique-revise {
  name "Critique and Revise (benchmark workload)"
  description "The shared benchmark workload: generate, then critique and revise at most 3 times, with plain KEY:value prompts."

  input wf: string "The workflow id the fake LLM keys its critique counter on"
  input topic: string "What to write about"

  var content: string
  var word_count: int

  llm generate {
    prompt "WF:{{wf}}\nTASK:generate\nTOPIC:{{topic}}\n"
    output {
      content: string
      word_count: int
    }
    set content = generate.content
    set word_count = generate.word_count
    -> critique
  }

  llm critique {
    prompt "WF:{{wf}}\nTASK:critique\nCONTENT:{{content}}\n"
    output {
      decision: pass | revise
      feedback: string
      quality_score: int
    }
    when critique.decision == "pass" -> done { status: critique.decision, content: content, word_count: word_count, quality_score: critique.quality_score, revisions: revisions }
    -> revise
  }

  llm revise {
    limit 3 as revisions else fail "max revisions (3) reached"
    prompt "WF:{{wf}}\nTASK:revise\nREVISION:{{revisions}}\nFEEDBACK:{{critique.feedback}}\nCONTENT:{{content}}\n"
    output {
      content: string
      word_count: int
    }
    set content = revise.content
    set word_count = revise.word_count
    -> critique
  }
}
