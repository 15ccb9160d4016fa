"""While loops with a data-dependent test, eager NumPy against tracejit (min of N runs each, one
run): scalar loops that become one native loop (Newton's square root on NumPy scalars, Collatz
step counts over an array), and an array loop run kernel-per-iteration (halve until the max is
below a tolerance), and loops with early exits or a counter used as an index (issue #5):
insertion sort, linear search, bisection, Euclid's gcd over pairs, a convergence loop with a
break in its middle, counting runs, finding the first NaN; a return in a for and a while body and a
store into an argument after a break (loop_returns.cpp), a sum that stays a Python float or becomes
np.float64 by the data; and a loop indexing with values read from an array, checked in bounds at
run time (a histogram of 1e6 labels; np.bincount, NumPy's own C loop, as a reference). Ratio > 1: tracejit faster. Every result is checked against eager first.
Run: python benchmarks/bench_while.py [--runs N]"""
import argparse
import time

import _bench_env  # noqa: F401  (sync compiles; developer build or installed package)

import numpy as np  # noqa: E402

import tracejit  # noqa: E402


def newton_many(a):
    out = np.empty_like(a)
    for i in range(a.shape[0]):
        v = a[i]
        x = v / 2.0
        while abs(x * x - v) > 1e-12 * v:
            x = 0.5 * (x + v / x)
        out[i] = x
    return out


def collatz_steps(a):
    out = np.empty_like(a)
    for i in range(a.shape[0]):
        n = a[i]
        steps = 0
        while n != 1:
            if n % 2 == 0:
                n = n // 2
            else:
                n = 3 * n + 1
            steps += 1
        out[i] = steps
    return out


def halve(x, tol):
    err = np.abs(x).max()
    it = 0
    while it < 10000 and err > tol:
        x = x * 0.5
        err = np.abs(x).max()
        it += 1
    return x, it


def insertion_sort(x):
    a = x.copy()
    for i in range(1, a.shape[0]):
        key = a[i]
        j = i
        while j > 0 and a[j - 1] > key:
            a[j] = a[j - 1]
            j -= 1
        a[j] = key
    return a


def first_above(x, t):
    for i in range(x.shape[0]):
        if x[i] > t:
            break
    return i


def bisect_many(a, qs):
    out = np.empty(qs.shape[0], dtype=np.int64)
    for k in range(qs.shape[0]):
        v = qs[k]
        lo, hi = 0, a.shape[0]
        while lo < hi:
            mid = (lo + hi) // 2
            if a[mid] < v:
                lo = mid + 1
            else:
                hi = mid
        out[k] = lo
    return out


def gcd_pairs(p, q):
    out = np.empty_like(p)
    for k in range(p.shape[0]):
        a = p[k]
        b = q[k]
        while b != 0:
            a, b = b, a % b
        out[k] = a
    return out


def converge(x, tol):
    y = x.copy()
    for it in range(1000):
        z = 0.5 * (y + x / y)
        err = np.abs(z - y).max()
        if err < tol:
            break
        y = z
    return y, it


def count_runs(x):
    c = 0
    for i in range(1, x.shape[0]):
        if x[i] != x[i - 1]:
            c += 1
    return c


def first_nan(x):
    k = -1
    for i in range(x.shape[0]):
        if np.isnan(x[i]):
            k = i
            break
    return k


def first_return(x, t):
    # A return on array data in a for body (loop_returns.cpp).
    for i in range(x.shape[0]):
        if x[i] > t:
            return i
    return -1


def while_return(x, t):
    i = 0
    while i < x.shape[0]:
        if x[i] > t:
            return i
        i += 1
    return -1


def copy_until(x, out, t):
    # A store into an argument after a data-dependent break.
    for i in range(x.shape[0]):
        if x[i] > t:
            break
        out[i] = x[i]
    return out


def pos_sum(x):
    # A Python float or np.float64 by the data (carried as a dual scalar).
    s = 0.0
    for i in range(x.shape[0]):
        if x[i] < 0:
            continue
        s += x[i]
    return s
def histogram(labels, k):
    counts = np.zeros(k, dtype=np.int64)
    for i in range(labels.shape[0]):
        counts[labels[i]] += 1
    return counts


def min_ms(fn, args, runs):
    best = float("inf")
    for _ in range(runs):
        t = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - t)
    return best * 1e3


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=5)
    a = p.parse_args()
    rng = np.random.default_rng(0)
    cases = [
        ("newton_many (2000 sqrt)", newton_many, (rng.uniform(0.5, 1e6, 2000),)),
        ("collatz_steps (1000 ints)", collatz_steps, (rng.integers(1, 100000, 1000),)),
        ("halve (array of 1000)", halve, (rng.uniform(-1e3, 1e3, 1000), 1e-9)),
        ("insertion_sort (500)", insertion_sort, (rng.standard_normal(500),)),
        ("first_above (1e5, at 90%)", first_above, (np.arange(100000.0), 90000.5)),
        ("bisect_many (1000 in 1e5)", bisect_many, (np.sort(rng.standard_normal(100000)), rng.standard_normal(1000))),
        ("gcd_pairs (1000)", gcd_pairs, (rng.integers(1, 10**9, 1000), rng.integers(1, 10**9, 1000))),
        ("converge (sqrt, array 1000)", converge, (rng.uniform(1.0, 1e4, 1000), 1e-12)),
        ("count_runs (1e5 ints)", count_runs, (rng.integers(0, 2, 100000),)),
        ("first_nan (1e5, at 70%)", first_nan, (np.where(np.arange(100000) == 70000, np.nan, 1.0),)),
        ("first_return (1e5, at 90%)", first_return, (np.arange(100000.0), 90000.5)),
        ("while_return (1e5, at 90%)", while_return, (np.arange(100000.0), 90000.5)),
        ("copy_until (arg, 1e5 at 90%)", copy_until, (np.arange(100000.0), np.zeros(100000), 90000.5)),
        ("pos_sum (1e5, half negative)", pos_sum, (rng.standard_normal(100000),)),
        ("histogram (1e6 labels)", histogram, (rng.integers(0, 100, 1000000), 100)),
    ]
    # What NumPy itself offers for a case (its C loop), timed alongside for reference.
    reference = {histogram: ("np.bincount", lambda labels, k: np.bincount(labels, minlength=k))}
    print(f"{'case':28s} {'numpy ms':>10s} {'tracejit ms':>12s} {'ratio':>7s}  loops")
    for name, f, args in cases:
        jf = tracejit.jit(f, hot=0, sync=True)
        want, got = f(*args), jf(*args)
        for w, g in zip(want if isinstance(want, tuple) else (want,), got if isinstance(got, tuple) else (got,)):
            np.testing.assert_array_equal(g, w)
        assert jf.stats()["fallback_calls"] == 0, jf.stats()["fallback_reasons"]
        (entry,) = jf.cache_info()
        t_np, t_jit = min_ms(f, args, a.runs), min_ms(jf, args, a.runs)
        loops = entry["loops"]
        print(f"{name:28s} {t_np:10.3f} {t_jit:12.3f} {t_np / t_jit:7.1f}  native {loops['native']}/{loops['regions']}")
        if f in reference:
            rname, rf = reference[f]
            np.testing.assert_array_equal(rf(*args), want)
            t_ref = min_ms(rf, args, a.runs)
            print(f"{'  ' + rname + ' (reference)':28s} {t_ref:10.3f} {'':12s} {t_ref / t_jit:7.2f}  (ratio: reference / tracejit)")


if __name__ == "__main__":
    main()
