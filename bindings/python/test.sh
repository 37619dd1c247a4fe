#!/usr/bin/env bash
# Build and install the vbus Python package (bindings/python) into a virtual environment under
# target/, then run its tests over both data paths: shared memory (the default between processes
# of one host) and zenoh only. Idempotent; nothing is installed outside target/ and pip's cache.
#   bindings/python/test.sh [unittest args, e.g. -v or PubSub.test_async_for_ends_when_the_node_closes]
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
# Loopback only: nothing the tests start tries multicast discovery.
export ZENOH_SCOUTING_MULTICAST_ENABLED=false

venv=target/python-venv
if [ ! -x "$venv/bin/python" ]; then
    "${PYTHON:-python3}" -m venv "$venv"
fi
start=$(date +%s)
# maturin (from PyPI, in pip's isolated build environment) runs cargo in the workspace: the
# extension shares Cargo.lock and target/ with the rest of vbus, in the dev profile.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check bindings/python
echo "vbus installed into $venv in $(( $(date +%s) - start )) s" >&2

# The tests compile real schemas with vbus-codegen.
cargo build -q -p vbus-codegen
export VBUS_CODEGEN="$PWD/target/debug/vbus-codegen"
"$venv/bin/python" bindings/python/tests/test_vbus.py "$@"
VBUS_SHARED_MEMORY=off "$venv/bin/python" bindings/python/tests/test_vbus.py "$@"
