#!/usr/bin/env bash
# Multi-ECU fault tests in network namespaces (see TESTING.md "Network faults").
#
# Topology, all inside private namespaces (nothing in the root namespace, nothing routed out):
#
#   vbf-e1 (ecu1, publisher)  10.77.1.2 ---veth--- 10.77.1.1 \
#   vbf-e2 (ecu2, subscriber) 10.77.2.2 ---veth--- 10.77.2.1  } vbf-r (router, vbus Node in router mode)
#   vbf-e3 (ecu3, idle node)  10.77.3.2 ---veth--- 10.77.3.1 /
#
# ECUs reach each other only through the router (no IP forwarding, zenoh gossip off). Each phase
# publishes sequence numbers 1..N on its own reliable, `Block`, history-N topic, injects one
# fault, and the subscriber ECU prints `delivered=<distinct seqs> expected=N`; any mismatch fails
# the script. Faults: link cut shorter and longer than the zenoh lease, router restart, node kill
# (liveliness Down then Up), tbf shaping with a tiny queue (real packet drops and queueing delay),
# and a userspace relay adding 50 ms per chunk and dropping all connections every 2.5 s (this
# kernel has no sch_netem and no iptables/nft, so fixed delay and loss cannot come from tc).
#
# Usage: scripts/netns-faults.sh        (root; builds target/debug/vbus-faults unless
#                                        VBUS_FAULTS_BIN names a binary)
# Idempotent: leftovers of an earlier run are removed first; everything is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

P=vbf
NSS=("$P-r" "$P-e1" "$P-e2" "$P-e3")
LOGDIR=$(mktemp -d "${TMPDIR:-/tmp}/vbus-netns-faults.XXXXXX")
PIDS=()
FAILED=0

if [[ $EUID -ne 0 ]]; then
    echo "netns-faults: needs root (ip netns)" >&2
    exit 2
fi

# One run at a time on this machine (the namespace names are fixed).
exec 9>/run/vbus-netns-faults.lock
flock 9

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
    for ns in "${NSS[@]}"; do
        ip netns del "$ns" 2>/dev/null || true
    done
}
on_exit() {
    local rc=$?
    cleanup
    if [[ $rc -ne 0 || $FAILED -ne 0 ]]; then
        echo "netns-faults: logs kept in $LOGDIR" >&2
    else
        rm -rf "$LOGDIR"
    fi
}
trap on_exit EXIT
trap 'exit 130' INT TERM

BIN=${VBUS_FAULTS_BIN:-}
if [[ -z $BIN ]]; then
    cargo build -q -p vbus-faults
    BIN="${CARGO_TARGET_DIR:-target}/debug/vbus-faults"
fi
BIN=$(realpath "$BIN")

# --- topology -------------------------------------------------------------------------------
cleanup
for ns in "${NSS[@]}"; do
    ip netns add "$ns"
    ip -n "$ns" link set lo up
done
for i in 1 2 3; do
    ip -n "$P-r" link add "r$i" type veth peer name "e$i" netns "$P-e$i"
    ip -n "$P-r" addr add "10.77.$i.1/24" dev "r$i"
    ip -n "$P-e$i" addr add "10.77.$i.2/24" dev "e$i"
    ip -n "$P-r" link set "r$i" up
    ip -n "$P-e$i" link set "e$i" up
done
ROUTER_LISTEN=(--listen tcp/10.77.1.1:7447 --listen tcp/10.77.2.1:7447 --listen tcp/10.77.3.1:7447)

# start NS LOGNAME ARGS...: run the driver in NS in the background; its pid in $LAST
start() {
    local ns=$1 log=$2
    shift 2
    ip netns exec "$ns" "$BIN" "$@" >>"$LOGDIR/$log.log" 2>&1 &
    LAST=$!
    PIDS+=("$LAST")
}
stop() {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}
# wait_for LOG PATTERN SECONDS [FROM_LINE]: wait until a line after FROM_LINE matches
wait_for() {
    local log=$LOGDIR/$1.log pat=$2 secs=$3 from=${4:-0} i
    for ((i = 0; i < secs * 10; i++)); do
        if tail -n +"$((from + 1))" "$log" 2>/dev/null | grep -q -- "$pat"; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }
lines() { wc -l <"$LOGDIR/$1.log"; }

