#!/usr/bin/env bash
# Fuzzes every reader of a user's file (tests/fuzz_readers.rs) for SECONDS seconds each
# (default 600), one reader at a time, and prints the cases each ran.
# Usage: scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
IMCNAS_FUZZ_SECONDS="${1:-600}" cargo test --test fuzz_readers -- --test-threads=1 --nocapture 2>&1 \
  | grep -E "^fuzz |^test |test result"
