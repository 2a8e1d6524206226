# hello.ecl - a workflow of this project, not of ecl: an LLM writes a greeting, and a code
# step in C (hello.c) counts its words and refuses one that is too long.
#
#   hello-ecl run hello --name World --max-words 30

workflow hello {
  name "Hello"
  description "Greets someone in a few words; a C function checks the greeting's length."

  input name: string "Who to greet"
  input max_words: int 1..200 = 40 "The most words the greeting may have"

  llm greet {
    system "You write short, warm greetings. Answer with one JSON object and nothing else."
    prompt """
      Greet {{name}} in at most {{max_words}} words.
      Answer as JSON: {"greeting": "<the greeting>"}
      """
    output {
      greeting: string
    }
    -> check
  }

  # hello.c: count_words
  code check {
    call count_words(text: string = greet.greeting, max_words: int = max_words)
    output {
      words: int
      ok: bool
    }
    when check.ok -> done { greeting: greet.greeting, words: check.words }
    else -> fail "the greeting is longer than {{max_words}} words"
  }
}
