#!/usr/bin/env python3
"""Generate fresh synthetic logs and the reference decoder's output for them.

Usage: python3 run_fresh.py OUT_DIR SEED FRAMES_PER_MESSAGE DBC...

For each DBC, writes OUT_DIR/<name>.log (gen_synth.py, plus for every
message a few frames of unconstrained random bytes, which hit undefined
multiplexer values, and a few one byte short) and OUT_DIR/<name>.jsonl
(oracle.py --emit-errors), in one interpreter, which keeps the vbus-dbc
test that calls it fast.
"""
import contextlib
import os
import random
import sys

import cantools

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_synth  # noqa: E402
import oracle  # noqa: E402


def append_invalid(dbc, log, seed):
    rng = random.Random(seed)
    db = cantools.database.load_file(dbc, strict=False)
    with open(log, 'a') as fh:
        for msg in db.messages:
            ident = ('%08X' if msg.is_extended_frame else '%03X') % msg.frame_id
            for k in range(6):
                n = msg.length if k < 4 else max(0, msg.length - 1)
                data = bytes(rng.getrandbits(8) for _ in range(n))
                sep = '##1' if msg.is_fd or n > 8 else '#'
                fh.write('(%d.%06d) vcan1 %s%s%s\n' % (1800000000 + k, rng.randrange(10**6), ident, sep, data.hex().upper()))


def main(argv):
    out_dir, seed, per_msg = argv[1], argv[2], argv[3]
    for dbc in argv[4:]:
        name = os.path.splitext(os.path.basename(dbc))[0]
        log = os.path.join(out_dir, name + '.log')
        gen_synth.main(['gen_synth.py', dbc, log, per_msg, seed])
        append_invalid(dbc, log, int(seed))
        with open(os.path.join(out_dir, name + '.jsonl'), 'w') as fh, contextlib.redirect_stdout(fh):
            oracle.main(['oracle.py', dbc, log, '--emit-errors'])
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
