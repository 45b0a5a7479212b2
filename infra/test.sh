#!/usr/bin/env bash
# Runs the whole test suite: setup.sh, then one moto server on a free loopback port, then
# `cargo nextest run --workspace` (each test its own process, in parallel, all against that moto
# server through AWS_ENDPOINT_URL; tests use unique table / secret / queue names).
# Extra arguments go to nextest, e.g. `infra/test.sh -E 'test(sync)'`.
# Exits with nextest's status; moto is stopped on exit.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$SK_ROOT"

bash "$SK_ROOT/infra/setup.sh"
use_venv_path
start_moto

log "cargo nextest run --workspace --no-fail-fast $*"
status=0
cargo nextest run --workspace --no-fail-fast "$@" || status=$?
log "nextest exited with $status"
exit "$status"
