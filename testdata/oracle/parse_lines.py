#!/usr/bin/env python3
"""Print how oracle.py's parse_line reads each line of a log, one result per line.

Usage: python3 parse_lines.py LOG

Output lines: "frame <t|None> <id> <ext 0|1> <hex data>", "skip" or "error".
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle  # noqa: E402

with open(sys.argv[1], 'r', encoding='ascii', errors='replace') as fh:
    for line in fh:
        try:
            parsed = oracle.parse_line(line)
        except ValueError:
            print('error')
            continue
        if parsed is None:
            print('skip')
        else:
            t, can_id, ext, data = parsed
            print('frame %r %d %d %s' % (t, can_id, int(ext), data.hex()))
