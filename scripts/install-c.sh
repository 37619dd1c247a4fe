#!/usr/bin/env bash
# Build the C/C++ API and install it where CMake and pkg-config find it:
#   <prefix>/lib/libvbus.{so,a}, <prefix>/include/vbus/{vbus.h,vbus.hpp},
#   <prefix>/include/flatbuffers/ (the FlatBuffers 23.5.26 headers flatc's C++ output needs),
#   <prefix>/bin/{vbus-codegen,flatc}, <prefix>/lib/cmake/vbus/ (find_package(vbus)),
#   <prefix>/lib/pkgconfig/vbus.pc.
#
#   scripts/install-c.sh [--prefix DIR] [--release]      (default prefix: target/vbus-sdk)
set -euo pipefail
cd "$(dirname "$0")/.."
prefix="target/vbus-sdk"
profile="debug"
cargo_profile=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --prefix) prefix="$2"; shift 2 ;;
        --release) profile="release"; cargo_profile=(--release); shift ;;
        *) echo "install-c.sh: unknown argument \`$1\` (expected --prefix DIR or --release)" >&2; exit 2 ;;
    esac
done
log() { printf '[install-c] %s\n' "$*" >&2; }

cargo build -q "${cargo_profile[@]}" -p vbus-c -p vbus-codegen
target_dir=$(cargo metadata -q --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
flatbuffers_include=$(cargo metadata -q --format-version 1 | python3 -c '
import json, os, sys
m = json.load(sys.stdin)
p = [p for p in m["packages"] if p["name"] == "flatc"]
if not p:
    sys.exit("install-c.sh: the flatc crate is not in the dependency graph")
print(os.path.join(os.path.dirname(p[0]["manifest_path"]), "flatbuffers", "include"))')
flatc=$("$target_dir/$profile/vbus-codegen" flatc-path)

mkdir -p "$prefix"/{bin,lib/cmake/vbus,lib/pkgconfig,include/vbus}
prefix=$(cd "$prefix" && pwd)
install -m 0644 "$target_dir/$profile/libvbus.a" "$prefix/lib/"
install -m 0755 "$target_dir/$profile/libvbus.so" "$prefix/lib/"
install -m 0644 bindings/c/include/vbus.h bindings/cpp/include/vbus.hpp "$prefix/include/vbus/"
rm -rf "$prefix/include/flatbuffers"
cp -r "$flatbuffers_include/flatbuffers" "$prefix/include/"
install -m 0755 "$target_dir/$profile/vbus-codegen" "$flatc" "$prefix/bin/"
install -m 0644 bindings/cpp/cmake/vbusConfig.cmake "$prefix/lib/cmake/vbus/"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
sed "s/@VERSION@/$version/" bindings/cpp/cmake/vbusConfigVersion.cmake.in > "$prefix/lib/cmake/vbus/vbusConfigVersion.cmake"
cat > "$prefix/lib/pkgconfig/vbus.pc" <<PC
prefix=$prefix
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: vbus
Description: vbus, a real-time vehicle middleware bus: the C API (vbus/vbus.h) and C++17 API (vbus/vbus.hpp)
Version: $version
Libs: -L\${libdir} -lvbus
Libs.private: -lpthread -ldl -lm
Cflags: -I\${includedir}
PC
log "installed vbus $version ($profile) into $prefix"
