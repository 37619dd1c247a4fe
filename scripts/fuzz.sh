#!/usr/bin/env bash
# Run every fuzz target of fuzz/ for a bounded time (see TESTING.md "Fuzzing").
#
#   scripts/fuzz.sh [seconds-per-target] [target...]     (default: 30 s, every target)
#
# Stable Rust only: cargo-fuzz's unstable rustc flags are allowed with RUSTC_BOOTSTRAP=1, and
# the sanitizer is off (`-s none`; AddressSanitizer needs a nightly std). Coverage-guided
# libFuzzer, debug assertions and overflow checks stay on (fuzz/Cargo.toml [profile.release]).
# Seeds are read from fuzz/corpus/<target>/ (kept small, in the repository); what libFuzzer
# finds is added to target/fuzz/corpus/<target>/; crashes land in fuzz/artifacts/<target>/.
# Exit status: 1 if any target crashed, timed out or ran out of memory.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
export RUSTC_BOOTSTRAP=1

secs=${1:-30}
shift || true
target_dir=${CARGO_TARGET_DIR:-$PWD/target}/fuzz

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "[fuzz] installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

cd fuzz
if [[ $# -gt 0 ]]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi
echo "[fuzz] building ${#targets[@]} targets (release, coverage, no sanitizer)" >&2
cargo fuzz build -s none --target-dir "$target_dir"

failed=()
summary=()
for t in "${targets[@]}"; do
    work="$target_dir/corpus/$t"
    mkdir -p "$work" "artifacts/$t" "corpus/$t"
    log="$target_dir/$t.log"
    echo "[fuzz] $t for ${secs}s" >&2
    rc=0
    cargo fuzz run -s none --target-dir "$target_dir" "$t" "$work" "corpus/$t" -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -artifact_prefix="artifacts/$t/" -print_final_stats=1 >"$log" 2>&1 || rc=$?
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)
    corpus=$(find "$work" -type f | wc -l)
    if [[ $rc -ne 0 ]]; then
        failed+=("$t")
        summary+=("$(printf '%-20s FAILED (exit %s) after %s runs; see %s and fuzz/artifacts/%s/' \
            "$t" "$rc" "${runs:-?}" "$log" "$t")")
        grep -m 5 -E 'panicked|ERROR|SUMMARY|Test unit written' "$log" >&2 || true
    else
        summary+=("$(printf '%-20s %10s runs  cov %6s  corpus %5s' "$t" "${runs:-?}" "${cov:-?}" "$corpus")")
    fi
done

echo "[fuzz] results (${secs}s per target):"
printf '  %s\n' "${summary[@]}"
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "[fuzz] findings in: ${failed[*]}" >&2
    exit 1
fi
