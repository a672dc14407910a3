# shellcheck shell=bash disable=SC2034,SC2154
# Shared by multiuser-test and container-test (sourced, not run): test users, a private broker
# running as the broker user, starting the example programs as a given user, waiting with
# time limits, PASS/FAIL reporting, and a clean-up that always runs.
#
# The caller sets `mu_name` and then calls, in order:
#   mu_init BROKER CTL TALKER LISTENER LIBAGNOCAST   root check (else exit 77), lock, users,
#                                                   copies of the programs, clean-up trap
#   mu_start_broker                                 broker as user agntest, AGNOCAST_SOCKET set
#
# Environment knobs (see README.md):
#   MULTIUSER_SAME_USER=1    bob's roles run as agntest-alice (a self-check of the scripts'
#                            mechanics that does not depend on cross-user delivery)
#   MULTIUSER_SAME_USER=all  as 1, and the broker runs as agntest-alice (primary group agntest)
#   MULTIUSER_KEEP_GOING=1   report every check instead of stopping at the first failure
#   MULTIUSER_KEEP_RUNDIR=1  keep the run directory (logs, outputs) for inspection
#   AGNOCAST_TEST_WINDOW_BASE  passed to the broker as --window-base (sanitizer runs)
#   AGNOCAST_LOG_LEVEL       the clients' log level (default here: warning)

MU_GROUP=agntest          # the broker's group: members may connect to its socket
MU_BROKER_USER=agntest
MU_ALICE=agntest-alice    # members of MU_GROUP
MU_BOB=agntest-bob
MU_EVE=agntest-eve        # not a member

mu_t0=$SECONDS
mu_failed=0
mu_pids=()          # children we started and have not reaped yet (safe to signal: no reuse)
mu_broker_pid=
mu_run=
mu_bin=
mu_lock_fd=

say() { printf '[%3ds] %s\n' $((SECONDS - mu_t0)) "$*"; }
pass() { say "PASS: $*"; }
# fail MESSAGE [EVIDENCE-LINE...]: stops the test (exit 1) unless MULTIUSER_KEEP_GOING=1.
fail() {
    local line
    say "FAIL: $1"
    shift
    for line in "$@"; do
        printf '%s\n' "$line" | sed 's/^/        | /'
    done
    mu_failed=$((mu_failed + 1))
    [ "${MULTIUSER_KEEP_GOING:-0}" = 1 ] || exit 1
}
# show LABEL FILE [LINES]: a file's last lines, as evidence for fail.
show() {
    local label=$1 file=$2 n=${3:-15}
    if [ -s "$file" ]; then
        printf -- '--- %s (%s, last %s lines):\n' "$label" "${file##*/}" "$n"
        tail -n "$n" "$file" | sed 's/^/  /'
    else
        printf -- '--- %s: (empty)\n' "$label"
    fi
}
skip() {
    echo "SKIP: $*"
    exit 77
}

# --- processes -----------------------------------------------------------------------------

mu_untrack() {
    local p keep=()
    for p in "${mu_pids[@]}"; do
        [ "$p" = "$1" ] || keep+=("$p")
    done
    mu_pids=("${keep[@]}")
}

# Time limits are deadlines on the wall clock (microseconds), not counted sleeps: on a loaded
# machine a loop turn takes much longer than its sleep.
now_us() { echo "${EPOCHREALTIME/./}"; }
# deadline SECONDS: the time SECONDS from now, for `before`.
deadline() { echo $((${EPOCHREALTIME/./} + $1 * 1000000)); }
before() { [ "${EPOCHREALTIME/./}" -lt "$1" ]; }

