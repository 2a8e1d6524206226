# triage.ecl - classify a support request and route it: several guarded branches, and a
# retry policy on the classifier, whose endpoint is known to be flaky.
#
#   ecl run triage --request "The export button crashes the app" --tier pro

workflow triage {
  name "Triage a Request"
  description "Classifies a support request, then routes it by category, urgency and the customer's tier: escalation, a bug report, a billing answer, self-service or the feature log."

  input request: string "The customer's request"
  input tier: free | pro | enterprise = "free" "The customer's plan"

  var reply: string

  # Every LLM call of this workflow gives up after 5 s; a transport failure is retried with
  # exponential backoff and jitter.
  timeout 5s
  retry 1

  llm classify {
    # The classifier's endpoint is the flaky one: up to 4 more tries.
    retry 4
    system "You triage support requests. Answer with one JSON object and nothing else."
    prompt """
      Classify this request from a {{tier}} customer.

      {{request}}

      Answer as JSON: {"category": "bug" | "billing" | "feature" | "spam", "urgency": <1 to 5>, "summary": "<one line>"}
      """
    output {
      category: bug | billing | feature | spam
      urgency: int 1..5
      summary: string
    }
    when classify.category == "spam" -> done { action: "ignored" }
    when classify.category == "bug" and (classify.urgency >= 4 or tier == "enterprise") -> escalate
    when classify.category == "bug" -> file_bug
    when classify.category == "billing" and tier != "free" -> billing
    when classify.category == "billing" -> self_service
    else -> log_feature
  }

  llm escalate {
    prompt """
      Write a short incident note for the on-call engineer about this {{tier}} customer's
      problem (urgency {{classify.urgency}}): {{classify.summary}}

      Answer as JSON: {"note": "<the note>", "page": true or false}
      """
    output {
      note: string
      page: bool
    }
    -> done { action: "escalated", page: escalate.page, note: escalate.note, urgency: classify.urgency }
  }

  set file_bug {
    set reply = "Thank you: we filed your bug (" + classify.summary + ") with urgency " + classify.urgency + "."
    -> done { action: "bug filed", reply: reply }
  }

  llm billing {
    prompt """
      Answer this billing question of a {{tier}} customer politely, in two sentences:

      {{request}}

      Answer as JSON: {"answer": "<the answer>"}
      """
    output {
      answer: string
    }
    -> done { action: "answered", reply: billing.answer }
  }

  set self_service {
    set reply = "Our billing guide answers most questions: https://example.com/billing"
    -> done { action: "self-service", reply: reply }
  }

  set log_feature {
    -> done { action: "feature logged", summary: classify.summary, length: len(request) }
  }
}
