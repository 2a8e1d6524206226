# E034: a step bound larger than an int: every stage doubles the visits of the next.
workflow err {
  llm start {
    limit 1000000 as starts else fail "no more starts"
    prompt "Start"
    output {
      ok: bool
    }
    when start.ok -> start
    -> c0
  }

  llm c0 {
    prompt "Stage 0"
    output {
      ok: bool
    }
    when c0.ok -> c1
    -> d0
  }

  llm d0 {
    prompt "Side 0"
    output {
      ok: bool
    }
    -> c1
  }

  llm c1 {
    prompt "Stage 1"
    output {
      ok: bool
    }
    when c1.ok -> c2
    -> d1
  }

  llm d1 {
    prompt "Side 1"
    output {
      ok: bool
    }
    -> c2
  }

  llm c2 {
    prompt "Stage 2"
    output {
      ok: bool
    }
    when c2.ok -> c3
    -> d2
  }

  llm d2 {
    prompt "Side 2"
    output {
      ok: bool
    }
    -> c3
  }

  llm c3 {
    prompt "Stage 3"
    output {
      ok: bool
    }
    when c3.ok -> c4
    -> d3
  }

  llm d3 {
    prompt "Side 3"
    output {
      ok: bool
    }
    -> c4
  }

  llm c4 {
    prompt "Stage 4"
    output {
      ok: bool
    }
    when c4.ok -> c5
    -> d4
  }

  llm d4 {
    prompt "Side 4"
    output {
      ok: bool
    }
    -> c5
  }

  llm c5 {
    prompt "Stage 5"
    output {
      ok: bool
    }
    when c5.ok -> c6
    -> d5
  }

  llm d5 {
    prompt "Side 5"
    output {
      ok: bool
    }
    -> c6
  }

  llm c6 {
    prompt "Stage 6"
    output {
      ok: bool
    }
    when c6.ok -> c7
    -> d6
  }

  llm d6 {
    prompt "Side 6"
    output {
      ok: bool
    }
    -> c7
  }

  llm c7 {
    prompt "Stage 7"
    output {
      ok: bool
    }
    when c7.ok -> c8
    -> d7
  }

  llm d7 {
    prompt "Side 7"
    output {
      ok: bool
    }
    -> c8
  }

  llm c8 {
    prompt "Stage 8"
    output {
      ok: bool
    }
    when c8.ok -> c9
    -> d8
  }

  llm d8 {
    prompt "Side 8"
    output {
      ok: bool
    }
    -> c9
  }

  llm c9 {
    prompt "Stage 9"
    output {
      ok: bool
    }
    when c9.ok -> c10
    -> d9
  }

  llm d9 {
    prompt "Side 9"
    output {
      ok: bool
    }
    -> c10
  }

  llm c10 {
    prompt "Stage 10"
    output {
      ok: bool
    }
    when c10.ok -> c11
    -> d10
  }

  llm d10 {
    prompt "Side 10"
    output {
      ok: bool
    }
    -> c11
  }

  llm c11 {
    prompt "Stage 11"
    output {
      ok: bool
    }
    -> done
  }
}
