#!/usr/bin/env bash
# Runs every fuzz target in fuzz/fuzz_targets/ for SECONDS each (argument, else $FUZZ_SECONDS,
# else 60), one after another, and prints one line per target: executions, libFuzzer's final
# coverage (`cov:` edges, `ft:` features) and corpus size. `make fuzz` runs it at FUZZ_SECONDS,
# `make fuzz-smoke` (part of `make test`) for a few seconds each, so the targets keep building
# and every seed keeps passing. FUZZ_TARGETS="a b" runs only those.
#
# Stable toolchain with RUSTC_BOOTSTRAP=1 (cargo-fuzz needs `-Z` flags; docs/testing.md), debug
# assertions on (overflow checks included), AddressSanitizer. The committed seeds
# (fuzz/corpus/<target>) are read; what the fuzzer finds goes to fuzz/target/corpus/<target>,
# crashes to fuzz/artifacts/<target>/ (both git-ignored). A crash or a broken property fails
# the run, with the end of the target's log and the command that reproduces it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
seconds=${1:-${FUZZ_SECONDS:-60}}
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null || { echo "cargo-fuzz is missing: run scripts/setup-test.sh" >&2; exit 1; }

targets=${FUZZ_TARGETS:-$(basename -s .rs fuzz/fuzz_targets/*.rs)}
# Which dictionary and longest input each target gets; the body reader's limit for bodies.
dict_for() {
  case $1 in
    authorization | token_hs256 | token_jwks) echo token ;;
    jwks | task_body | list_query) echo "$1" ;;
    cursor) echo list_query ;;
    *) echo headers ;;
  esac
}
max_len_for() {
  case $1 in
    task_body) echo 65536 ;;
    jwks) echo 16384 ;;
    authorization | token_hs256 | token_jwks) echo 8300 ;;
    list_query | cursor) echo 4096 ;;
    *) echo 1024 ;;
  esac
}

fuzz=(cargo +stable fuzz)
build_flags=(--fuzz-dir fuzz --debug-assertions)
echo "fuzz: building $(wc -w <<<"$targets") targets" >&2
mkdir -p fuzz/target/logs
"${fuzz[@]}" build "${build_flags[@]}" >fuzz/target/logs/build.log 2>&1 ||
  { tail -n 40 fuzz/target/logs/build.log >&2; exit 1; }

failed=0
for target in $targets; do
  corpus=fuzz/target/corpus/$target
  log=fuzz/target/logs/$target.log
  mkdir -p "$corpus"
  if "${fuzz[@]}" run "${build_flags[@]}" "$target" "$corpus" "fuzz/corpus/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -dict="fuzz/dicts/$(dict_for "$target").dict" -max_len="$(max_len_for "$target")" >"$log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
    last=$(grep -E '^#[0-9]+' "$log" | grep 'cov:' | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' <<<"$last" | grep -o '[0-9]*' || echo '?')
    ft=$(grep -o 'ft: [0-9]*' <<<"$last" | grep -o '[0-9]*' || echo '?')
    corp=$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' <<<"$last" | cut -d' ' -f2 || echo '?')
    printf 'fuzz %-16s %10s runs in %ss  cov: %-5s ft: %-6s corpus: %s\n' "$target" "$runs" "$seconds" "$cov" "$ft" "$corp"
  else
    failed=1
    echo "fuzz $target FAILED; the end of $log:" >&2
    tail -n 30 "$log" >&2
    echo "reproduce: RUSTC_BOOTSTRAP=1 cargo +stable fuzz run --fuzz-dir fuzz --debug-assertions $target fuzz/artifacts/$target/<file>" >&2
  fi
done
exit "$failed"
