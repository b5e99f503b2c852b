#!/usr/bin/env bash
# Runs every fuzz target (or the ones named) for a bounded time each, then
# prints executions, executions per second and crashes per target.
#
#   fuzz/run.sh                    # every target, 60 s each
#   FUZZ_SECONDS=300 fuzz/run.sh template rules
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). On a stable toolchain the
# sanitizer flags need RUSTC_BOOTSTRAP=1, set here; FUZZ_SANITIZER=none turns
# AddressSanitizer off (faster, still catches panics, overflows and hangs).
# The seeds in fuzz/corpus/<target> stay as committed: new inputs go to
# fuzz/work/<target>, crashes to fuzz/artifacts/<target>, logs to fuzz/logs.
# FUZZ_PARALLEL=1 runs every target at once (each for FUZZ_SECONDS of wall
# clock), FUZZ_NICE=N lowers their priority below other work on the machine.
set -euo pipefail
cd "$(dirname "$0")"

seconds="${FUZZ_SECONDS:-60}"
sanitizer="${FUZZ_SANITIZER:-address}"
parallel="${FUZZ_PARALLEL:-0}"
niceness="${FUZZ_NICE:-0}"
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  mapfile -t targets < <(cargo fuzz list)
fi

cargo fuzz build -O --debug-assertions -s "$sanitizer"

mkdir -p logs

# One target: runs it, then prints its line of the table.
run_one() {
  local t=$1 log="logs/$1.log" result
  mkdir -p "work/$t" "artifacts/$t"
  # -timeout: one input taking over 10 s is a hang, reported as a crash.
  if nice -n "$niceness" cargo fuzz run -O --debug-assertions -s "$sanitizer" "$t" "work/$t" "corpus/$t" -- \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      >"$log" 2>&1; then
    result=ok
  else
    result="CRASH (see $log and artifacts/$t)"
  fi
  local execs rate took
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
  printf '%-18s %12s %10s %8s %s\n' "$t" "${execs:-?}" "${rate:-?}" "${took:-$seconds}" "$result"
  [ "$result" = ok ]
}

printf '%-18s %12s %10s %8s %s\n' target execs execs/s seconds result
failed=0
if [ "$parallel" = 1 ]; then
  # Every target at once, for the same wall-clock time: on a shared machine
  # the targets split the cores, so compare executions, not seconds.
  pids=()
  for t in "${targets[@]}"; do run_one "$t" & pids+=($!); done
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
else
  for t in "${targets[@]}"; do run_one "$t" || failed=1; done
fi
exit "$failed"
