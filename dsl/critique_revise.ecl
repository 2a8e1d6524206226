# critique_revise.ecl - write on a topic, then critique and revise until the critic is satisfied.

workflow critique-revise {
  name "Critique and Revise Loop"
  description "Writes a piece on a topic, then has a critic judge it and revises it from the critic's feedback until the critic passes it, at most 3 times."

  input topic: string "What to write about"
  input min_words: int = 50 "The least number of words the piece should have"

  var content: string
  var word_count: int

  # Every LLM call is retried twice on transport errors, and a malformed answer is sent back
  # to the model once with the problem named.
  retry 2
  repair 1

  llm generate {
    system "You are a careful writer. Answer with one JSON object and nothing else."
    prompt """
      Write a piece of at least {{min_words}} words on this topic: {{topic}}
      Answer as JSON: {"content": "<the piece>", "word_count": <its number of words>}
      """
    output {
      content: string
      word_count: int
    }
    set content = generate.content
    set word_count = generate.word_count
    -> critique
  }

  llm critique {
    system "You are a strict editor. Answer with one JSON object and nothing else."
    prompt """
      Judge this piece on the topic "{{topic}}". It should have at least {{min_words}} words.
      Decide "pass" when it is ready, else "revise" and say what to change.

      {{content}}

      Answer as JSON: {"decision": "pass" or "revise", "feedback": "<what to change>", "quality_score": <0 to 100>}
      """
    output {
      decision: pass | revise
      feedback: string
      quality_score: int 0..100
    }
    when critique.decision == "pass" -> done { content: content, word_count: word_count }
    when critique.decision == "revise" -> revise
  }

  llm revise {
    limit 3 as revisions else fail "max revisions (3) reached"
    system "You are a careful writer. Answer with one JSON object and nothing else."
    prompt """
      Revise this piece on the topic "{{topic}}" (revision {{revisions}}), following the editor's feedback.

      Feedback: {{critique.feedback}}

      {{content}}

      Answer as JSON: {"content": "<the revised piece>", "word_count": <its number of words>}
      """
    output {
      content: string
      word_count: int
    }
    set content = revise.content
    set word_count = revise.word_count
    -> critique
  }
}
