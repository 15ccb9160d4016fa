"""Mid-sized arrays (256K-2M elements, 1-8 MiB: larger than L2, within the last-level cache) and
NaN data: NumPy vs tracejit in the same run, one call of each per round (median of the rounds),
so each tracejit call follows a NumPy call as it would in a notebook, not a loop of its own
calls. What these rows watch: whether a result that fits the cache is written into it (not
streamed past it), whether a small kernel that finds the thread pool's workers asleep runs on
the calling thread instead of paying to wake them, in-place updates, and whether NaN in the
data makes the compiled call re-run eagerly (the `reruns` column: stats()['fp_reruns'] over the
timed calls), and np.nanmean/np.nanstd over data with missing values (compiled since dda1f7f;
before, a graph break ran them eagerly). Every result is checked against NumPy first.
Run: python benchmarks/bench_midsize.py [--runs N]"""
import argparse

from _bench_env import time_alternating  # noqa: E402  (sync compiles; developer build or installed package)

import numpy as np  # noqa: E402

import tracejit  # noqa: E402

R = np.random.default_rng(0)


def f32(n):
    return R.standard_normal(n).astype(np.float32)


def with_nan(x):
    x = x.copy()
    x[x.size // 3] = np.nan
    return x


def add1(x):
    return x + 1.0


def tanh(x):
    return np.tanh(x)


def arith_chain(a, b, c, d):
    return a * b + c * d - a


def tanh_chain(a, b, c, d):
    return np.tanh(a * b + c) * 0.5 + d


def sgd_step(w, g):
    w -= 0.01 * g
    return w.sum()


def exp(x):
    return np.exp(x)


def max_(x):
    return x.max()


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def sin(x):
    return np.sin(x)


def row_max(x):
    return x.max(axis=1)


def col_nanmean(x):
    return np.nanmean(x, axis=0)


def col_nanstd(x):
    return np.nanstd(x, axis=0)


def nan_scaler(x):
    return (x - np.nanmean(x, axis=0)) / np.nanstd(x, axis=0)


def missing(shape, fraction=0.05):
    x = R.standard_normal(shape).astype(np.float32)
    x[R.random(shape) < fraction] = np.nan
    return x


X256, X1M, X2M = f32(1 << 18), f32(1 << 20), f32(1 << 21)
CH1M = [f32(1 << 20) for _ in range(4)]
G1M = f32(1 << 20)
MISSING = missing((1024, 1024))

WORKLOADS = [
    ("x + 1 256K f32", add1, (X256,)),
    ("x + 1 1M f32", add1, (X1M,)),
    ("x + 1 2M f32", add1, (X2M,)),
    ("tanh(x) 256K f32", tanh, (X256,)),
    ("a*b+c*d-a 1M f32", arith_chain, CH1M),
    ("tanh(a*b+c)*0.5+d 1M f32", tanh_chain, CH1M),
    ("w -= 0.01*g; w.sum() 1M f32", sgd_step, (X1M.copy(), G1M)),
    ("exp(x) 1M f32, one NaN", exp, (with_nan(X1M),)),
    ("sigmoid(x) 1M f64, one NaN", sigmoid, (with_nan(X1M.astype(np.float64)),)),
    ("x.max() 1M f32, one NaN", max_, (with_nan(X1M),)),
    ("tanh(x) 1M f32, one NaN", tanh, (with_nan(X1M),)),
    ("sin(x) 1M f64, one NaN", sin, (with_nan(X1M.astype(np.float64)),)),
    ("x.max(axis=1) [16K,64] f32, NaN", row_max, (with_nan(X1M).reshape(-1, 64),)),
    ("nanmean(x, 0) [1K,1K] f32, 5% NaN", col_nanmean, (MISSING,)),
    ("nanstd(x, 0) [1K,1K] f32, 5% NaN", col_nanstd, (MISSING,)),
    ("nan scaler [1K,1K] f32, 5% NaN", nan_scaler, (MISSING,)),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=41)
    args = ap.parse_args()
    print(f"tracejit {tracejit.__version__}, NumPy {np.__version__}; median of {args.runs} round-robin runs")
    print(f"{'workload':32s} {'numpy ms':>9s} {'tjit ms':>9s} {'ratio':>6s} {'reruns':>6s}")
    for name, fn, inputs in WORKLOADS:
        jf = tracejit.jit(fn, hot=0, sync=True)
        # In-place workloads get their own copies, so both sides update equal arrays.
        np_in = [x.copy() for x in inputs]
        tj_in = [x.copy() for x in inputs]
        want, got = fn(*np_in), jf(*tj_in)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, equal_nan=True)
        assert jf.stats()["compiled_calls"] + jf.stats()["fp_reruns"] >= 1, (name, jf.stats()["fallback_reasons"])
        reruns0 = jf.stats()["fp_reruns"]
        n, j = time_alternating(lambda: fn(*np_in), lambda: jf(*tj_in), args.runs)
        reruns = jf.stats()["fp_reruns"] - reruns0
        print(f"{name:32s} {n:9.3f} {j:9.3f} {n / j:6.2f} {reruns:6d}")


if __name__ == "__main__":
    main()