start "$P-r" router router --name router "${ROUTER_LISTEN[@]}"
ROUTER=$LAST
wait_for router "router router up" 20 || { echo "netns-faults: router did not start" >&2; exit 1; }
start "$P-e3" ecu3 idle --name ecu3 --connect tcp/10.77.3.1:7447
ECU3=$LAST
start "$P-e2" watch watch --name ecu2-watch --connect tcp/10.77.2.1:7447
wait_for watch "UP ecu3" 20 || { echo "netns-faults: ecu3 never seen Up" >&2; exit 1; }

SUB_CONNECT=tcp/10.77.2.1:7447

# phase NAME COUNT INTERVAL_MS PAD FAULT_FUNCTION [EXPECT [TIMEOUT_S]]
# The subscriber expects EXPECT (default COUNT) sequence numbers; a phase with EXPECT > COUNT is
# the negative control: it must fail, proving that a missing sample is detected.
phase() {
    local name=$1 count=$2 interval=$3 pad=$4 fault=$5 expect=${6:-$2} timeout=${7:-40} pub sub rc=0 t0
    t0=$(date +%s%N)
    start "$P-e1" "pub-$name" pub --name ecu1 --connect tcp/10.77.1.1:7447 \
        --topic "faults/$name" --count "$count" --interval-ms "$interval" --pad "$pad"
    pub=$LAST
    start "$P-e2" "sub-$name" sub --name ecu2 --connect "$SUB_CONNECT" --topic "faults/$name" \
        --count "$expect" --timeout-s "$timeout"
    sub=$LAST
    wait_for "sub-$name" "sub ecu2 up" 20 || true
    $fault
    wait "$sub" || rc=$?
    stop "$pub"
    local result
    result=$(grep RESULT "$LOGDIR/sub-$name.log" || echo "RESULT missing (subscriber exit $rc)")
    printf 'netns-faults: %-16s %s (%s ms)\n' "$name" "${result#RESULT }" "$(ms_since "$t0")"
    if [[ $expect -ne $count ]]; then
        [[ $rc -ne 0 ]] && echo "netns-faults: $name shortfall detected, as it must be (negative control)"
        if [[ $rc -eq 0 ]]; then
            FAILED=1
            echo "netns-faults: control phase $name delivered more than was published" >&2
        fi
    elif [[ $rc -ne 0 ]]; then
        FAILED=1
        echo "netns-faults: phase $name FAILED" >&2
        tail -n 5 "$LOGDIR/sub-$name.log" "$LOGDIR/pub-$name.log" >&2 || true
    fi
}

no_fault() { :; }
short_cut() {
    sleep 0.7
    ip -n "$P-r" link set r2 down
    sleep 1
    ip -n "$P-r" link set r2 up
}
long_cut() {
    sleep 0.7
    ip -n "$P-r" link set r2 down
    sleep 5
    ip -n "$P-r" link set r2 up
}
restart_router() {
    sleep 1
    stop "$ROUTER"
    sleep 1
    start "$P-r" router router --name router "${ROUTER_LISTEN[@]}"
    ROUTER=$LAST
}
shape() { :; } # tbf is installed before the phase, see below

phase baseline 200 10 0 no_fault

# The same-host path beside a remote subscriber: ecu1 publishes; a display process on ecu1's host
# reads through shared memory, ecu2 (another host) through zenoh via the router. Each must get
# every sequence number exactly once, the local one mostly in shared memory, the remote one never.
local_remote() {
    local t0 rc=0 lrc=0 pub lsub rsub
    t0=$(date +%s%N)
    start "$P-e1" pub-local-remote pub --name ecu1 --connect tcp/10.77.1.1:7447 \
        --topic faults/local-remote --count 300 --interval-ms 10
    pub=$LAST
    start "$P-e1" sub-local sub --name ecu1-display --connect tcp/10.77.1.1:7447 \
        --topic faults/local-remote --count 300 --timeout-s 40
    lsub=$LAST
    start "$P-e2" sub-remote sub --name ecu2 --connect tcp/10.77.2.1:7447 \
        --topic faults/local-remote --count 300 --timeout-s 40
    rsub=$LAST
    wait "$lsub" || lrc=$?
    wait "$rsub" || rc=$?
    stop "$pub"
    local lres rres
    lres=$(grep RESULT "$LOGDIR/sub-local.log" || echo "RESULT missing (exit $lrc)")
    rres=$(grep RESULT "$LOGDIR/sub-remote.log" || echo "RESULT missing (exit $rc)")
    printf 'netns-faults: %-16s local:  %s\n' local-and-remote "${lres#RESULT }"
    printf 'netns-faults: %-16s remote: %s (%s ms)\n' local-and-remote "${rres#RESULT }" "$(ms_since "$t0")"
    if [[ $lrc -ne 0 || $rc -ne 0 ]] \
        || ! grep -q 'duplicates_dropped=0 ' <<<"$lres" || ! grep -q 'duplicates_dropped=0 ' <<<"$rres" \
        || grep -q 'via_shm=0 ' <<<"$lres" || ! grep -q 'via_shm=0 ' <<<"$rres"; then
        FAILED=1
        echo "netns-faults: phase local-and-remote FAILED" >&2
    fi
}
local_remote
# Negative control: 100 published, 101 expected -> the subscriber must report a shortfall.
phase control-101-of-100 100 10 0 no_fault 101 4
phase link-cut-1s 200 10 0 short_cut
phase link-cut-5s 300 20 0 long_cut
phase router-restart 300 10 0 restart_router

