# bash completion for ecl: commands, options, workflow ids (from `ecl list`) and run ids (from
# `ecl runs`), asked of the database a --db on the line names. A program built on ecl_main
# has the same command line: `complete -F _ecl myapp` completes it too.

# The workflow ids, or the run ids, of the program in $1 (with its --db arguments after it).
_ecl_workflows()
{
	"$@" list 2>/dev/null | awk 'NR > 1 { print $1 }'
}

_ecl_runs()
{
	"$@" runs --limit 200 2>/dev/null | awk 'NR > 1 { print $1 }'
}

_ecl()
{
	local cur prev cmd="" first="" i
	local -a prog
	COMPREPLY=()
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=""
	((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
	prog=("${COMP_WORDS[0]}")
	local commands="list run resume status pause cancel runs history fork recover prune stats batch worker workers providers answer graph serve help"
	local globals="--db --provider --script --model --base-url --api-key-file --api-key --timeout --connect-timeout --durability --max-answer-bytes --log-format --otlp --trace-content --verbose --help --version"

	# The command, its first argument, and the database to ask.
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		--db)
			prog+=(--db "${COMP_WORDS[i + 1]}")
			((i++))
			;;
		--provider | --script | --model | --base-url | --api-key-file | --api-key | --timeout | \
			--connect-timeout | --durability | --max-answer-bytes | --log-format | --otlp | --call-log | \
			--workflow | --concurrency | -j | --format | -f | -o | --output | --status | --limit | \
			--older-than | --since | --from | --set | --input-file | --port | --bind | --register | \
			--advertise | --engine | --restate-url | --admin-url | --workflows | --poll | --lease)
			((i++))
			;;
		-*) ;;
		*)
			if [[ -z $cmd ]]; then
				cmd=${COMP_WORDS[i]}
			elif [[ -z $first ]]; then
				first=${COMP_WORDS[i]}
			fi
			;;
		esac
	done

	case $prev in
	--db | --script | --api-key-file | --input-file | --call-log)
		COMPREPLY=($(compgen -f -- "$cur"))
		return
		;;
	--provider)
		COMPREPLY=($(compgen -W "offline scripted openai anthropic ollama" -- "$cur"))
		return
		;;
	--durability)
		COMPREPLY=($(compgen -W "full normal" -- "$cur"))
		return
		;;
	--log-format)
		COMPREPLY=($(compgen -W "pretty compact json" -- "$cur"))
		return
		;;
	--format | -f)
		COMPREPLY=($(compgen -W "mermaid dot json" -- "$cur"))
		return
		;;
	-o | --output)
		COMPREPLY=($(compgen -W "text json" -- "$cur"))
		return
		;;
	--engine)
		COMPREPLY=($(compgen -W "local restate" -- "$cur"))
		return
		;;
	--workflow | --workflows)
		COMPREPLY=($(compgen -W "$(_ecl_workflows "${prog[@]}")" -- "$cur"))
		return
		;;
	--status)
		COMPREPLY=($(compgen -W "running waiting interrupted paused queued completed failed cancelled" -- "$cur"))
		return
		;;
	esac

	if [[ -z $cmd ]]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "$globals" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$commands" -- "$cur"))
		fi
		return
	fi
	case $cmd in
	help)
		[[ -z $first ]] && COMPREPLY=($(compgen -W "$commands" -- "$cur"))
		;;
	run | graph)
		if [[ -z $first && $cur != -* ]]; then
			COMPREPLY=($(compgen -W "$(_ecl_workflows "${prog[@]}")" -- "$cur"))
		elif [[ $cmd == run && -n $first && $cur == -* ]]; then
			# The workflow's inputs, as `run WORKFLOW --help` lists them.
			COMPREPLY=($(compgen -W "$("${prog[@]}" run "$first" --help 2>/dev/null |
				awk '$1 ~ /^--/ { print $1 }') --set --input-file --help" -- "$cur"))
		fi
		;;
	resume | status | pause | cancel | history | fork | answer)
		if [[ -z $first && $cur != -* ]]; then
			COMPREPLY=($(compgen -W "$(_ecl_runs "${prog[@]}")" -- "$cur"))
		fi
		;;
	worker)
		[[ $cur == -* ]] && COMPREPLY=($(compgen -W "--concurrency --workflows --poll --lease --exit-when-idle --help" -- "$cur"))
		;;
	workers)
		[[ $cur == -* ]] && COMPREPLY=($(compgen -W "-o --help" -- "$cur"))
		;;
	batch)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "--workflow --concurrency --help" -- "$cur"))
		else
			COMPREPLY=($(compgen -f -- "$cur"))
		fi
		;;
	esac
}

complete -F _ecl ecl
