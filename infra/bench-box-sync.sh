#!/usr/bin/env bash
# Benchmark of the Box sync: now infra/bench-sync.sh for Box (docs/benchmarks.md), which runs a
# first sync and an unchanged re-sync of a generated N-user sandbox tenant (default 100 000) in
# a long and a short invocation mode, with provider and DynamoDB counts and their floors.
#   infra/bench-box-sync.sh [USERS] [LATENCY_MS]
# (tests/e2e/src/bin/bench_box_sync.rs, the old driver, still prints a task table for one run.)
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/bench-sync.sh" box "${1:-100000}" "${2:-0}"
