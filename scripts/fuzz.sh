#!/usr/bin/env bash
# Fuzzes every reader of a user's file (tests/fuzz_readers.rs) for SECONDS seconds each
# (default 600), one reader at a time, and prints the cases each ran. The whole output,
# failures with their minimal inputs included, is kept in target/fuzz.log.
# Usage: scripts/fuzz.sh [SECONDS]
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p target
IMCNAS_FUZZ_SECONDS="${1:-600}" cargo test --test fuzz_readers -- --test-threads=1 --nocapture \
  > target/fuzz.log 2>&1
status=$?
grep -E "cases in [0-9]+ s|FAILED|test result|Test failed|minimal failing input" target/fuzz.log
[ "$status" -eq 0 ] || echo "failures: see target/fuzz.log"
exit "$status"
