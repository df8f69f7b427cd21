# bash completion for dt(1). Source it from ~/.bashrc, or install it as
# /usr/share/bash-completion/completions/dt (loaded on demand by bash-completion).
#
# The command line is dtach's: dt <mode> <socket> [options] [command [args...]]
# Options are -e CHAR, -E, -r METHOD, -z, -R, and -L FILE for a new session, grouped freely
# (-Ez); -e, -r and -L take the next word, whatever it looks like; the first other word (or
# the one after --) is the command.
# A socket without a '/' is a session name: a socket in ${DT_DIR:-${TMPDIR:-/tmp}/dt-$UID}.

# File names (one per line, so names with spaces or glob characters stay whole); readline
# adds the slash after a directory and the quoting. bash-completion's _filedir does the same
# and also handles quotes the user typed, so it is used when it is loaded.
_dt_files() {
  if declare -F _filedir >/dev/null; then
    _filedir
    return
  fi
  compopt -o filenames 2>/dev/null
  mapfile -t COMPREPLY < <(compgen -f -- "$1")
}

# The names of the sessions whose sockets are in the session directory, as dt finds it.
_dt_session_names() {
  local dir=$DT_DIR file
  if [[ -z $dir ]]; then
    dir=/tmp
    [[ $TMPDIR == /* ]] && dir=$TMPDIR
    dir=$dir/dt-$UID
  fi
  for file in "$dir"/*; do
    [[ -S $file && ${file##*/} == "$1"* ]] && printf '%s\n' "${file##*/}"
  done
}

# A socket: with a '/', a path; without, a session name, or a directory to start a path in.
_dt_sockets() {
  if [[ $1 == */* ]]; then
    _dt_files "$1"
    return
  fi
  compopt -o filenames 2>/dev/null
  mapfile -t COMPREPLY < <(_dt_session_names "$1"; compgen -d -- "$1")
}

# Signal names as dt -k accepts them: without the SIG prefix unless the user typed it.
_dt_signals() {
  local name names=()
  for name in $(compgen -A signal); do
    # SIGRTMIN+1 and the like are taken too; SIGJUNK(32) and bash's DEBUG or ERR are not signals.
    [[ $name =~ ^SIG[A-Z0-9]+([+-][0-9]+)?$ ]] || continue
    if [[ ${1^^} == SIG* ]]; then names+=("$name"); else names+=("${name#SIG}"); fi
  done
  COMPREPLY=($(compgen -W "${names[*]}" -- "${1^^}"))
}

_dt() {
  local cur=${COMP_WORDS[COMP_CWORD]}
  local IFS=$' \t\n'
  COMPREPLY=()

  if ((COMP_CWORD == 1)); then
    if [[ $cur == --* ]]; then
      COMPREPLY=($(compgen -W '--help --version' -- "$cur"))
    else
      COMPREPLY=($(compgen -W '-a -A -c -n -N -p -k -w -F -l' -- "$cur"))
    fi
    return 0
  fi

  local mode=${COMP_WORDS[1]}
  case $mode in
    -l)
      local word
      for word in "${COMP_WORDS[@]:2:COMP_CWORD-2}"; do
        [[ $word == --json ]] && return 0
      done
      COMPREPLY=($(compgen -W '--json' -- "$cur"))
      return 0
      ;;
    -F)
      if ((COMP_CWORD == 2)); then
        _dt_sockets "$cur"
        [[ --all == "$cur"* ]] && COMPREPLY+=(--all)
      fi
      return 0
      ;;
    -a | -A | -c | -n | -N | -p | -k | -w) ;;
    *) return 0 ;;
  esac

  # dt -a -R SOCKET: read-only may come before the socket; treat it as if it came after.
  # dt -a alone or with options attaches the only session: options may come first.
  local socket_index=2
  if [[ $mode == -a && ${COMP_WORDS[2]} == -R ]] && ((COMP_CWORD > 2)); then
    socket_index=3
  elif [[ $mode == -a && $cur == -* ]] && ((COMP_CWORD == 2)); then
    COMPREPLY=($(compgen -W '-e -E -r -z -R' -- "$cur"))
    return 0
  fi
  if ((COMP_CWORD == socket_index)); then
    _dt_sockets "$cur"
    return 0
  fi

  case $mode in
    -p | -w) return 0 ;;
    -k)
      ((COMP_CWORD == 3)) && _dt_signals "$cur"
      return 0
      ;;
  esac

  # Walk the options after the socket to find what the current word is: the value of -e,
  # -r or -L, another option, the command, or one of the command's arguments.
  local index=$((socket_index + 1)) word letter command_index=-1
  local pending=() # option letters whose values come in the next words, in order
  while ((index < COMP_CWORD)); do
    word=${COMP_WORDS[index]}
    if ((${#pending[@]} > 0)); then
      pending=("${pending[@]:1}")
    elif [[ $word == -- ]]; then
      command_index=$((index + 1))
      break
    elif [[ $word == -?* ]]; then
      for ((letter = 1; letter < ${#word}; letter++)); do
        case ${word:letter:1} in
          e | r | L) pending+=("${word:letter:1}") ;;
        esac
      done
    else
      command_index=$index
      break
    fi
    ((index++))
  done

  if ((command_index < 0)); then
    if ((${#pending[@]} > 0)); then
      case ${pending[0]} in
        r) COMPREPLY=($(compgen -W 'none ctrl_l winch resize' -- "$cur")) ;;
        L) _dt_files "$cur" ;;
      esac
      return 0 # -e takes any character: nothing to offer
    fi
    if [[ $mode == -a ]]; then
      COMPREPLY=($(compgen -W '-e -E -r -z -R' -- "$cur"))
      return 0
    elif [[ $cur == -* ]]; then
      COMPREPLY=($(compgen -W '-e -E -r -z -R -L' -- "$cur"))
      return 0
    fi
    command_index=$COMP_CWORD
  fi
  [[ $mode == -a ]] && return 0

  # The command and its arguments: bash-completion, when loaded, completes them as if the
  # command had been typed alone; otherwise commands, then readline's default completion.
  if declare -F _command_offset >/dev/null; then
    _command_offset "$command_index"
  elif ((COMP_CWORD == command_index)); then
    if [[ $cur == */* ]]; then
      _dt_files "$cur"
    else
      mapfile -t COMPREPLY < <(compgen -c -- "$cur")
    fi
  else
    compopt -o default 2>/dev/null
    COMPREPLY=()
  fi
  return 0
}

complete -F _dt dt
