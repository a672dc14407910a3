#!/usr/bin/env bash
# Installs the build into a staging directory, checks that a section-3 page answers for every
# function of the installed agnocast.h, and builds tests/consumer/app.c with nothing but
# `cc app.c $(pkg-config --cflags --libs agnocast)`, then runs it against the staged library;
# then links it statically (`cc -static ... $(pkg-config --static ...)`) against libagnocast.a
# and runs that too, without a broker and against the staged agnocastd.
set -euo pipefail
build=$1 src=$2
stage=$(mktemp -d)
broker=
cleanup() {
  if [ -n "$broker" ]; then kill "$broker" 2>/dev/null || true; wait "$broker" 2>/dev/null || true; fi
  rm -rf "$stage"
}
trap cleanup EXIT
meson install -C "$build" --no-rebuild --destdir "$stage" --quiet >/dev/null
pc=$(find "$stage" -name agnocast.pc | head -n 1)
[ -n "$pc" ] || { echo "agnocast.pc was not installed"; exit 1; }
for f in agnocast.h agnocastd agnocastctl agnocastd.socket agnocastd.service libagnocast.a; do
  [ -n "$(find "$stage" -name "$f")" ] || { echo "$f was not installed"; exit 1; }
done
so=$(find "$stage" -name 'libagnocast.so.0' | head -n 1)
[ -n "$so" ] || { echo "libagnocast.so.0 (soname) was not installed"; exit 1; }
objdump -p "$so" | grep -q 'SONAME *libagnocast.so.0' || { echo "wrong soname"; exit 1; }
# Only agnocast_* symbols are exported.
if nm -D --defined-only "$so" | awk '{print $3}' | grep -v '^agnocast_' | grep -v '^AGNOCAST_' | grep -q .; then
  echo "libagnocast.so exports symbols outside agnocast_*:"; nm -D --defined-only "$so" | grep -v ' agnocast_'; exit 1
fi
# The static library offers the same names as the shared one, and nothing else.
ar=$(dirname "$so")/libagnocast.a
[ -f "$ar" ] || { echo "libagnocast.a is not installed beside libagnocast.so"; exit 1; }
dynamic=$(nm -D --defined-only "$so" | awk '$3 !~ /^AGNOCAST_/ {sub(/@.*/, "", $3); print $3}' | sort)
static=$(nm -g --defined-only "$ar" | awk 'NF == 3 {print $3}' | sort)
if [ "$dynamic" != "$static" ]; then
  echo "libagnocast.a and libagnocast.so define different global names:"
  diff <(echo "$dynamic") <(echo "$static") || true
  exit 1
fi
# `man FUNCTION` finds a page for every function the installed header declares.
header=$(find "$stage" -name agnocast.h | head -n 1)
man3=$(dirname "$(find "$stage" -name agnocast_context_new.3 | head -n 1)")
for fn in $("$src/../man/api-functions" -n "$header"); do
  [ -e "$man3/$fn.3" ] || { echo "no manual page $fn.3 was installed (in $man3)"; exit 1; }
done
export PKG_CONFIG_PATH=$(dirname "$pc") PKG_CONFIG_SYSROOT_DIR=$stage
flags=$(pkg-config --cflags --libs agnocast)
cc -Wall -Werror -o "$stage/app" "$src/app.c" $flags
LD_LIBRARY_PATH=$(dirname "$so") AGNOCAST_SOCKET="$stage/none.sock" "$stage/app"

# Statically: Libs.private must name everything libagnocast.a needs.
cc -static -Wall -Werror -o "$stage/app-static" "$src/app.c" $(pkg-config --static --cflags --libs agnocast)
if readelf -d "$stage/app-static" 2>/dev/null | grep -q 'NEEDED'; then
  echo "app-static is not statically linked:"; readelf -d "$stage/app-static" | grep NEEDED; exit 1
fi
AGNOCAST_SOCKET="$stage/none.sock" "$stage/app-static"
agnocastd=$(find "$stage" -name agnocastd -type f | head -n 1)
"$agnocastd" --socket "$stage/b.sock" --state-file "" 2>"$stage/broker.log" &
broker=$!
for _ in $(seq 100); do [ -S "$stage/b.sock" ] && break; sleep 0.05; done
[ -S "$stage/b.sock" ] || { echo "the staged agnocastd did not start:"; cat "$stage/broker.log"; exit 1; }
out=$(AGNOCAST_SOCKET="$stage/b.sock" "$stage/app-static")
[ "$out" = connected ] || { echo "app-static against a broker: $out"; exit 1; }
echo "app-static (no shared libagnocast) connected to the broker"
