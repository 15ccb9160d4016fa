"""Elementwise workloads on 4M float32: NumPy vs tracejit (and Numba / numexpr when importable),
measured in the same run. Run: python benchmarks/bench_elementwise.py [--runs N] [--n N]"""
import argparse
import statistics
import sys
import time

import _bench_env  # noqa: E402,F401  (sync compiles; developer build or installed package)

import numpy as np  # noqa: E402

import tracejit  # noqa: E402

try:
    import numba
except ImportError:
    numba = None
try:
    import numexpr
except ImportError:
    numexpr = None


def w_fma(a, b, c, d):
    return a * b + c * d - a


def w_tanh(a, b, c, d):
    return np.tanh(a * b + c) * 0.5 + d


def w_hypot(a, b, c, d):
    return np.sqrt(a * a + b * b)


def w_where(a, b, c, d):
    return np.where(a > b, a - b, b * c)


# name, function, arrays read, numexpr text (same NumPy semantics on float32)
WORKLOADS = [
    ("a*b + c*d - a", w_fma, 4, "a*b + c*d - a"),
    ("tanh(a*b + c)*0.5 + d", w_tanh, 4, "tanh(a*b + c)*0.5 + d"),
    ("sqrt(a*a + b*b)", w_hypot, 2, "sqrt(a*a + b*b)"),
    ("where(a > b, a - b, b*c)", w_where, 3, "where(a > b, a - b, b*c)"),
]


def median_ms(fn, args, runs):
    fn(*args)  # warm-up
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn(*args)
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def accuracy(expected, got):
    if expected.dtype != got.dtype or expected.shape != got.shape:
        return "WRONG TYPE"
    if np.array_equal(expected, got, equal_nan=True):
        return "bit-exact"
    e, g = expected.astype(np.float64), got.astype(np.float64)
    with np.errstate(all="ignore"):
        rel = np.abs(g - e) / np.maximum(np.abs(e), np.finfo(expected.dtype).tiny)
    # ulp distance (same-sign finite floats): the relative error is large where results cancel
    ints = np.int32 if expected.dtype == np.float32 else np.int64
    ulp = np.abs(expected.view(ints).astype(np.int64) - got.view(ints).astype(np.int64))
    return f"max rel {np.nanmax(rel):.1e}, max {ulp.max()} ulp"


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--n", type=int, default=4_000_000)
    p.add_argument("--runs", type=int, default=15)
    opts = p.parse_args()
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(opts.n, dtype=np.float32) for _ in range(4)]

    dst = np.empty_like(arrays[0])
    copy_ms = median_ms(lambda: np.copyto(dst, arrays[0]), (), opts.runs)
    copy_gbs = 2 * arrays[0].nbytes / copy_ms / 1e6  # read + write
    print(f"tracejit {tracejit.__version__}, NumPy {np.__version__}, n={opts.n} float32, "
          f"median of {opts.runs} runs; np.copyto bandwidth {copy_gbs:.1f} GB/s")
    print(f"numba: {'yes ' + numba.__version__ if numba else '-'}   "
          f"numexpr: {'yes ' + numexpr.__version__ if numexpr else '-'}")

    header = (f"{'workload':<26} {'numpy ms':>9} {'tjit ms':>9} {'ratio':>6} {'compile ms':>10} "
              f"{'bw-bound ms':>11} {'numba ms':>9} {'numexpr ms':>10}  accuracy")
    print(header)
    print("-" * len(header))
    for name, fn, nread, ne_text in WORKLOADS:
        args = arrays
        expected = fn(*args)
        j = tracejit.jit(fn, hot=0)
        got = j(*args)
        st = j.stats()
        compile_ms = st["compile_ms"] + st["trace_ms"]
        compiled = st["compiled_calls"] > 0
        np_ms = median_ms(fn, args, opts.runs)
        tj_ms = median_ms(j, args, opts.runs)
        bytes_moved = (nread + 1) * arrays[0].nbytes
        bound_ms = bytes_moved / (copy_gbs * 1e6)
        nb_ms = ne_ms = "-"
        if numba:
            nj = numba.njit(fn)
            nj(*args)
            nb_ms = f"{median_ms(nj, args, opts.runs):.2f}"
        if numexpr:
            local = dict(zip("abcd", args))
            ne_ms = f"{median_ms(lambda: numexpr.evaluate(ne_text, local_dict=local), (), opts.runs):.2f}"
        acc = accuracy(expected, got) + ("" if compiled else "  (FELL BACK: "
                                         + "; ".join(st["fallback_reasons"]) + ")")
        print(f"{name:<26} {np_ms:9.2f} {tj_ms:9.2f} {np_ms / tj_ms:6.2f} {compile_ms:10.1f} "
              f"{bound_ms:11.2f} {nb_ms:>9} {ne_ms:>10}  {acc}")


if __name__ == "__main__":
    main()
