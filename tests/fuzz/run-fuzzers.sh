#!/usr/bin/env bash
# Runs every libFuzzer harness of a clang build for a fixed time with its seed
# corpus (issue 6, docs/reliability.md).
#
#   tests/fuzz/run-fuzzers.sh BUILD_DIR [SECONDS_PER_TARGET] [TARGET...]
#
# BUILD_DIR is a clang build (CC=clang meson setup ...) in which
# tests/fuzz/fuzz-<target> exist. New inputs go to a temporary working corpus,
# never into the source tree. Prints one line per target with the executions run
# and the corpus size; a crash, leak or timeout leaves its input in
# BUILD_DIR/fuzz-artifacts/<target>/ (to be added to tests/fuzz/regressions/<target>/
# once fixed) and makes the script exit 1. The last line is
# "fuzz: N executions, N crashes".
set -uo pipefail

build=${1:?usage: run-fuzzers.sh BUILD_DIR [SECONDS] [TARGET...]}
seconds=${2:-20}
shift $(( $# >= 2 ? 2 : 1 ))
src=$(cd "$(dirname "$0")" && pwd)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(safetensors experiment csv npy npz event)

# the grown corpora stay in BUILD_DIR/fuzz-corpus/<target>/ for a look afterwards
work="$build/fuzz-corpus"
rm -rf "$work"
mkdir -p "$work"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/paramlab-fuzz.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
total=0
crashes=0
status=0
# one JSON line per harness, in the shape of meson's testlog.json (.ci/test counts it)
mkdir -p "$build/meson-logs"
results="$build/meson-logs/fuzzlog.json"
: >"$results"
for t in "${targets[@]}"; do
  exe="$build/tests/fuzz/fuzz-$t"
  if [ ! -x "$exe" ]; then
    echo "fuzz-$t: not built in $build (needs CC=clang)" >&2
    echo "{\"name\": \"libfuzzer/$t\", \"result\": \"FAIL\"}" >>"$results"
    status=1
    continue
  fi
  mkdir -p "$work/$t" "$build/fuzz-artifacts/$t"
  cp "$src/corpus/$t"/* "$work/$t/" 2>/dev/null
  cp "$src/regressions/$t"/* "$work/$t/" 2>/dev/null
  log="$build/fuzz-artifacts/$t.log"
  # leaks count; GLib's one-time allocations stay reachable, so LSan is quiet
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:symbolize=1 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  TMPDIR="$tmp" \
    "$exe" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2560 -max_len=8192 \
      -print_final_stats=1 -artifact_prefix="$build/fuzz-artifacts/$t/" \
      "$work/$t" >"$log" 2>&1
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  execs=${execs:-0}
  size=$(ls "$work/$t" | wc -l)
  total=$((total + execs))
  if [ $rc -ne 0 ]; then
    crashes=$((crashes + 1))
    status=1
    echo "fuzz-$t: FAILED after $execs executions (exit $rc); input in $build/fuzz-artifacts/$t/"
    grep -m1 -E 'ERROR|SUMMARY|Bail out' "$log" | sed 's/^/  /'
    echo "{\"name\": \"libfuzzer/$t\", \"result\": \"FAIL\", \"executions\": $execs}" >>"$results"
  else
    # what the reader made of the grown corpus (the replay build of the harness)
    verdict=""
    if [ -x "$exe-replay" ]; then
      verdict=$(TMPDIR="$tmp" "$exe-replay" "$work/$t" 2>/dev/null | tail -1 | sed 's/.*crash: /: /')
    fi
    echo "fuzz-$t: $execs executions in ${seconds}s, corpus $size inputs$verdict, no crash"
    echo "{\"name\": \"libfuzzer/$t\", \"result\": \"OK\", \"executions\": $execs}" >>"$results"
  fi
done
echo "fuzz: $total executions, $crashes crashes"
exit $status
