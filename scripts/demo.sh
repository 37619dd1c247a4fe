#!/usr/bin/env bash
# The demo: separate processes exchanging typed data over the bus, on embedded defaults.
# Installs what it needs (idempotent), builds, runs, exits 0 on success.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --demo
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release -p vbus-examples --bin vbus-demo
exec target/release/vbus-demo "$@"
