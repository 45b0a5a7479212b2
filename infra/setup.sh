#!/usr/bin/env bash
# Prepares a machine for the local stack, the tests and CI. Idempotent and fast when already done.
#   - .venv/ at the repo root with the pinned Python tooling (moto server, cargo-lambda, zig, SAM CLI,
#     cfn-lint); pip is skipped while .venv/.requirements.sha256 matches the requirement files
#   - cargo-nextest (cargo install --locked, only if missing)
#   - rustfmt and clippy components (rustup component add, only if missing)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$SK_ROOT"

# ---- Python venv -----------------------------------------------------------------------------
PYTHON="${PYTHON:-python3}"
stamp="$SK_VENV/.requirements.sha256"
want="$(cat infra/requirements.txt infra/constraints.txt | sha256sum | cut -d' ' -f1)"

if [ -x "$SK_VENV/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    log "python tooling: up to date (.venv)"
else
    if [ ! -x "$SK_VENV/bin/python" ]; then
        command -v "$PYTHON" >/dev/null || die "$PYTHON not found (need CPython >= 3.11)"
        "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
            die "$PYTHON is $("$PYTHON" -V 2>&1); need CPython >= 3.11"
        log "python tooling: creating .venv with $("$PYTHON" -V 2>&1)"
        "$PYTHON" -m venv "$SK_VENV"
    fi
    log "python tooling: installing infra/requirements.txt (first time ~1-2 min)"
    start=$SECONDS
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$SK_VENV/bin/python" -m pip install --quiet --no-input \
        -r infra/requirements.txt -c infra/constraints.txt
    echo "$want" >"$stamp"
    log "python tooling: installed in $((SECONDS - start)) s"
fi

# ---- Rust tooling ------------------------------------------------------------------------------
use_venv_path
command -v cargo >/dev/null || die "cargo not found (install Rust with rustup)"

if cargo nextest --version >/dev/null 2>&1; then
    log "cargo-nextest: $(cargo nextest --version 2>/dev/null | head -n1)"
else
    log "cargo-nextest: missing, running cargo install cargo-nextest --locked (first time ~5-8 min)"
    cargo install cargo-nextest --locked --quiet
    log "cargo-nextest: $(cargo nextest --version | head -n1)"
fi

if command -v rustup >/dev/null; then
    missing=()
    cargo fmt --version >/dev/null 2>&1 || missing+=(rustfmt)
    cargo clippy --version >/dev/null 2>&1 || missing+=(clippy)
    if [ "${#missing[@]}" -gt 0 ]; then
        log "rust components: adding ${missing[*]}"
        rustup component add "${missing[@]}"
    else
        log "rust components: rustfmt and clippy present"
    fi
else
    if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
        die "rustfmt/clippy missing and rustup not found"
    fi
fi

# ---- Browser (headless Chromium, for the browser tests of the HTML pages and report) ------------
# Debian's `chromium` and `chromium-driver` (WebDriver, for the keep page's click-through test).
# Installed with apt-get when missing (needs root, as in CI and the project's containers);
# SK_SKIP_CHROMIUM=1 skips them (the browser tests then fail and say why).
if [ "${SK_SKIP_CHROMIUM:-0}" = 1 ]; then
    log "chromium: skipped (SK_SKIP_CHROMIUM=1)"
elif command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    log "chromium: $(chromium --version 2>/dev/null | head -n1); $(chromedriver --version 2>/dev/null | cut -d' ' -f1-2)"
else
    command -v apt-get >/dev/null 2>&1 ||
        die "chromium / chromedriver not found and apt-get is not available: install Debian's chromium and chromium-driver (or any Chromium as \`chromium\` and its driver as \`chromedriver\` on PATH), or set SK_SKIP_CHROMIUM=1"
    [ "$(id -u)" = 0 ] ||
        die "chromium / chromedriver not found: run \`sudo apt-get update && sudo apt-get install -y chromium chromium-driver\` (setup.sh installs them only as root)"
    log "chromium: missing, running apt-get install -y chromium chromium-driver (first time ~1-2 min)"
    start=$SECONDS
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
    command -v chromium >/dev/null 2>&1 || die "apt-get installed chromium but it is not on PATH"
    command -v chromedriver >/dev/null 2>&1 || die "apt-get installed chromium-driver but chromedriver is not on PATH"
    log "chromium: $(chromium --version 2>/dev/null | head -n1), installed in $((SECONDS - start)) s"
fi