# Node kill: liveliness reports ecu3 Down, then Up again when it restarts.
from=$(lines watch)
t0=$(date +%s%N)
stop "$ECU3"
if wait_for watch "DOWN ecu3" 10 "$from"; then
    printf 'netns-faults: node-kill        ecu3 killed -> watcher saw DOWN ecu3 after %s ms\n' "$(ms_since "$t0")"
else
    FAILED=1
    echo "netns-faults: node-kill FAILED: no DOWN ecu3 within 10 s" >&2
fi
from=$(lines watch)
start "$P-e3" ecu3 idle --name ecu3 --connect tcp/10.77.3.1:7447
ECU3=$LAST
t0=$(date +%s%N)
if wait_for watch "UP ecu3" 15 "$from"; then
    printf 'netns-faults: node-restart     ecu3 restarted -> watcher saw UP ecu3 after %s ms\n' "$(ms_since "$t0")"
else
    FAILED=1
    echo "netns-faults: node-restart FAILED: no UP ecu3 within 15 s" >&2
fi

# Hung node (SIGSTOP: no FIN, no keep-alives): Down once the 3 s lease expires, Up after SIGCONT.
from=$(lines watch)
t0=$(date +%s%N)
kill -STOP "$ECU3"
if wait_for watch "DOWN ecu3" 10 "$from"; then
    printf 'netns-faults: node-hang        ecu3 stopped -> watcher saw DOWN ecu3 after %s ms (lease 3 s)\n' "$(ms_since "$t0")"
else
    FAILED=1
    echo "netns-faults: node-hang FAILED: no DOWN ecu3 within 10 s" >&2
fi
from=$(lines watch)
t0=$(date +%s%N)
kill -CONT "$ECU3"
if wait_for watch "UP ecu3" 15 "$from"; then
    printf 'netns-faults: node-resume      ecu3 continued -> watcher saw UP ecu3 after %s ms\n' "$(ms_since "$t0")"
else
    FAILED=1
    echo "netns-faults: node-resume FAILED: no UP ecu3 within 15 s" >&2
fi

# Loss and queueing delay: tbf at 1 Mbit/s with an 8 kB queue towards the subscriber, while the
# publisher offers ~1.6 Mbit/s: packets are dropped at the queue and TCP retransmits.
ip netns exec "$P-r" tc qdisc replace dev r2 root tbf rate 1mbit burst 4kb limit 8kb
phase tbf-1mbit-drops 300 5 1000 shape
tbf_stats=$(ip netns exec "$P-r" tc -s qdisc show dev r2 | grep -o 'dropped [0-9]*' | head -1 || true)
echo "netns-faults: tbf-1mbit-drops  qdisc ${tbf_stats:-dropped ?} packets"
ip netns exec "$P-r" tc qdisc del dev r2 root

# Delay and connection loss: userspace relay (no sch_netem on this kernel).
start "$P-e2" relay relay --listen 127.0.0.1:17447 --to 10.77.2.1:7447 --delay-ms 50 --reset-ms 2500
RELAY=$LAST
wait_for relay "relay 127.0.0.1" 10 || { echo "netns-faults: relay did not start" >&2; exit 1; }
SUB_CONNECT=tcp/127.0.0.1:17447
phase relay-50ms-resets 300 10 0 no_fault
resets=$(grep -c "relay reset" "$LOGDIR/relay.log" || true)
echo "netns-faults: relay-50ms-resets relay dropped all connections $resets times"
stop "$RELAY"

if [[ $FAILED -ne 0 ]]; then
    echo "netns-faults: FAILED" >&2
    exit 1
fi
echo "netns-faults: all phases delivered every sequence number"
