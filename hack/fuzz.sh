#!/usr/bin/env bash
# fuzz.sh DURATION: run every Fuzz* target in the module for DURATION each.
set -euo pipefail
fuzztime=${1:-10s}
status=0
while IFS= read -r file; do
  pkg=./$(dirname "$file")
  for target in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)' "$file" | awk '{print $2}'); do
    echo "fuzz: $pkg $target ($fuzztime)"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" || status=1
  done
done < <(git ls-files '*_test.go' | xargs grep -l '^func Fuzz' || true)
exit $status
