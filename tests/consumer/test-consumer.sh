#!/usr/bin/env bash
# Installs the build into a staging directory and builds tests/consumer/app.c with nothing but
# `cc app.c $(pkg-config --cflags --libs agnocast)`, then runs it against the staged library.
set -euo pipefail
build=$1 src=$2
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
meson install -C "$build" --no-rebuild --destdir "$stage" --quiet >/dev/null
pc=$(find "$stage" -name agnocast.pc | head -n 1)
[ -n "$pc" ] || { echo "agnocast.pc was not installed"; exit 1; }
for f in agnocast.h agnocastd agnocastctl agnocastd.socket agnocastd.service; do
  [ -n "$(find "$stage" -name "$f")" ] || { echo "$f was not installed"; exit 1; }
done
so=$(find "$stage" -name 'libagnocast.so.0' | head -n 1)
[ -n "$so" ] || { echo "libagnocast.so.0 (soname) was not installed"; exit 1; }
objdump -p "$so" | grep -q 'SONAME *libagnocast.so.0' || { echo "wrong soname"; exit 1; }
# Only agnocast_* symbols are exported.
if nm -D --defined-only "$so" | awk '{print $3}' | grep -v '^agnocast_' | grep -v '^AGNOCAST_' | grep -q .; then
  echo "libagnocast.so exports symbols outside agnocast_*:"; nm -D --defined-only "$so" | grep -v ' agnocast_'; exit 1
fi
export PKG_CONFIG_PATH=$(dirname "$pc") PKG_CONFIG_SYSROOT_DIR=$stage
flags=$(pkg-config --cflags --libs agnocast)
cc -Wall -Werror -o "$stage/app" "$src/app.c" $flags
LD_LIBRARY_PATH=$(dirname "$so") AGNOCAST_SOCKET="$stage/none.sock" "$stage/app"
