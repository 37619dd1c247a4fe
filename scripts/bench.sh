#!/usr/bin/env bash
# The whole performance comparison in one command: builds vbus-perf (release), counts heap
# allocations per message (tests/alloc.rs), then runs vbus vs raw zenoh vs plain UDP vs CycloneDDS
# ddsperf on this machine and prints the ratio table (markdown). See BENCHMARKS.md.
#
#   scripts/bench.sh                      # ~5 minutes
#   scripts/bench.sh --scale 4 --rounds 3 # longer windows, 3 interleaved rounds, medians
#   scripts/bench.sh --shm                # also the shared-memory build at 64 KiB / 1 MiB
#   scripts/bench.sh --study              # also the latency configuration study
#   scripts/bench.sh -- --skip dds        # anything after -- goes to `vbus-perf suite`
#
# Every process talks over 127.0.0.1 only (zenoh multicast scouting off, CycloneDDS pinned to lo
# with multicast off). Output: the table on stdout, progress on stderr, logs in $LOG_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
export ZENOH_SCOUTING_MULTICAST_ENABLED=false

shm=0
study=0
suite_args=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --shm) shm=1 ;;
        --study) study=1 ;;
        --scale | --rounds) suite_args+=("$1" "$2"); shift ;;
        --) shift; suite_args+=("$@"); break ;;
        -h | --help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "bench.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

LOG_DIR=${LOG_DIR:-/tmp/vbus-perf-logs}
OUT_DIR=${OUT_DIR:-target/bench}
mkdir -p "$LOG_DIR" "$OUT_DIR"
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if ! command -v ddsperf >/dev/null; then
    echo "[bench] ddsperf not found: install cyclonedds-tools (scripts/setup.sh does) for the DDS columns" >&2
fi

log() { printf '[bench] %s\n' "$*" >&2; }

if [[ $shm -eq 1 ]]; then
    # Built first and copied aside: the default build below overwrites target/release/vbus-perf.
    log "building vbus-perf with zenoh shared memory (first time: rebuilds zenoh)"
    cargo build --release -p vbus-perf --features shm
    cp target/release/vbus-perf "$OUT_DIR/vbus-perf-shm"
fi
log "building vbus-perf"
cargo build --release -p vbus-perf
bin=target/release/vbus-perf

log "heap allocations per message"
cargo test --release -p vbus-perf --test alloc -- --nocapture 2>&1 | grep -E '^(\||heap|vbus)' || {
    log "allocation test failed"
    exit 1
}

extra=()
[[ $study -eq 1 ]] && extra+=(--study)
log "comparison (progress below, table at the end)"
"$bin" suite --commit "$commit" --log-dir "$LOG_DIR" --json "$OUT_DIR/results.json" "${extra[@]}" "${suite_args[@]}"

if [[ $shm -eq 1 ]]; then
    # vbus and raw zenoh with SHM, raw zenoh as the default build runs it (SHM off), vbus SHM off.
    log "shared memory: 1 KiB, 64 KiB, 1 MiB"
    "$OUT_DIR/vbus-perf-shm" suite --commit "$commit" --label "zenoh shared-memory feature" --log-dir "$LOG_DIR" \
        --json "$OUT_DIR/results-shm.json" --sizes 1024,65536,1048576 --skip lat,rate,dds \
        --thr-variants zenoh-noshm,vbus-noshm "${suite_args[@]}"
fi
