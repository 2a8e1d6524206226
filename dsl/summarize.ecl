# summarize.ecl - summarise a document, check the summary with C code, and ask a person to
# approve it before finishing.
#
#   ecl run summarize --input-file document=dsl/examples/document.txt
#   ecl answer <run-id> --set approved=true --set comment="Good"

workflow summarize {
  name "Summarise and Approve"
  description "Summarises a document, checks the summary with a code step (dsl/summarize.c), and waits for a person to approve it; a rejected summary is drafted again, at most 3 times."

  input document: string "The text to summarise (give a file with --input-file document=PATH)"
  input max_words: int 5..1000 = 60 "The most words the summary may have"

  var summary: string
  var feedback: string = ""

  llm draft {
    limit 3 as drafts else fail "no approved summary after 3 drafts"
    system "You summarise documents faithfully. Answer with one JSON object and nothing else."
    prompt """
      Summarise this document in at most {{max_words}} words (draft {{drafts}}).
      {{feedback}}
      Document:
      {{document}}

      Answer as JSON: {"summary": "<the summary>"}
      """
    output {
      summary: string
    }
    set summary = draft.summary
    -> check
  }

  # dsl/summarize.c: counts the words, and refuses an empty summary, one that is too long, or
  # one that is longer than the document itself.
  code check {
    call check_summary(text: string = summary, document: string = document,
                       max_words: int = max_words)
    output {
      ok: bool
      words: int
      problem: string
    }
    when check.ok -> approve
    else -> redraft
  }

  set redraft {
    set feedback = "Your last summary was refused: " + check.problem + ". Write it again."
    -> draft
  }

  human approve {
    question """
      Approve this summary of {{check.words}} words? (approved=true|false, comment=...)

      {{summary}}
      """
    output {
      approved: bool
      comment?: string
    }
    when approve.approved -> done { summary: summary, words: check.words, drafts: drafts, comment: approve.comment }
    else -> reviewed
  }

  set reviewed {
    set feedback = "A reviewer refused your last summary: " + approve.comment
    -> draft
  }
}
