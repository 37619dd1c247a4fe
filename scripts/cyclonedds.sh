#!/usr/bin/env bash
# Build and install Eclipse Cyclone DDS 11.0.1 (the version cyclonedds-rs 0.7.1 / cyclonedds-sys
# need; Debian ships 0.10.2) into a fixed prefix. Idempotent: skips when the prefix already
# holds the library. The source is the exact 11.0.1 tree shipped on crates.io inside the
# `cyclors` 0.4.0 crate, fetched with cargo (no other download).
#
#   scripts/cyclonedds.sh            install into $VBUS_CYCLONEDDS_PREFIX (default below)
#
# The prefix is /usr/local because that is where cyclonedds-sys' build script looks when
# CYCLONEDDS_LIB_DIR / CYCLONEDDS_INCLUDE_DIR are unset, so `cargo build` needs no variables; the
# library's soname (libddsc.so.11) differs from Debian's 0.10.2 (libddsc.so.0), so both coexist.
# bridges/dds/build.rs also adds an rpath to $PREFIX/lib, so binaries run without LD_LIBRARY_PATH.
set -euo pipefail

export PATH="$HOME/.cargo/bin:$PATH"
PREFIX="${VBUS_CYCLONEDDS_PREFIX:-/usr/local}"
MARKER="$PREFIX/share/vbus/cyclonedds-11.0.1.installed"
log() { printf '[cyclonedds] %s\n' "$*" >&2; }

if [[ -f "$PREFIX/lib/libddsc.so.11.0.1" && -f "$PREFIX/include/dds/dds.h" && -f "$MARKER" ]]; then
    log "CycloneDDS 11.0.1 present in $PREFIX"
    exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null; then SUDO="sudo"; fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Fetch the cyclors 0.4.0 crate through cargo (uses the normal crates.io client and cache).
mkdir -p "$work/fetch/src"
cat >"$work/fetch/Cargo.toml" <<'TOML'
[package]
name = "vbus-fetch-cyclors"
version = "0.0.0"
edition = "2021"
publish = false
[dependencies]
cyclors = "=0.4.0"
[workspace]
TOML
echo 'fn main() {}' >"$work/fetch/src/main.rs"
log "fetching cyclors 0.4.0 (CycloneDDS 11.0.1 source) via cargo"
cargo fetch --quiet --manifest-path "$work/fetch/Cargo.toml"
src=""
for d in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/cyclors-0.4.0/cyclonedds; do
    [[ -f "$d/CMakeLists.txt" ]] && src="$d" && break
done
[[ -n "$src" ]] || { log "cyclors-0.4.0 source not found in the cargo registry"; exit 1; }
grep -q 'project(CycloneDDS VERSION 11.0.1' "$src/CMakeLists.txt" || { log "unexpected CycloneDDS version in $src"; exit 1; }

log "building CycloneDDS 11.0.1 from $src (a few minutes)"
cmake -S "$src" -B "$work/build" \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_INSTALL_PREFIX="$PREFIX" \
    -DCMAKE_INSTALL_LIBDIR=lib \
    -DBUILD_SHARED_LIBS=ON \
    -DBUILD_IDLC=OFF \
    -DBUILD_DDSPERF=OFF \
    -DBUILD_EXAMPLES=OFF \
    -DBUILD_TESTING=OFF \
    -DENABLE_SHM=OFF \
    -DENABLE_ICEORYX=OFF \
    -DENABLE_SSL=OFF \
    -DENABLE_SECURITY=OFF \
    -DENABLE_LTO=OFF >"$work/cmake.log" 2>&1 || { cat "$work/cmake.log" >&2; exit 1; }
cmake --build "$work/build" --parallel "$(nproc)" >"$work/build.log" 2>&1 || { tail -50 "$work/build.log" >&2; exit 1; }
$SUDO mkdir -p "$PREFIX"
$SUDO cmake --install "$work/build" >/dev/null
$SUDO ldconfig || true
$SUDO mkdir -p "$(dirname "$MARKER")"
$SUDO touch "$MARKER"
log "installed CycloneDDS 11.0.1 into $PREFIX"
