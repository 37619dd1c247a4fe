#!/usr/bin/env bash
# The demo: separate processes exchanging typed data over the bus, on embedded defaults.
# Installs what it needs (idempotent), builds, runs, exits 0 on success.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --demo
export PATH="$HOME/.cargo/bin:$PATH"
# The DDS ECU joins the demo when CycloneDDS 11 is installed (scripts/setup.sh builds it, ~5 min;
# VBUS_DEMO_DDS=1 makes this script do that first).
features=()
[[ "${VBUS_DEMO_DDS:-0}" == 1 ]] && scripts/setup.sh
if [[ -f "${VBUS_CYCLONEDDS_PREFIX:-/usr/local}/share/vbus/cyclonedds-11.0.1.installed" ]]; then
    features=(--features dds)
fi
cargo build --release -p vbus-examples --bin vbus-demo "${features[@]}"
# The C++ ECU (the instrument cluster of examples/cpp), built with CMake against the C/C++ SDK
# as a user would build it.
scripts/install-c.sh --release --prefix target/vbus-sdk-release
cmake -S examples/cpp -B target/cpp-demo -DCMAKE_PREFIX_PATH="$PWD/target/vbus-sdk-release" \
    -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build target/cpp-demo -j2 --target vbus-cpp-cluster >/dev/null
export VBUS_DEMO_CPP_CLUSTER="$PWD/target/cpp-demo/vbus-cpp-cluster"
exec target/release/vbus-demo "$@"
