#!/bin/bash
# The bash completion of agnocastctl: it parses, completes commands and options, and takes
# topic names from `agnocastctl list-topics --json` (a stand-in function here).
set -u
file=${AGNOCAST_SOURCE_ROOT:?run through meson test}/contrib/bash-completion/agnocastctl
fail=0
check() { # name expected actual
    if [[ $2 != "$3" ]]; then
        echo "FAIL $1: expected '$2', got '$3'"
        fail=1
    else
        echo "ok $1"
    fi
}

bash -n "$file" || { echo "FAIL bash -n $file"; exit 1; }
echo "ok bash -n"
# shellcheck source=/dev/null
source "$file"

agnocastctl() {
    # Checks the completion passes the --socket of the command line on.
    [[ " $* " == *" --socket /tmp/b.sock "* ]] || { echo '{"topics":[]}'; return; }
    # With a bridge: its "bridge" members must not add names.
    echo '{"topics":[{"name":"/camera/front","publishers":1,"subscriptions":2,"bridge":null},{"name":"/chatter","publishers":1,"subscriptions":0,"bridge":{"topic":"/chatter","direction":"out","dds_topic":"rt/chatter"}}],"bridge_status":{"file":"/run/agnocast-bridge/status","pid":1,"running":true,"host":"a"}}'
}

complete_line() { # words...
    COMP_WORDS=("$@")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMPREPLY=()
    _agnocastctl
    echo "${COMPREPLY[*]}"
}

check commands "hz help" "$(complete_line agnocastctl h)"
check after-global-option "watch" "$(complete_line agnocastctl --socket /tmp/b.sock w)"
check echo-options "--count" "$(complete_line agnocastctl echo --cou)"
check watch-options "--interval --iterations" "$(complete_line agnocastctl watch --i)"
check topics "/camera/front /chatter" "$(complete_line agnocastctl --socket /tmp/b.sock hz /)"
check topic-prefix "/chatter" "$(complete_line agnocastctl -s /tmp/b.sock echo /ch)"
check no-topic-for-stats "" "$(complete_line agnocastctl stats /)"
check option-value "" "$(complete_line agnocastctl hz --window '')"
check bridge-option "--bridge-status" "$(complete_line agnocastctl stats --br)"
check topic-after-bridge-status "/chatter" \
    "$(complete_line agnocastctl -s /tmp/b.sock topic-info --bridge-status /nonexistent/st /ch)"
check no-bridge-option-for-rules "" "$(complete_line agnocastctl rules --br)"
exit $fail
