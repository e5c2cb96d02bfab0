#!/usr/bin/python3
"""Compare two .npy arrays of logits.

Passes (exit 0) iff the shapes agree, max |expected - actual| <= rel * max(1, max|expected|)
and the argmax of every row (last axis) agrees.  A differing argmax is accepted only
when the two candidates are tied in EXPECTED to within that same tolerance.
Exit 1 on mismatch, 2 on unreadable input.
"""

import argparse
import sys

import numpy as np


def main(argv=None):
    p = argparse.ArgumentParser(prog="compare_npy.py", description=__doc__.split("\n")[1])
    p.add_argument("expected")
    p.add_argument("actual")
    p.add_argument("--rel", type=float, default=1e-4)
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        exp = np.load(args.expected).astype(np.float64)
        act = np.load(args.actual).astype(np.float64)
    except (OSError, ValueError) as e:
        print("compare_npy.py: error: %s" % e, file=sys.stderr)
        return 2
    if exp.shape != act.shape:
        print("shape mismatch: expected %s, actual %s" % (exp.shape, act.shape))
        return 1
    if exp.size == 0:
        print("empty arrays")
        return 0
    if not np.all(np.isfinite(act)):
        print("actual contains non-finite values")
        return 1
    max_diff = float(np.max(np.abs(exp - act)))
    tol = args.rel * max(1.0, float(np.max(np.abs(exp))))
    rows_e = exp.reshape(-1, exp.shape[-1]) if exp.ndim >= 1 else exp.reshape(1, 1)
    rows_a = act.reshape(-1, act.shape[-1]) if act.ndim >= 1 else act.reshape(1, 1)
    am_e = rows_e.argmax(axis=1)
    am_a = rows_a.argmax(axis=1)
    bad_rows = []
    for r in range(rows_e.shape[0]):
        if am_e[r] != am_a[r] and rows_e[r, am_e[r]] - rows_e[r, am_a[r]] > tol:
            bad_rows.append(r)
    print("max_abs_diff %.6g tolerance %.6g" % (max_diff, tol))
    print("argmax rows agreeing %d/%d" % (rows_e.shape[0] - len(bad_rows), rows_e.shape[0]))
    ok = max_diff <= tol and not bad_rows
    if bad_rows:
        print("argmax differs in rows %s" % bad_rows[:20])
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
