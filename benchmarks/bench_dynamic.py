"""Automatic dynamic shapes: an MLP layer, relu(x @ W + b) with x [n, 256] float32 and W
[256, 256], called with 100 distinct batch sizes n (2 ... 4000, fixed seed), jitted with the
default policy (static first, then a runtime batch size), with ``dynamic=True``, and with
``dynamic=False`` (one compile per size up to recompile_limit, then eager).

Run: python benchmarks/bench_dynamic.py

Per row: compiles, trace+compile ms (stats), the wall time of the first pass over the 100 sizes
(compiles included), the best of 3 later passes, NumPy's best of 3 passes over the same sizes,
and whether every result matched NumPy (allclose, float32 tolerance).
"""
import os
import sys
import time

import _bench_env  # noqa: E402,F401  (sync compiles; developer build or installed package)

import numpy as np  # noqa: E402

import tracejit  # noqa: E402

rng = np.random.default_rng(0)
W = (rng.standard_normal((256, 256)) / 16).astype(np.float32)
B = rng.standard_normal(256).astype(np.float32)


def mlp_layer(x):
    return np.maximum(x @ W + B, 0)


SIZES = [int(n) for n in rng.choice(np.arange(2, 4001), size=100, replace=False)]
XS = [rng.standard_normal((n, 256)).astype(np.float32) for n in SIZES]


def one_pass(f):
    t = time.perf_counter()
    out = [f(x) for x in XS]
    return time.perf_counter() - t, out


def main():
    print(f"tracejit {tracejit.__version__}, NumPy {np.__version__}, Python {sys.version.split()[0]}, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    print(f"MLP layer relu(x @ W + b), x [n, 256] f32, W [256, 256]: 100 distinct batch sizes n in "
          f"[{min(SIZES)}, {max(SIZES)}]")
    np_best = min(one_pass(mlp_layer)[0] for _ in range(3))
    want = [mlp_layer(x) for x in XS]
    header = (f"{'policy':<24} {'compiles':>8} {'trace+compile ms':>17} {'first pass ms':>14} "
              f"{'later pass ms':>14} {'numpy pass ms':>14} {'matches':>8}")
    print(header)
    print("-" * len(header))
    for label, kw in (("default (auto dynamic)", {}), ("dynamic=True", {"dynamic": True}),
                      ("dynamic=False", {"dynamic": False})):
        f = tracejit.jit(mlp_layer, hot=0, sync=True, **kw)
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", tracejit.TracejitWarning)
            first, out = one_pass(f)
            later = min(one_pass(f)[0] for _ in range(3))
        ok = all(np.allclose(o, w, rtol=2e-5, atol=2e-5) and o.dtype == w.dtype for o, w in zip(out, want))
        s = f.stats()
        print(f"{label:<24} {s['compiles']:>8} {s['trace_ms'] + s['compile_ms']:>17.1f} {first * 1e3:>14.1f} "
              f"{later * 1e3:>14.1f} {np_best * 1e3:>14.1f} {str(ok):>8}")


if __name__ == "__main__":
    main()
