"""Exhaustive float32 accuracy of tracejit's inline transcendentals (not a pytest module: minutes
per function). Every float32 bit pattern (or, with --step N, every Nth) goes through the jitted
function and through NumPy's float64 function on the widened input (the reference: its error,
~2^-52 relative, is far below a float32 ulp). Reports the max error in float32 ulps of the
reference (ulp = 2^(e-24) for |ref| in [2^(e-1), 2^e), denormal ulp below 2^-126), where it
occurs, and every input whose result class differs from the reference rounded to float32 (NaN,
+-inf, +-0 with its sign).
Run: PYTHONPATH=python python tests/python/float32_exhaustive.py arcsin arccos [--step 1]
arctan2 (binary): --pairs N random pairs (log-uniform magnitudes, all signs) plus uniform ones.
power (binary): --pairs N random pairs: log-uniform x with y spreading y*log2(x) over [-160, 160]
(results from 0 through the denormals to inf), x within 2^-10 of 1 with huge y, negative x with
integer y, and uniform x in (0, 4) with y in (-30, 30)."""
import argparse
import os
import sys
import time

import numpy as np

os.environ.setdefault("TRACEJIT_SYNC", "1")  # compile on the first call, never fall back
import tracejit  # noqa: E402

FUNCS = {
    "cbrt": np.cbrt, "tan": np.tan, "arcsin": np.arcsin, "arccos": np.arccos, "arctan": np.arctan,
    "arcsinh": np.arcsinh, "arccosh": np.arccosh, "arctanh": np.arctanh, "sin": np.sin, "cos": np.cos,
    "exp": np.exp, "log": np.log, "tanh": np.tanh, "sinh": np.sinh, "cosh": np.cosh, "exp2": np.exp2,
    "log2": np.log2, "log10": np.log10, "expm1": np.expm1, "log1p": np.log1p,
}


def ulp_err(got, ref):
    """|got - ref| in float32 ulps at ref (float64 arrays, ref finite)."""
    e = np.frexp(ref)[1].astype(np.int64) - 24
    np.maximum(e, -149, out=e)
    return np.abs(got - ref) / np.ldexp(1.0, e)


def class_mismatch(got, ref32):
    bad = np.isnan(got) != np.isnan(ref32)
    sp = ~np.isnan(ref32) & (np.isinf(ref32) | (ref32 == 0))
    bad |= sp & ((got != ref32) | (np.signbit(got) != np.signbit(ref32)))
    bad |= ~np.isnan(got) & (np.isinf(got) != np.isinf(ref32))
    return bad


ODD = {"cbrt", "arcsin", "arctan", "arcsinh", "arctanh", "tan", "sin", "tanh", "sinh"}
# Even functions whose kernels start from |x| (so the negative half is the positive one's mirror).
EVEN = {"cosh", "cos"}


def run_unary(name, step, chunk=1 << 24, positive=False):
    fn = FUNCS[name]
    jitted = tracejit.jit(hot=0)(lambda a: fn(a))
    worst, at, nbad, bad_examples = 0.0, None, 0, []
    t0 = time.time()
    end = 1 << 31 if positive else 1 << 32
    for start in range(0, end, chunk * step):
        bits = np.arange(start, min(start + chunk * step, end), step, dtype=np.uint64).astype(np.uint32)
        x = bits.view(np.float32)
        with np.errstate(all="ignore"):
            got32 = jitted(x)
            ref = fn(x.astype(np.float64))
            ref32 = ref.astype(np.float32)
            # Where got is the reference rounded (same bits), the error is <= 0.5 ulp and the
            # class matches: only the other lanes (NaNs included) need the checks below.
            diff = got32.view(np.uint32) != ref32.view(np.uint32)
            x, got, ref = x[diff], got32[diff].astype(np.float64), ref[diff]
            ref32 = ref32[diff].astype(np.float64)
        bad = class_mismatch(got, ref32)
        if bad.any():
            nbad += int(bad.sum())
            bad_examples += [(float(a), float(g), float(r)) for a, g, r in zip(x[bad][:3], got[bad][:3], ref[bad][:3])]
        ok = np.isfinite(ref) & np.isfinite(got) & np.isfinite(ref32)
        with np.errstate(all="ignore"):
            e = ulp_err(got[ok], ref[ok])
        if e.size:
            i = int(np.argmax(e))
            if e[i] > worst:
                worst, at = float(e[i]), (float(x[ok][i]), float(got[ok][i]), float(ref[ok][i]))
    st = jitted.stats()
    assert st["compiled_calls"] == st["calls"], st
    if at is None:  # every result the reference rounded
        at = (float("nan"),) * 3
    print(f"{name:8s} f32{' x >= +0' if positive else ''}: max {worst:.4f} ulp at x={at[0]!r} (got {at[1]!r}, float64 {at[2]!r}); "
          f"class mismatches {nbad} {bad_examples[:6]}; {time.time() - t0:.0f} s", flush=True)
    return worst, nbad


