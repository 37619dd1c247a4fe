#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what it needs (idempotent), then runs every
# test of the workspace. This is what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
# Loopback only: make sure nothing we start tries multicast discovery.
export ZENOH_SCOUTING_MULTICAST_ENABLED=false
# The C and C++ SDK the bindings' tests build programs against (bindings/c/tests), as a user
# installs it; the debug build, which the test build below reuses.
scripts/install-c.sh --prefix target/vbus-sdk
# The Python module, installed into target/python-venv as `pip install bindings/python` does,
# and its own tests; the cross-language tests below (bindings/c) run Python scripts with it.
bindings/python/test.sh
# The DDS parts of the examples and the demo (CycloneDDS 11 is installed by setup.sh above).
cargo test --workspace --features vbus-examples/dds "$@"
# The bus library's integration tests again over the other data path: above, processes of this
# host exchange samples through shared memory (the default); here through zenoh only.
VBUS_SHARED_MEMORY=off cargo test -p vbus --test it "$@"
