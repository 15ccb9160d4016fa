"""Sorting, searching, medians and percentiles: NumPy vs tracejit, measured in the same run (round-robin,
median of --runs calls each), with the compiled result compared with NumPy's ("bit-exact", or
the largest relative difference: a mean or std around the sort is reduced in another order).

Run: python benchmarks/bench_sort.py [--runs N]

The compiled `sort` op partitions long rows with an AVX-512 quickselect / quicksort (argsorts: of
(key, position) pairs) and leaves the short ranges to NumPy's own sort functions (whose sorting
networks are fast where its partitioning is not); float rows whose order NumPy's algorithm decides
(NaNs, both signs of zero) and argsorts of rows with ties under a non-stable kind are NumPy's
functions row by row. Besides, rows run on both threads (a single long row too, after its first
partition), the producer is fused into the pass that fills each row, and for np.median /
np.percentile the arithmetic around the sort is in the same kernel. np.searchsorted,
np.digitize and np.interp are a branch-free binary search (the same log2(n) gathers for every
key) fused into the loop over the keys, eight vectors of keys in flight.
"""
import argparse

import _bench_env  # noqa: F401  (sync compiles; developer build or installed package)

import numpy as np

import tracejit


def workloads(rng):
    v = rng.standard_normal(1 << 20)
    v50 = rng.standard_normal(50_000)
    m = rng.standard_normal((2048, 512)).astype(np.float32)
    s = rng.standard_normal((20_000, 64)).astype(np.float32)
    table = np.sort(rng.standard_normal(1000))
    bins = np.linspace(-2, 2, 16)
    xp = np.linspace(-3, 3, 100)
    fp = np.sin(xp)
    vs = np.sort(v)
    return [
        ("np.sort 1M f64", lambda x: np.sort(x), (v,)),
        ("np.argsort 1M f64", lambda x: np.argsort(x), (v,)),
        ("np.median 1M f64", lambda x: np.median(x), (v,)),
        ("np.sort(axis=1) 2048x512 f32", lambda x: np.sort(x, axis=1), (m,)),
        ("median(x - mean, axis=1) 2048x512 f32", lambda x: np.median(x - x.mean(axis=1, keepdims=True), axis=1), (m,)),
        ("(x - median(x, 0)) / std(0) 2048x512 f32", lambda x: (x - np.median(x, axis=0)) / x.std(axis=0), (m,)),
        ("percentile(x, [5, 95]) 50K f64", lambda x: np.percentile(x, [5, 95]), (v50,)),
        ("clip(x, p1, p99) 50K f64", lambda x: np.clip(x, np.percentile(x, 1), np.percentile(x, 99)), (v50,)),
        ("percentile(x, 90, axis=1) 2048x512 f32", lambda x: np.percentile(x, 90, axis=1), (m,)),
        ("top-5 argsort(-s, stable) 20Kx64 f32", lambda x: np.argsort(-x, axis=1, kind="stable")[:, :5] + 0, (s,)),
        ("searchsorted(sorted 1K, x) 1M f64", lambda t, x: np.searchsorted(t, x), (table, v)),
        ("digitize(x, 16 bins) 1M f64", lambda x, b: np.digitize(x, b), (v, bins)),
        ("interp(x, 100 points) 1M f64", lambda x, p, f: np.interp(x, p, f), (v, xp, fp)),
        ("interp(sorted x, 100 points) 1M f64", lambda x, p, f: np.interp(x, p, f), (vs, xp, fp)),
    ]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=15)
    args = p.parse_args()
    rng = np.random.default_rng(0)
    print(f"tracejit {tracejit.__version__}, NumPy {np.__version__}; median of {args.runs} round-robin runs")
    print(f"{'workload':44s} {'numpy ms':>9s} {'tjit ms':>9s} {'ratio':>6s}  notes")
    for name, fn, fargs in workloads(rng):
        jf = tracejit.jit(fn, hot=0, sync=True)
        want, got = fn(*fargs), jf(*fargs)
        w, r = np.asarray(want), np.asarray(got)
        same = w.dtype == r.dtype and np.ascontiguousarray(w).tobytes() == np.ascontiguousarray(r).tobytes()
        err = float(np.max(np.abs(r.astype(np.float64) - w)) / max(np.max(np.abs(w)), 1e-300)) if not same and w.shape == r.shape else None
        t_np, t_jit = _bench_env.time_alternating(lambda: fn(*fargs), lambda: jf(*fargs), args.runs)
        st = jf.stats()
        notes = []
        notes.append("bit-exact" if same else f"max rel diff {err:.1e}" if err is not None else "RESULT DIFFERS")
        if st["fallback_reasons"] or st["graph_breaks"]:
            notes.append("FALLBACK: " + "; ".join(st["fallback_reasons"] + st["graph_break_reasons"])[:100])
        print(f"{name:44s} {t_np:9.2f} {t_jit:9.2f} {t_np / t_jit:6.2f}  {' '.join(notes)}")


if __name__ == "__main__":
    main()
