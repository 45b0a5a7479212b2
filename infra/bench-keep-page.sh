#!/usr/bin/env bash
# The keep page's cold start (infra/bench-keep-page.py): builds the oauth-callback release
# bootstrap as Lambda runs it, starts moto with a table, and prints cold / warm page times of the
# keep page next to a page with no I/O.
#   infra/bench-keep-page.sh [RUNS]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$SK_ROOT"
bash infra/setup.sh
use_venv_path
TARGET_DIR="${CARGO_TARGET_DIR:-$SK_ROOT/target}"
log "cargo lambda build --release --x86-64 --bin oauth-callback (the local architecture)"
cargo lambda build --release --x86-64 --bin oauth-callback
cargo build -q --bin seatctl
start_moto
export TABLE_NAME="seatkeeper-bench-keep-$RANDOM"
"$TARGET_DIR/debug/seatctl" table create >/dev/null
python3 infra/bench-keep-page.py "$TARGET_DIR/lambda/oauth-callback/bootstrap" "${1:-7}"