# alive PID: running (not a zombie, not gone). kill -0 succeeds on zombies, so read the state
# (without forking: these run in polling loops).
alive() {
    local line st
    { read -r line <"/proc/$1/stat"; } 2>/dev/null || return 1
    st=${line##*) }
    st=${st%% *}
    [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# wait_exit PID SECONDS: reaps PID if it ends in time (status in RC, returns 0), else returns 1
# and leaves it running.
wait_exit() {
    local pid=$1 end
    end=$(deadline "$2")
    while alive "$pid" && before "$end"; do
        sleep 0.05
    done
    alive "$pid" && return 1
    wait "$pid"
    RC=$?
    mu_untrack "$pid"
    return 0
}

# stop PID [SIGNAL] [SECONDS]: signal (default INT), wait; SIGKILL if it does not end in time.
# RC: its exit status, or "timeout" if it had to be killed.
stop() {
    local pid=$1 sig=${2:-INT} secs=${3:-10}
    kill "-$sig" "$pid" 2>/dev/null
    if ! wait_exit "$pid" "$secs"; then
        kill -9 "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        mu_untrack "$pid"
        RC=timeout
    fi
}

# The user a role runs as: with MULTIUSER_SAME_USER, bob's roles run as alice.
mu_user() {
    if [ "$1" = "$MU_BOB" ] && [ "${MULTIUSER_SAME_USER:-0}" != 0 ]; then
        echo "$MU_ALICE"
    else
        echo "$1"
    fi
}

# start_as USER OUT ERR PROGRAM ARGS...: runs PROGRAM as USER (primary group: the user's own,
# supplementary groups from /etc/group) in the background; LAST_PID is its pid (setpriv execs,
# so it is the program's own pid).
start_as() {
    local user=$1 out=$2 err=$3
    shift 3
    setpriv --reuid="$user" --regid="$(id -gn "$user")" --init-groups -- "$@" >"$out" 2>"$err" &
    LAST_PID=$!
    mu_pids+=("$LAST_PID")
}

# ctl ARGS...: agnocastctl as alice (a member), with a time limit; stdout is the reply.
ctl() {
    timeout 20 setpriv --reuid="$MU_ALICE" --regid="$(id -gn "$MU_ALICE")" --init-groups -- \
        "$mu_bin/agnocastctl/agnocastctl" "$@"
}

# json EXPR: evaluates a Python expression on the JSON document `d` read from stdin.
json() {
    "$MU_PYTHON" -c '
import json, sys
try:
    d = json.load(sys.stdin)
    print(eval(sys.argv[1]))
except Exception as e:
    print("unparseable JSON: %s" % e, file=sys.stderr)
    sys.exit(3)' "$1"
}

# registered TOPIC publishers|subscriptions: how many the broker lists on TOPIC.
registered() {
    ctl list-topics --json 2>/dev/null |
        json "sum(t['$2'] for t in d['topics'] if t['name'] == '$1')" 2>/dev/null || echo 0
}

# wait_registered TOPIC publishers|subscriptions SECONDS
wait_registered() {
    local end
    end=$(deadline "$3")
    while before "$end"; do
        [ "$(registered "$1" "$2")" -ge 1 ] 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

# listed_pids: the pids `agnocastctl list-processes --json` (as alice) lists, space-separated.
listed_pids() {
    ctl list-processes --json | json "' '.join(str(p['pid']) for p in d['processes'])"
}

# wait_unlisted SECONDS [PID...]: until none of the PIDs (no PID: no process at all) is listed.
wait_unlisted() {
    local end pids p hit
    end=$(deadline "$1")
    shift
    while :; do
        pids=" $(listed_pids 2>/dev/null) "
        hit=0
        if [ $# -eq 0 ]; then
            [ -n "${pids// /}" ] && hit=1
        else
            for p in "$@"; do
                [[ $pids == *" $p "* ]] && hit=1
            done
        fi
        [ $hit -eq 0 ] && return 0
        before "$end" || return 1
        sleep 0.1
    done
}

# check_listener LABEL JSONFILE COUNT [EVIDENCE...]: received == COUNT, missed == 0,
# corrupt == 0; on failure the EVIDENCE lines are shown too.
check_listener() {
    local label=$1 file=$2 count=$3 out r m c
    shift 3
    out=$(grep '^{' "$file" | tail -1)
    read -r r m c < <(json "d['received'], d['missed'], d['corrupt']" <<<"$out" 2>/dev/null | tr -d '(),')
    if [ "$r" = "$count" ] && [ "$m" = 0 ] && [ "$c" = 0 ]; then
        pass "$label: received $r of $count, missed 0, corrupt 0"
        return 0
    fi
    fail "$label: expected received $count, missed 0, corrupt 0; got received ${r:-?}, missed ${m:-?}, corrupt ${c:-?}" \
        "listener JSON: ${out:-(none)}" "$@"
    return 1
}

# rss_shmem_kb PID: shared memory the process has touched (its own segment and every peer's
# segment it read); a reader's value passing one message's size means it has read a message.
rss_shmem_kb() {
    local key value rest
    while read -r key value rest; do
        [ "$key" = RssShmem: ] && { echo "$value"; return 0; }
    done 2>/dev/null <"/proc/$1/status"
    return 1
}

shmem_kb() { sed -n 's/^Shmem:[[:space:]]*\([0-9]*\) kB/\1/p' /proc/meminfo; }

# --- what may be left behind -----------------------------------------------------------------
# Only names owned by the test users count (and are removed at clean-up): other test runs on a
# shared machine may have their own agnocast* names in /dev/shm at the same time.

mu_uid_expr() {
    local u first=1
    MU_UID_EXPR=('(')
    for u in "$MU_BROKER_USER" "$MU_ALICE" "$MU_BOB" "$MU_EVE"; do
        [ $first -eq 1 ] || MU_UID_EXPR+=(-o)
        MU_UID_EXPR+=(-uid "$(id -u "$u")")
        first=0
    done
    MU_UID_EXPR+=(')')
}

# shm_leftovers [DIR]: "name (owner, bytes)" per agnocast* entry of a test user in DIR
# (default /dev/shm).
shm_leftovers() {
    find "${1:-/dev/shm}" -mindepth 1 -maxdepth 1 -name 'agnocast*' "${MU_UID_EXPR[@]}" \
        -printf '%f (%u, %s bytes)\n' 2>/dev/null | sort
}

# mq_leftovers list|delete: new_publisher* message queues of a test user in this IPC namespace.
# /dev/mqueue is often not mounted: the mqueue file system is then mounted in a private mount
# namespace (it shows the queues of the IPC namespace of whoever mounts it).
mq_leftovers() {
    local action=(-printf '%f (%u)\n')
    [ "${1:-}" = delete ] && action=(-print -delete)
    if mountpoint -q /dev/mqueue 2>/dev/null; then
        find /dev/mqueue -mindepth 1 -maxdepth 1 -name 'new_publisher*' "${MU_UID_EXPR[@]}" \
            "${action[@]}" 2>/dev/null | sort
    else
        unshare --mount --propagation private -- sh -c \
            'mount -t mqueue mqueue "$1" && shift && find "$@"' sh "$mu_run/mq" \
            "$mu_run/mq" -mindepth 1 -maxdepth 1 -name 'new_publisher*' "${MU_UID_EXPR[@]}" \
            "${action[@]}" 2>/dev/null | sort
    fi
}

# --- set-up and clean-up ---------------------------------------------------------------------

mu_ensure_group() { getent group "$1" >/dev/null || groupadd --system "$1"; }

# mu_ensure_user NAME PRIMARY-GROUP [SUPPLEMENTARY-GROUP]
mu_ensure_user() {
    local name=$1 primary=$2 extra=${3:-} g
    mu_ensure_group "$primary" || return 1
    if ! getent passwd "$name" >/dev/null; then
        useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
            --gid "$primary" "$name" || return 1
    fi
    [ "$(id -gn "$name")" = "$primary" ] || usermod --gid "$primary" "$name" || return 1
    # Supplementary groups: exactly EXTRA among our test groups.
    for g in $(id -Gn "$name"); do
        [ "$g" = "$primary" ] || [ "$g" = "$extra" ] || gpasswd -d "$name" "$g" >/dev/null || return 1
    done
    if [ -n "$extra" ] && ! id -Gn "$name" | tr ' ' '\n' | grep -qx "$extra"; then
        usermod -a -G "$extra" "$name" || return 1
    fi
}

mu_cleanup() {
    local rc=$? p left
    set +e
    trap - EXIT INT TERM
    for p in "${mu_pids[@]}"; do
        kill -9 "$p" 2>/dev/null
    done
    for p in "${mu_pids[@]}"; do
        wait "$p" 2>/dev/null
    done
    mu_pids=()
    if [ -n "$mu_broker_pid" ]; then
        kill -TERM "$mu_broker_pid" 2>/dev/null
        for _ in $(seq 50); do alive "$mu_broker_pid" || break; sleep 0.1; done
        kill -9 "$mu_broker_pid" 2>/dev/null
        wait "$mu_broker_pid" 2>/dev/null
        mu_broker_pid=
    fi
    if [ ${#MU_UID_EXPR[@]} -gt 0 ] && [ -n "$mu_run" ]; then
        left=$(shm_leftovers /dev/shm)
        if [ -n "$left" ]; then
            echo "clean-up: removing what the test users left in /dev/shm:"
            sed 's/^/    /' <<<"$left"
            find /dev/shm -mindepth 1 -maxdepth 1 -name 'agnocast*' "${MU_UID_EXPR[@]}" -delete
        fi
        left=$(mq_leftovers delete)
        [ -z "$left" ] || { echo "clean-up: removed the test users' message queues:"; sed 's/^/    /' <<<"$left"; }
    fi
    if [ -n "$mu_run" ]; then
        if [ "${MULTIUSER_KEEP_RUNDIR:-0}" = 1 ]; then
            echo "run directory kept: $mu_run"
        else
            rm -rf "$mu_run"
        fi
    fi
    [ -n "$mu_bin" ] && rm -rf "$mu_bin"
    if [ "$rc" -eq 0 ] && [ "$mu_failed" -gt 0 ]; then
        rc=1
    fi
    if [ "$rc" -eq 0 ]; then
        say "$mu_name: all checks passed"
    else
        say "$mu_name: FAILED (exit $rc)"
    fi
    exit "$rc"
}

mu_init() {
    local broker=$1 ctl=$2 talker=$3 listener=$4 lib=$5 tool
    [ "$(id -u)" -eq 0 ] || skip "$mu_name needs root (it creates test users and runs programs as them); run the test suite as root to include it"
    for tool in setpriv useradd groupadd usermod gpasswd unshare python3 timeout flock mountpoint; do
        command -v "$tool" >/dev/null || skip "$mu_name needs $tool"
    done
    for tool in "$broker" "$ctl" "$talker" "$listener" "$lib"; do
        [ -f "$tool" ] || { echo "FAIL: $tool is missing (build the tree first)"; exit 1; }
    done
    case ${MULTIUSER_SAME_USER:-0} in
    0 | 1 | all) ;;
    *) echo "FAIL: MULTIUSER_SAME_USER must be 0, 1 or all"; exit 1 ;;
    esac
    # The system's own python3 when there is one: a version manager's shim costs 0.5 s a call.
    MU_PYTHON=$(command -v /usr/bin/python3 || command -v python3)
    MU_UID_EXPR=()
    # bash reports every background job that a signal ended ("line N: PID Killed ..."): the
    # kills are on purpose, so keep those reports out of the test log.
    exec 2> >(grep --line-buffered -v -E 'line [0-9]+: +[0-9]+ (Killed|Interrupt|Terminated) ' >&2)
    trap mu_cleanup EXIT
    trap 'exit 143' TERM
    trap 'exit 130' INT
    # One run at a time on this machine: the test users and their /dev/shm names are shared.
    exec {mu_lock_fd}>/tmp/agnocast-multiuser.lock
    flock -w 120 "$mu_lock_fd" || { echo "FAIL: another multi-user test run holds /tmp/agnocast-multiuser.lock"; exit 1; }

    mu_ensure_user "$MU_BROKER_USER" "$MU_GROUP" &&
        mu_ensure_user "$MU_ALICE" "$MU_ALICE" "$MU_GROUP" &&
        mu_ensure_user "$MU_BOB" "$MU_BOB" "$MU_GROUP" &&
        mu_ensure_user "$MU_EVE" "$MU_EVE" ||
        { echo "FAIL: cannot create the test users and groups"; exit 1; }
    say "users: $(id "$MU_BROKER_USER")"
    say "       $(id "$MU_ALICE")"
    say "       $(id "$MU_BOB")"
    say "       $(id "$MU_EVE")"
    mu_uid_expr
    mu_run=$(mktemp -d /tmp/agnocast-mu-run.XXXXXX)
    chmod 0755 "$mu_run"
    mkdir "$mu_run/mq"

    # The build tree may sit where the test users cannot reach it: copies in a world-readable
    # directory, laid out so that the examples' RUNPATH ($ORIGIN/../libagnocast) still works.
    mu_bin=$(mktemp -d /tmp/agnocast-mu-bin.XXXXXX)
    chmod 0755 "$mu_bin"
    mkdir -p "$mu_bin/agnocastd" "$mu_bin/agnocastctl" "$mu_bin/examples" "$mu_bin/libagnocast"
    cp "$broker" "$mu_bin/agnocastd/agnocastd" &&
        cp "$ctl" "$mu_bin/agnocastctl/agnocastctl" &&
        cp "$talker" "$mu_bin/examples/talker" &&
        cp "$listener" "$mu_bin/examples/listener" &&
        chmod -R a+rX "$mu_bin" || { echo "FAIL: cannot copy the programs to $mu_bin"; exit 1; }
    for tool in "$(dirname "$lib")"/libagnocast.so*; do
        [ -f "$tool" ] || continue # libagnocast.so.0.1.0.p is a directory
        cp -L "$tool" "$mu_bin/libagnocast/" && chmod a+r "$mu_bin/libagnocast/${tool##*/}" ||
            { echo "FAIL: cannot copy $tool to $mu_bin"; exit 1; }
    done
    MU_TALKER=$mu_bin/examples/talker
    MU_LISTENER=$mu_bin/examples/listener
    unset AGNOCAST_SOCKET
    # The clients' own warnings (a segment they cannot map, a peer they cannot announce to)
    # are the evidence when a check fails; they change nothing else.
    export AGNOCAST_LOG_LEVEL=${AGNOCAST_LOG_LEVEL:-warning}
}

# mu_start_broker: the broker as user agntest, group agntest (with MULTIUSER_SAME_USER=all: as
# alice, group agntest), socket mode 0660 in a directory everyone can search.
mu_start_broker() {
    local user=$MU_BROKER_USER args end
    [ "${MULTIUSER_SAME_USER:-0}" = all ] && user=$MU_ALICE
    MU_SOCKDIR=$mu_run/sock
    mkdir "$MU_SOCKDIR"
    chown "$user:$MU_GROUP" "$MU_SOCKDIR"
    chmod 0755 "$MU_SOCKDIR"
    MU_SOCK=$MU_SOCKDIR/agnocast.sock
    MU_BROKER_LOG=$mu_run/broker.log
    args=(--socket "$MU_SOCK" --socket-mode 0660)
    [ -n "${AGNOCAST_TEST_WINDOW_BASE:-}" ] && args+=(--window-base "$AGNOCAST_TEST_WINDOW_BASE")
    setpriv --reuid="$user" --regid="$MU_GROUP" --init-groups -- \
        "$mu_bin/agnocastd/agnocastd" "${args[@]}" >"$MU_BROKER_LOG" 2>&1 &
    mu_broker_pid=$!
    end=$(deadline 10)
    while before "$end"; do
        [ -S "$MU_SOCK" ] && break
        alive "$mu_broker_pid" || break
        sleep 0.05
    done
    if ! [ -S "$MU_SOCK" ] || ! alive "$mu_broker_pid"; then
        fail "the broker did not start as $user" "$(cat "$MU_BROKER_LOG")"
    fi
    export AGNOCAST_SOCKET=$MU_SOCK
    say "broker: pid $mu_broker_pid as $user:$MU_GROUP, socket $MU_SOCK ${args[*]:4}"
    local perms
    perms=$(stat -c '%U:%G %a' "$MU_SOCK")
    if [ "$perms" = "$user:$MU_GROUP 660" ]; then
        pass "broker socket is $perms (owner:group mode), directory $(stat -c '%U:%G %a' "$MU_SOCKDIR")"
    else
        fail "broker socket should be $user:$MU_GROUP 660, is $perms"
    fi
}

# mu_stop_broker: SIGTERM; the broker must exit 0 within 5 s.
mu_stop_broker() {
    local pid=$mu_broker_pid
    stop "$pid" TERM 5
    mu_broker_pid=
    if [ "$RC" = 0 ]; then
        pass "broker exited cleanly on SIGTERM"
    else
        fail "broker exit status on SIGTERM: $RC" "$(tail -5 "$MU_BROKER_LOG")"
    fi
}
