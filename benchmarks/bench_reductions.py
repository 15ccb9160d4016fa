"""Whole-array reductions, argmax and vector inner products: NumPy vs tracejit in the same run
(one call of each per round, median of the rounds). These keep no axis that rows could be split
over, so tracejit splits them in chunks across its pool (ir/passes/split_reduce.h); argmax along
the last axis is vectorized. Every result is checked first: floats within a relative 1e-4 of
the float64 computation, integers equal to NumPy's. Run: python benchmarks/bench_reductions.py [--runs N]"""
import argparse

from _bench_env import time_alternating  # noqa: E402  (sync compiles; developer build or installed package)

import numpy as np  # noqa: E402

import tracejit  # noqa: E402

R = np.random.default_rng(0)
N = 1 << 22
A, B, C, D = (R.standard_normal(N).astype(np.float32) for _ in range(4))
X64 = R.standard_normal(N // 2)
M = R.standard_normal((2048, 2048)).astype(np.float32)
TALL = R.standard_normal((N // 4, 4)).astype(np.float32)
I32 = R.integers(-1000, 1000, N, dtype=np.int32)

WORKLOADS = [
    ("x.sum() 4M f32", lambda a: a.sum(), (A,)),
    ("(a*b+c*d-a).sum() 4M f32", lambda a, b, c, d: (a * b + c * d - a).sum(), (A, B, C, D)),
    ("((x-y)**2).mean() 4M f32", lambda x, y: ((x - y) ** 2).mean(), (A, B)),
    ("x.max() 4M f32", lambda a: a.max(), (A,)),
    ("x.std() 2M f64", lambda x: x.std(), (X64,)),
    ("x.sum() 4M i32", lambda a: a.sum(), (I32,)),
    ("[1M,4].sum(axis=0) f32", lambda x: x.sum(axis=0), (TALL,)),
    ("x.argmax() 4M f32", lambda a: a.argmax(), (A,)),
    ("m.argmax(axis=1) 2048^2 f32", lambda m: m.argmax(axis=1), (M,)),
    ("x @ y 4M f32", lambda x, y: x @ y, (A, B)),
    ("np.dot(x, x) 2M f64", lambda x: np.dot(x, x), (X64,)),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=21)
    args = ap.parse_args()
    print(f"tracejit {tracejit.__version__}, NumPy {np.__version__}; median of {args.runs} round-robin runs")
    print(f"{'workload':30s} {'numpy ms':>9s} {'tjit ms':>9s} {'ratio':>6s}")
    for name, fn, inputs in WORKLOADS:
        jf = tracejit.jit(fn, hot=0, sync=True)
        want, got = fn(*inputs), jf(*inputs)
        if np.asarray(want).dtype.kind == "f":
            # Against the float64 computation: NumPy's own float32 column sums are further
            # from it than tracejit's chunked ones.
            ref = fn(*(x.astype(np.float64) if x.dtype == np.float32 else x for x in inputs))
            np.testing.assert_allclose(got, ref, rtol=1e-4)
        else:
            assert np.array_equal(got, want), (name, got, want)
        assert jf.stats()["compiled_calls"] >= 1, (name, jf.stats()["fallback_reasons"])
        n, j = time_alternating(lambda: fn(*inputs), lambda: jf(*inputs), args.runs)
        print(f"{name:30s} {n:9.3f} {j:9.3f} {n / j:6.2f}")


if __name__ == "__main__":
    main()
