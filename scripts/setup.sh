#!/usr/bin/env bash
# Install what the demo and the test suite need on a fresh Debian machine. Idempotent: every step
# checks before it acts, so running it again costs a few seconds.
#
#   scripts/setup.sh          everything the test suite needs
#   scripts/setup.sh --demo   only what the demo needs
set -euo pipefail
cd "$(dirname "$0")/.."

want_demo_only=0
[[ "${1:-}" == "--demo" ]] && want_demo_only=1

log() { printf '[setup] %s\n' "$*" >&2; }

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null; then SUDO="sudo"; fi
fi

# System packages: the flatc build and the C/C++ bindings' tests (cmake, gcc, g++), bindgen for cyclonedds-sys (libclang-dev),
# a real MQTT broker for the cloud bridge tests (mosquitto) and the independent DDS peers
# (cyclonedds-tools: ddsperf; cyclonedds-dev: C library + idlc); iproute2 (ip netns, tc) for the
# network fault tests (scripts/netns-faults.sh).
packages=(cmake g++ gcc pkg-config)
if [[ $want_demo_only -eq 0 ]]; then
    packages+=(libclang-dev mosquitto cyclonedds-tools cyclonedds-dev python3-pip iproute2)
fi
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    log "installing apt packages: ${missing[*]}"
    if ! $SUDO apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
        $SUDO apt-get update -qq
        $SUDO DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
    fi
else
    log "apt packages present"
fi

if [[ $want_demo_only -eq 0 ]]; then
    # The reference CAN decoder the DBC engine is compared against.
    if ! python3 -c 'import cantools, sys; sys.exit(cantools.__version__ != "45.1.0")' 2>/dev/null; then
        log "installing cantools 45.1.0 (reference decoder)"
        python3 -m pip install -q "cantools==45.1.0"
    fi
    # The independent MCAP reader `vbus record` files are checked with (bus/cli tests).
    if ! python3 -c 'import mcap, sys; sys.exit(mcap.__version__ != "1.6.0")' 2>/dev/null; then
        log "installing mcap 1.6.0 (reference MCAP reader)"
        python3 -m pip install -q "mcap==1.6.0"
    fi
fi
[[ $want_demo_only -eq 0 ]] && bash scripts/cyclonedds.sh  # CycloneDDS 11.0.1 for bridges/dds
log "done"
