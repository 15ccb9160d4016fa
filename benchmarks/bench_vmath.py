"""The vectorized transcendentals (backends/cpu/vmath.cpp) against NumPy on 4M float32 and float64
elements, measured in one run: per function and dtype the NumPy and tracejit times (min of N runs)
and their ratio (> 1: tracejit faster). With --baseline PATH, the same tracejit timings are taken
in a subprocess importing the tracejit package under PATH (e.g. an older build whose functions
still called libm per element) and shown as an extra column.
Run: python benchmarks/bench_vmath.py [--n N] [--runs N] [--only tan,hypot] [--dtype float32] [--baseline DIR]"""
import argparse
import json
import os
import subprocess
import sys
import time

import _bench_env  # noqa: F401  (sync compiles; developer build or installed package)

import numpy as np  # noqa: E402

import tracejit  # noqa: E402

# name -> (NumPy function, arity, input range)
FUNCS = {
    "cbrt": (np.cbrt, 1, (-100, 100)),
    "tan": (np.tan, 1, (-10, 10)),
    "arcsin": (np.arcsin, 1, (-1, 1)),
    "arccos": (np.arccos, 1, (-1, 1)),
    "arctan": (np.arctan, 1, (-10, 10)),
    "arcsinh": (np.arcsinh, 1, (-10, 10)),
    "arccosh": (np.arccosh, 1, (1, 10)),
    "arctanh": (np.arctanh, 1, (-1, 1)),
    "arctan2": (np.arctan2, 2, (-10, 10)),
    "hypot": (np.hypot, 2, (-10, 10)),
    # the earlier inline ones, for reference
    "exp": (np.exp, 1, (-10, 10)),
    "tanh": (np.tanh, 1, (-5, 5)),
    "expm1": (np.expm1, 1, (-5, 5)),
    "sinh": (np.sinh, 1, (-10, 10)),
    "cosh": (np.cosh, 1, (-10, 10)),
    "log": (np.log, 1, (0.01, 100)),
    "log2": (np.log2, 1, (0.01, 100)),
    "log10": (np.log10, 1, (0.01, 100)),
    "log1p": (np.log1p, 1, (-0.5, 100)),
    "sin": (np.sin, 1, (-10, 10)),
    "cos": (np.cos, 1, (-10, 10)),
    "log": (np.log, 1, (0.01, 100)),
    "log2": (np.log2, 1, (0.01, 100)),
    "log10": (np.log10, 1, (0.01, 100)),
    "log1p": (np.log1p, 1, (-0.5, 10)),
    "expm1": (np.expm1, 1, (-10, 10)),
    "sinh": (np.sinh, 1, (-10, 10)),
    "cosh": (np.cosh, 1, (-10, 10)),
    # x ** y: x in (0.1, 10), y in (-10, 10) (POW_Y)
    "power": (np.power, 2, (0.1, 10)),
}
POW_Y = (-10, 10)
NEW = ["cbrt", "tan", "arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh", "arctan2", "hypot"]


def min_ms(fn, args, runs):
    fn(*args)
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best * 1e3


def inputs(name, dt, n):
    _, arity, (lo, hi) = FUNCS[name]
    rng = np.random.default_rng(0)
    ranges = [(lo, hi), POW_Y if name == "power" else (lo, hi)]
    return [rng.uniform(*ranges[i], n).astype(dt) for i in range(arity)]


def measure(names, n, runs, with_numpy, dtypes=(np.float32, np.float64)):
    out = {}
    for name in names:
        fn = FUNCS[name][0]
        for dt in dtypes:
            args = inputs(name, dt, n)
            # sync=True: compiled on the first call; in the background, the timed calls could be
            # the eager ones that run while it compiles.
            j = tracejit.jit((lambda a, fn=fn: fn(a)) if len(args) == 1 else (lambda a, b, fn=fn: fn(a, b)), hot=0,
                             sync=True)
            j(*args)
            st = j.stats()
            row = {"tjit": min_ms(j, args, runs), "compiled": st["compiled_calls"] > 0}
            if with_numpy:
                row["numpy"] = min_ms(fn, args, runs)
            out[f"{name} {np.dtype(dt).name}"] = row
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--n", type=int, default=4_000_000)
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--dtype", choices=["float32", "float64", "both"], default="both")
    p.add_argument("--only", default=",".join(NEW), help="comma-separated function names ('all' for every one)")
    p.add_argument("--baseline", help="directory holding another tracejit package to time as well")
    p.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # subprocess mode
    opts = p.parse_args()
    names = list(FUNCS) if opts.only == "all" else opts.only.split(",")
    dtypes = (np.float32, np.float64) if opts.dtype == "both" else (np.dtype(opts.dtype).type,)
    if opts.json:
        print(json.dumps(measure(names, opts.n, opts.runs, False, dtypes)))
        return
    base = {}
    if opts.baseline:
        env = dict(os.environ, PYTHONPATH=opts.baseline)
        cmd = [sys.executable, __file__, "--json", "--n", str(opts.n), "--runs", str(opts.runs), "--only", ",".join(names),
               "--dtype", opts.dtype]
        base = json.loads(subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
    res = measure(names, opts.n, opts.runs, True, dtypes)
    print(f"NumPy {np.__version__}, n={opts.n}, min of {opts.runs} runs (ms); ratio = numpy / tracejit")
    head = f"{'function':<18} {'numpy':>8} {'tracejit':>9} {'ratio':>6}"
    if base:
        head += f" {'baseline':>9} {'speedup':>8}"
    print(head)
    print("-" * len(head))
    for key, r in res.items():
        line = f"{key:<18} {r['numpy']:8.2f} {r['tjit']:9.2f} {r['numpy'] / r['tjit']:6.2f}"
        if base:
            line += f" {base[key]['tjit']:9.2f} {base[key]['tjit'] / r['tjit']:8.2f}"
        if not r["compiled"]:
            line += "  (did not compile)"
        print(line)


if __name__ == "__main__":
    main()
