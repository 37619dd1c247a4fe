#!/usr/bin/env python3
"""CAN decode throughput: vbus-dbc's compiled plans vs cantools 45.1.0, on the same frames.

    python3 scripts/bench_can.py            # Tesla Model 3 capture + Ford DBC synthetic log

Runs `cargo bench -p vbus-dbc --bench decode` for the Rust side and times cantools'
Message.decode (same options as the reference decoder) in this process, best of 3 rounds,
then prints frames/s for both and the ratio. Absolute numbers drift on a shared machine; the
ratio is the figure of merit.
"""
import json
import os
import subprocess
import sys
import time

import cantools

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "testdata", "oracle"))
from oracle import parse_line  # noqa: E402  (the reference decoder's own line parser)

PAIRS = [
    ("testdata/dbc/kuksa/Model3CAN.dbc", "testdata/logs/real/tesla_model3_kuksa_dogmode.log"),
    ("testdata/dbc/opendbc/ford_lincoln_base_pt.dbc", "testdata/logs/synthetic/ford_lincoln_base_pt.log"),
]


def cantools_rate(dbc, log):
    db = cantools.database.load_file(os.path.join(ROOT, dbc), strict=False)
    by_key = {(m.frame_id, m.is_extended_frame): m for m in db.messages}
    frames = []
    with open(os.path.join(ROOT, log), encoding="ascii", errors="replace") as fh:
        for line in fh:
            try:
                p = parse_line(line)
            except ValueError:
                continue
            if p:
                frames.append(p)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _t, can_id, ext, data in frames:
            m = by_key.get((can_id, ext))
            if m is None:
                continue
            try:
                m.decode(data, decode_choices=False, scaling=True, allow_truncated=False, allow_excess=True)
            except Exception:
                pass
        best = min(best, time.perf_counter() - start)
    return len(frames), len(frames) / best


def main():
    args = []
    for dbc, log in PAIRS:
        args += [os.path.join(ROOT, dbc), os.path.join(ROOT, log)]
    out = subprocess.run(
        ["cargo", "bench", "-q", "-p", "vbus-dbc", "--bench", "decode", "--"] + args,
        cwd=ROOT, check=True, capture_output=True, text=True).stdout
    rust = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
    print(f"{'DBC / log':58} {'frames':>7} {'vbus-dbc f/s':>13} {'cantools f/s':>13} {'ratio':>7}")
    for (dbc, log), r in zip(PAIRS, rust):
        n, py = cantools_rate(dbc, log)
        name = os.path.basename(dbc) + " / " + os.path.basename(log)
        print(f"{name:58} {n:>7} {r['frames_per_s']:>13,.0f} {py:>13,.0f} {r['frames_per_s'] / py:>6.0f}x")


if __name__ == "__main__":
    main()
