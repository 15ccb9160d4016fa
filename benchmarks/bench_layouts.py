"""Operands read through a view that is not row-contiguous: stepped slices, transposes, and
reductions of transposes, NumPy vs tracejit in the same run (one call of each per round, median
of the rounds). What these rows watch: a stepped slice read as wide loads and shuffles (not a
gather), an elementwise result of a transposed operand computed in cache-line tiles (not row by
row, where every element of the transposed operand is a new line and page), and a reduction of
a transposed operand reducing the untransposed array (ir/passes/transpose_reduce.h), and
F-ordered inputs (`np.asfortranarray`, pandas' `df.values`) read as transposes of their buffers.
An elementwise result read through one transpose is computed in memory order and returned in
that layout, as NumPy's is (ir/passes/layout.h): the `layout` column says whether the result's
strides are NumPy's. Every result is checked against NumPy first.
Run: python benchmarks/bench_layouts.py [--runs N]"""
import argparse

from _bench_env import time_alternating  # noqa: E402  (sync compiles; developer build or installed package)

import numpy as np  # noqa: E402

import tracejit  # noqa: E402

RNG = np.random.default_rng(0)
V = RNG.standard_normal(1 << 22).astype(np.float32)  # 4M float32
M = V.reshape(2048, 2048)
W = RNG.standard_normal(2048).astype(np.float32)
T = RNG.standard_normal((4096, 256)).astype(np.float32)
F = np.asfortranarray(M)

WORKLOADS = [
    ("x[::2] + 1 4M f32", lambda x: x[::2] + 1, (V,)),
    ("x[::2].sum() 4M f32", lambda x: x[::2].sum(), (V,)),
    ("x[::4] + 1 4M f32", lambda x: x[::4] + 1, (V,)),
    ("m[:, ::2] * 2 2048^2 f32", lambda m: m[:, ::2] * 2, (M,)),
    ("m.T + 1 2048^2 f32", lambda m: m.T + 1, (M,)),
    ("np.exp(m.T) 2048^2 f32", lambda m: np.exp(m.T), (M,)),
    ("m.T - m 2048^2 f32", lambda m: m.T - m, (M,)),
    ("t.T * 2 [4096,256] f32", lambda t: t.T * 2, (T,)),
    ("m.T.sum(axis=1) 2048^2 f32", lambda m: m.T.sum(axis=1), (M,)),
    ("(m.T * w).sum(axis=1) 2048^2 f32", lambda m, w: (m.T * w).sum(axis=1), (M, W)),
    ("np.exp(f) * 2 - 1, F-ordered f", lambda f: np.exp(f) * 2 - 1, (F,)),
    ("(f - mean(0)) / std(0), F-ordered", lambda f: (f - f.mean(axis=0)) / f.std(axis=0), (F,)),
    ("f.sum(axis=0), F-ordered", lambda f: f.sum(axis=0), (F,)),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=21)
    args = ap.parse_args()
    print(f"tracejit {tracejit.__version__}, NumPy {np.__version__}; median of {args.runs} round-robin runs")
    print(f"{'workload':34s} {'numpy ms':>9s} {'tjit ms':>9s} {'ratio':>6s} {'compile ms':>10s} layout")
    for name, fn, inputs in WORKLOADS:
        jf = tracejit.jit(fn, hot=0, sync=True)
        want, got = fn(*inputs), jf(*inputs)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-3)
        s = jf.stats()
        assert s["compiled_calls"] == 1, (name, s["fallback_reasons"])
        n, j = time_alternating(lambda: fn(*inputs), lambda: jf(*inputs), args.runs)
        layout = "NumPy's" if got.strides == want.strides else f"{got.strides} vs NumPy's {want.strides}"
        print(f"{name:34s} {n:9.3f} {j:9.3f} {n / j:6.2f} {s['trace_ms'] + s['compile_ms']:10.1f} {layout}")


if __name__ == "__main__":
    main()