def run_atan2(pairs):
    rng = np.random.default_rng(5)
    jitted = tracejit.jit(hot=0)(lambda a, b: np.arctan2(a, b))
    worst, at, nbad = 0.0, None, 0
    t0 = time.time()
    for it in range(max(1, pairs // (1 << 22))):
        n = 1 << 22
        if it % 3 == 0:  # log-uniform magnitudes over the whole range
            ey = rng.uniform(-149, 128, n)
            ex = rng.uniform(-149, 128, n)
        elif it % 3 == 1:  # close exponents
            ex = rng.uniform(-149, 128, n)
            ey = np.clip(ex + rng.uniform(-30, 30, n), -149, 127.9)
        else:
            ex = ey = None
        if ex is not None:
            y = (np.exp2(ey) * rng.choice([-1, 1], n)).astype(np.float32)
            x = (np.exp2(ex) * rng.choice([-1, 1], n)).astype(np.float32)
        else:
            y, x = rng.uniform(-4, 4, (2, n)).astype(np.float32)
        with np.errstate(all="ignore"):
            got = jitted(y, x).astype(np.float64)
            ref = np.arctan2(y.astype(np.float64), x.astype(np.float64))
            ref32 = ref.astype(np.float32).astype(np.float64)
        nbad += int(class_mismatch(got, ref32).sum())
        ok = np.isfinite(ref) & (ref32 != 0)
        e = ulp_err(got[ok], ref[ok])
        i = int(np.argmax(e))
        if e[i] > worst:
            worst, at = float(e[i]), (float(y[ok][i]), float(x[ok][i]), float(got[ok][i]), float(ref[ok][i]))
    st = jitted.stats()
    assert st["compiled_calls"] == st["calls"], st
    print(f"arctan2  f32: max {worst:.4f} ulp at (y, x)=({at[0]!r}, {at[1]!r}) (got {at[2]!r}, float64 {at[3]!r}); "
          f"class mismatches {nbad}; {time.time() - t0:.0f} s", flush=True)
    return worst, nbad


def power_pairs(rng, it, n):
    kind = it % 4
    if kind == 0:
        x = np.exp2(rng.uniform(-149, 128, n)).astype(np.float32)
    elif kind == 1:
        x = (1 + rng.uniform(-2.0**-10, 2.0**-10, n)).astype(np.float32)
    elif kind == 2:
        x = np.exp2(rng.uniform(-40, 40, n)).astype(np.float32)
    else:
        x = rng.uniform(0, 4, n).astype(np.float32)
        return x, rng.uniform(-30, 30, n).astype(np.float32)
    with np.errstate(all="ignore"):
        y = (rng.uniform(-160, 160, n) / np.log2(x.astype(np.float64))).astype(np.float32)
    if kind == 2:
        return -x, np.rint(y).astype(np.float32)
    return x, y


def run_power(pairs):
    rng = np.random.default_rng(6)
    jitted = tracejit.jit(hot=0)(lambda a, b: np.power(a, b))
    worst, at, nbad = 0.0, None, 0
    t0 = time.time()
    for it in range(max(4, pairs // (1 << 22))):
        x, y = power_pairs(rng, it, 1 << 22)
        with np.errstate(all="ignore"):
            got = jitted(x, y).astype(np.float64)
            ref = np.power(x.astype(np.float64), y.astype(np.float64))
            ref32 = ref.astype(np.float32).astype(np.float64)
            want32 = np.power(x, y).astype(np.float64)  # NumPy's float32 loop: the special values
        nbad += int(class_mismatch(got, ref32).sum())
        nan_or_inf = ~np.isfinite(want32) | ~np.isfinite(ref32)
        nbad += int((np.isnan(got) != np.isnan(want32))[nan_or_inf].sum())
        ok = np.isfinite(ref32) & (ref32 != 0)
        e = ulp_err(got[ok], ref[ok])
        i = int(np.argmax(e))
        if e[i] > worst:
            worst, at = float(e[i]), (float(x[ok][i]), float(y[ok][i]), float(got[ok][i]), float(ref[ok][i]))
    st = jitted.stats()
    assert st["compiled_calls"] == st["calls"], st
    print(f"power    f32: max {worst:.4f} ulp at (x, y)=({at[0]!r}, {at[1]!r}) (got {at[2]!r}, float64 {at[3]!r}); "
          f"class mismatches {nbad}; {time.time() - t0:.0f} s", flush=True)
    return worst, nbad


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("names", nargs="+")
    p.add_argument("--step", type=int, default=1, help="every Nth bit pattern (1: all 2^32)")
    p.add_argument("--positive", action="store_true",
                   help="odd and even functions: only the bit patterns with the sign bit clear (the "
                        "negative half, computed as +-f(|x|) by the kernels, is swept with --step 97)")
    p.add_argument("--pairs", type=int, default=1 << 26, help="arctan2, power: random pairs")
    opts = p.parse_args()
    rc = 0
    for name in opts.names:
        if name == "arctan2":
            _, nbad = run_atan2(opts.pairs)
        elif name == "power":
            _, nbad = run_power(opts.pairs)
        elif opts.positive and name in ODD | EVEN:
            _, nbad = run_unary(name, opts.step, positive=True)
            _, nbad2 = run_unary(name, 97)
            nbad += nbad2
        else:
            _, nbad = run_unary(name, opts.step)
        rc |= nbad != 0
    sys.exit(rc)


if __name__ == "__main__":
    main()
