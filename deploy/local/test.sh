#!/usr/bin/env bash
# The whole test suite (the README's second command). Installs what is missing,
# starts PostgreSQL and NATS if they are down, then runs every test of the
# workspace against them (real servers, no mocks).
set -euo pipefail
cd "$(dirname "$0")/../.."
bash deploy/local/prepare.sh --services
if ! cargo nextest --version >/dev/null 2>&1; then
    echo "test: installing cargo-nextest (cargo install)"
    cargo install cargo-nextest --locked --quiet || true
fi
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --locked --no-fail-fast --profile ci
    cargo test --workspace --locked --doc --quiet
else
    cargo test --workspace --locked --no-fail-fast
fi
# every fuzz target for a bounded time (fuzz/README.md)
bash deploy/local/fuzz.sh
