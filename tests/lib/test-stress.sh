#!/usr/bin/env bash
# A publisher at full speed and three subscribers (two callback, one take) verifying every
# pointer, checksum and address, for a bounded time: zero corrupt messages.
set -euo pipefail
broker=$1 talker=$2 listener=$3
seconds=${AGNOCAST_STRESS_SECONDS:-4}
dir=$(mktemp -d /tmp/agnocast-stress-XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$dir"' EXIT
export AGNOCAST_SOCKET=$dir/broker.sock
args=(--socket "$AGNOCAST_SOCKET")
[ -n "${AGNOCAST_TEST_WINDOW_BASE:-}" ] && args+=(--window-base "$AGNOCAST_TEST_WINDOW_BASE")
"$broker" "${args[@]}" 2>"$dir/broker.log" &
pids+=($!)
for _ in $(seq 100); do [ -S "$AGNOCAST_SOCKET" ] && break; sleep 0.05; done

listeners=()
for mode in callback callback take; do
  extra=()
  [ "$mode" = take ] && extra=(--take)
  "$listener" --topic /stress --depth 64 --timeout $((seconds + 2)) --json "${extra[@]}" \
    >"$dir/listener.${#listeners[@]}.json" &
  listeners+=($!)
  pids+=($!)
done
sleep 0.5
"$talker" --topic /stress --rate 0 --size 4096 --depth 64 --linger 0 >"$dir/talker.out" &
talker_pid=$!
pids+=($talker_pid)
sleep "$seconds"
kill -INT "$talker_pid"
wait "$talker_pid"
status=0
for i in "${!listeners[@]}"; do
  wait "${listeners[$i]}" || status=1
  out=$(cat "$dir/listener.$i.json")
  echo "listener $i: $out"
  received=$(sed -n 's/.*"received": \([0-9]*\).*/\1/p' <<<"$out")
  corrupt=$(sed -n 's/.*"corrupt": \([0-9]*\).*/\1/p' <<<"$out")
  [ "${corrupt:-1}" -eq 0 ] || { echo "listener $i saw $corrupt corrupt messages"; status=1; }
  [ "${received:-0}" -ge 1000 ] || { echo "listener $i received only ${received:-0}"; status=1; }
done
cat "$dir/talker.out"
exit $status
