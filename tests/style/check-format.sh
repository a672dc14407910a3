#!/usr/bin/env bash
# Fails when a C source or header of the project differs from what clang-format makes of it
# with the team's .clang-format. Prints each file that deviates and the command that fixes it.
set -euo pipefail
root=${1:?usage: check-format.sh SOURCE_ROOT}
if ! command -v clang-format >/dev/null; then
  echo "clang-format is not installed: run scripts/install-deps" >&2
  exit 77
fi
cd "$root"
mapfile -t files < <(find agnocastd agnocastctl bench bridge cli examples libagnocast proto shm tests \
                       -type f \( -name '*.c' -o -name '*.h' -o -name '*.hpp' -o -name '*.cpp' \) \
                       -not -path '*/golden/*' | sort)
# One clang-format for all files (one per file takes 20 s); its diagnostics name the files.
mapfile -t bad < <(clang-format --style=file --dry-run -Werror "${files[@]}" 2>&1 |
                   sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: error:.*/\1/p' | sort -u)
echo "clang-format: ${#files[@]} files checked, ${#bad[@]} deviate"
if [ ${#bad[@]} -gt 0 ]; then
  printf '  %s\n' "${bad[@]}"
  echo "fix with: clang-format -i ${bad[*]}"
  exit 1
fi
