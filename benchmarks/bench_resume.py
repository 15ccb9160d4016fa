"""Graph breaks with resume: what a function with an untraceable call in the middle costs when
the parts around the call run compiled (continuation), vs eager NumPy, vs the same function
with the rest run by the eager remainder (continuation not compilable), and what one break
costs on tiny arrays (the dispatch floor of a split call).

Run: python benchmarks/bench_resume.py [--quick]

Rows (min over round-robin repeats of `timeit`, per call):
- `sort_middle`: `y = tanh(a*b + c)*0.5 + a` then `s = np.partition(y, n // 2)` (not traced:
  eager; np.sort compiles since b6ce190) then
  `s*s + y*b - c` and a sum: 1M float64 each.
- `branch_print`: a data-dependent `if` whose arm prints (to /dev/null): 1M float64.
- `tiny`: the same sort_middle on 4-element arrays: the fixed cost of one break (two guard
  checks, two kernels, the frame state rebuilt, the eager call).
"""
import argparse
import contextlib
import io
import timeit

import _bench_env  # noqa: F401  (sync compiles; developer build or installed package)

import numpy as np

import tracejit


def sort_middle(a, b, c):
    y = np.tanh(a * b + c) * 0.5 + a
    s = np.partition(y, y.shape[0] // 2)
    return (s * s + y * b - c).sum()


def sort_middle_rest_eager(a, b, c):
    y = np.tanh(a * b + c) * 0.5 + a
    s = np.partition(y, y.shape[0] // 2)
    first, *_ = (s, y)  # starred unpacking: the continuation is not traced, the rest runs eagerly
    return (first * first + y * b - c).sum()


def branch_print(a, b, best):
    loss = np.sum((a - b) ** 2)
    if loss < best:
        print("best", loss)
        best = loss
    return a * 0.5 + b * 0.5, best


def bench(fn, args, number, repeat):
    jf = tracejit.jit(fn, hot=0, sync=True)
    jf(*args)
    jf(*args)
    times = {"numpy": [], "tracejit": []}
    for _ in range(repeat):
        times["numpy"].append(timeit.timeit(lambda: fn(*args), number=number) / number)
        times["tracejit"].append(timeit.timeit(lambda: jf(*args), number=number) / number)
    st = jf.stats()
    return {k: min(v) for k, v in times.items()}, st


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    opts = ap.parse_args()
    repeat = 3 if opts.quick else 7
    rng = np.random.default_rng(0)
    n = 1 << 20
    a, b, c = (rng.standard_normal(n) for _ in range(3))
    t = [rng.standard_normal(4) for _ in range(3)]
    rows = [
        ("sort_middle 1M", sort_middle, (a, b, c), 5, 1e3, "ms"),
        ("sort_middle, rest eager 1M", sort_middle_rest_eager, (a, b, c), 5, 1e3, "ms"),
        ("branch_print 1M", branch_print, (a, b, 1e300), 5, 1e3, "ms"),
        ("tiny sort_middle (4)", sort_middle, tuple(t), 2000, 1e6, "us"),
    ]
    print(f"{'case':30s} {'numpy':>10s} {'tracejit':>10s}  unit  continuation calls/fallbacks")
    with contextlib.redirect_stdout(io.StringIO()) as sink:
        results = [(name, unit, scale) + bench(fn, args, number, repeat) for name, fn, args, number, scale, unit in rows]
    del sink
    for name, unit, scale, t, st in results:
        print(f"{name:30s} {t['numpy'] * scale:10.3f} {t['tracejit'] * scale:10.3f}  {unit:4s}  "
              f"{st['continuation_calls']}/{st['continuation_fallbacks']} (breaks {st['graph_breaks']})")


if __name__ == "__main__":
    main()
