#!/usr/bin/env bash
# Runs the whole system on this machine (the README's first command): installs
# what is missing, builds, and starts `egov up`, which connects to PostgreSQL and
# NATS on their standard ports or starts private ones under .egov/, creates the
# test PKI on first start and serves every service until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash deploy/local/prepare.sh
cargo build --release --locked -p egov-launcher -p egovctl
echo "run: egovctl is at target/release/egovctl"
exec target/release/egov up
