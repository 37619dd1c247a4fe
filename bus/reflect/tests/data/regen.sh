#!/usr/bin/env bash
# Regenerate the flatc-made test data of vbus-reflect. FLATC must be flatc 23.5.26 (the version
# vbus-codegen uses), e.g. the vendored build: target/debug/build/flatc-*/out/bin/flatc.
set -euo pipefail
cd "$(dirname "$0")"
FLATC=${FLATC:?set FLATC to a flatc 23.5.26 binary}
"$FLATC" -b --schema --bfbs-builtins --bfbs-comments -o . everything.fbs
for j in full minimal; do
    "$FLATC" -b everything.fbs "$j.json"
    tmp=$(mktemp -d)
    "$FLATC" --json --strict-json --defaults-json --raw-binary -o "$tmp" everything.fbs -- "$j.bin"
    mv "$tmp/$j.json" "$j.flatc.json"
    rmdir "$tmp"
done
# The reflection schema itself, to build hostile .bfbs files in tests.
refl_fbs=$(find "$HOME/.cargo/registry/src" -path '*flatc-0.2.2*/reflection/reflection.fbs' | head -1)
"$FLATC" -b --schema -o . "$refl_fbs"
