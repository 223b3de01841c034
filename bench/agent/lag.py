#!/usr/bin/python3
"""Measures line lag: polls OUTDIR (recursively) every 5 ms for bytes of
complete lines in visible files (names not starting with '.'), and for each
line computes now - the write time the generator put at its start (ns).
Stops after EXPECTED lines or TIMEOUT seconds; prints
"lines N p50 X ms p99 Y ms max Z ms".

usage: lag.py OUTDIR EXPECTED_LINES TIMEOUT_S
"""
import os
import sys
import time

out, expected, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
offsets = {}
lags = []
deadline = time.time() + timeout
while len(lags) < expected and time.time() < deadline:
    for root, _, files in os.walk(out):
        for name in files:
            if name.startswith('.') or name.endswith('.tmp') or name == 'roll':
                continue
            path = os.path.join(root, name)
            try:
                with open(path, 'rb') as f:
                    f.seek(offsets.get(path, 0))
                    data = f.read()
            except FileNotFoundError:
                continue
            end = data.rfind(b'\n') + 1
            if end == 0:
                continue
            now = time.time_ns()
            offsets[path] = offsets.get(path, 0) + end
            for line in data[:end].split(b'\n')[:-1]:
                head = line.split(b' ', 1)[0]
                if head.isdigit():
                    lags.append((now - int(head)) / 1e6)
    time.sleep(0.005)
lags.sort()
if not lags:
    print('lines 0')
    sys.exit(1)
pick = lambda q: lags[min(len(lags) - 1, int(q * len(lags)))]
print(f'lines {len(lags)} p50 {pick(0.5):.1f} ms p99 {pick(0.99):.1f} ms max {lags[-1]:.1f} ms')
