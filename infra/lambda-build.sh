#!/usr/bin/env bash
# Release build of every function as AWS deploys it: `cargo lambda build --release` (cargo-lambda and
# zig from the venv, no Docker) with zip output, then each function's zip and bootstrap size.
# arm64 (the template's default) when the aarch64-unknown-linux-gnu Rust target is installed,
# else x86_64 (a fresh machine without network access to static.rust-lang.org cannot add it).
# Usage: infra/lambda-build.sh [--arm64|--x86-64]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$SK_ROOT"
use_venv_path

FUNCTIONS=(box-sync dropbox-sync sync-dispatcher reclaim oauth-callback)
arch="${1:-}"
if [ -z "$arch" ]; then
    if rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
        arch=--arm64
    else
        arch=--x86-64
        log "aarch64-unknown-linux-gnu is not installed (rustup target add aarch64-unknown-linux-gnu); building x86_64"
    fi
fi
bins=()
for f in "${FUNCTIONS[@]}"; do bins+=(--bin "$f"); done
log "cargo lambda build --release $arch --output-format zip ${bins[*]}"
t0=$SECONDS
cargo lambda build --release "$arch" --output-format zip "${bins[@]}"
log "built in $((SECONDS - t0)) s"
printf '%-16s %12s %14s\n' function "zip (bytes)" "bootstrap"
for f in "${FUNCTIONS[@]}"; do
    zip="target/lambda/$f/bootstrap.zip"
    [ -f "$zip" ] || die "missing $zip"
    unzipped="$(python3 -c 'import sys,zipfile; print(sum(i.file_size for i in zipfile.ZipFile(sys.argv[1]).infolist()))' "$zip")"
    printf '%-16s %12s %14s\n' "$f" "$(stat -c %s "$zip")" "$unzipped"
done
