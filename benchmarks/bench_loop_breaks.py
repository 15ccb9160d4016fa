"""Graph breaks inside loops: a for loop of 1000 iterations whose body calls math.gamma (not
traceable: it runs eagerly at a graph break each iteration) between some array work. Compiled,
each iteration is one continuation run (guard check, kernel, frame state rebuilt: the loop's
iterator as iter(range(...)), the eager call); eager is plain NumPy. The row is the time per call
of the whole function and per iteration, and the ratio eager / jit (> 1: jit is faster).

Run: python benchmarks/bench_loop_breaks.py [--quick]

Rows (min over round-robin repeats of `timeit`, per call):
- `gamma_small`: 1000 iterations, each `v = math.gamma(...)` then a few element-wise ops on
  8-element rows (the per-iteration overhead dominates).
- `gamma_wide`: the same on 4096-element rows (array work dominates).
"""
import argparse
import math
import timeit

import _bench_env  # noqa: F401  (sync compiles; developer build or installed package)

import numpy as np

import tracejit


def gamma_loop(x, w):
    acc = np.zeros_like(x[0])
    for i in range(x.shape[0]):
        v = math.gamma(float(x[i, 0]) * 0.01 + 1.5)
        acc = np.tanh(acc * 0.5 + x[i] * w) + v * x[i]
    return acc


def bench(fn, args, number, repeat):
    jf = tracejit.jit(fn, hot=0, sync=True)
    for _ in range(3):
        jf(*args)
    times = {"numpy": [], "tracejit": []}
    for _ in range(repeat):
        times["numpy"].append(timeit.timeit(lambda: fn(*args), number=number) / number)
        times["tracejit"].append(timeit.timeit(lambda: jf(*args), number=number) / number)
    return {k: min(v) for k, v in times.items()}, jf.stats()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    a = p.parse_args()
    number, repeat = (2, 3) if a.quick else (5, 7)
    r = np.random.default_rng(0)
    n = 1000
    rows = {
        "gamma_small": (r.standard_normal((n, 8)), r.standard_normal(8)),
        "gamma_wide": (r.standard_normal((n, 4096)), r.standard_normal(4096)),
    }
    print(f"{'case':<14}{'numpy ms':>10}{'jit ms':>10}{'ratio':>8}{'np us/it':>10}{'jit us/it':>10}  compiles  cont.calls")
    for name, args in rows.items():
        t, st = bench(gamma_loop, args, number, repeat)
        assert np.allclose(gamma_loop(*args), tracejit.jit(gamma_loop, hot=0, sync=True)(*args), rtol=1e-12)
        print(f"{name:<14}{t['numpy'] * 1e3:>10.3f}{t['tracejit'] * 1e3:>10.3f}{t['numpy'] / t['tracejit']:>8.2f}"
              f"{t['numpy'] / n * 1e6:>10.2f}{t['tracejit'] / n * 1e6:>10.2f}  {st['compiles']:>8}  {st['continuation_calls']:>10}")


if __name__ == "__main__":
    main()
