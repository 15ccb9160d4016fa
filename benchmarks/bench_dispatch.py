"""Dispatch overhead and compile latency: what a cached call of a jitted function costs on tiny
arrays, and how long the first call of a new function waits for trace + compile.

Run: python benchmarks/bench_dispatch.py [--quick]

1. Cached call of ``a + b`` on two 4-element float64 arrays (output allocation included), in ns
   per call, vs one ``np.add(a, b)``, vs a plain Python function doing ``a + b``, vs Numba's
   dispatcher (``@njit`` of the same function) and ``jax.jit`` when importable. Every row is
   timed with ``timeit`` in round-robin repeats; the figure is the minimum per call. JAX runs
   in its own subprocess (its worker threads would otherwise load the 2 cores of the others).
2. Guard stubs on vs off: the same cached call in fresh subprocesses with
   ``TRACEJIT_GUARD_STUBS=1`` and ``=0`` (interpreted guards), alternated.
3. Trace + compile of a 20-op elementwise function, cold, each in a fresh subprocess:
   ``stats()['trace_ms']`` and ``['compile_ms']``, and the first call's wall time (which also
   includes the first LLVM initialisation of the process); plus the same for a second, different
   20-op function in the same process (warm LLVM), and Numba's first call when importable.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import timeit

import _bench_env  # noqa: E402,F401  (sync compiles; developer build or installed package)

import numpy as np  # noqa: E402

_t0 = time.perf_counter()
import tracejit  # noqa: E402

IMPORT_MS = (time.perf_counter() - _t0) * 1e3


def add(a, b):
    return a + b


def f20(a, b, c, d):  # 20 elementwise ops
    t = a * b + c
    t = t * d - a
    t = np.sqrt(t * t + 1.0)
    t = t / (b * b + 2.0)
    t = np.maximum(t, c) - d
    t = np.exp(-t * 0.5)
    t = t + np.tanh(a - b)
    return t * c + d


def g20(a, b, c, d):  # another 20, so the second compile is not a cache hit
    t = a - b * c
    t = t + d * a
    t = np.abs(t * t - 3.0)
    t = t / (c * c + 1.5)
    t = np.minimum(t, b) + a
    t = np.log(t * 0.25 + 1.0)
    t = t - np.sin(c + d)
    return t * a - b


def per_call_ns(stmts, number, repeat):
    """{name: min ns per call}; stmts maps name -> zero-arg callable. Round-robin repeats."""
    best = {k: float("inf") for k in stmts}
    timers = {k: timeit.Timer(fn) for k, fn in stmts.items()}
    for _ in range(repeat):
        for k, t in timers.items():
            best[k] = min(best[k], t.timeit(number) / number * 1e9)
    return best


def tiny_args():
    return np.arange(4, dtype=np.float64), np.arange(4, dtype=np.float64) + 0.5


def child_call(number, repeat):
    """Run in a subprocess: cached-call ns of the jitted add (and np.add, to normalise)."""
    a, b = tiny_args()
    j = tracejit.jit(add, hot=0, sync=True)
    j(a, b)
    r = per_call_ns({"np.add": lambda: np.add(a, b), "tjit": lambda: j(a, b)}, number, repeat)
    r["compiled"] = j.stats()["compiled_calls"] > 0
    return r


def child_compile():
    """Run in a subprocess: cold trace/compile of f20, then g20 in the same process."""
    rng = np.random.default_rng(0)
    args = [rng.random(1000) for _ in range(4)]
    out = {}
    for key, fn in (("cold", f20), ("warm", g20)):
        j = tracejit.jit(fn, hot=0, sync=True)
        t0 = time.perf_counter()
        r = j(*args)
        wall = (time.perf_counter() - t0) * 1e3
        st = j.stats()
        out[key] = {"trace_ms": st["trace_ms"], "compile_ms": st["compile_ms"], "wall_ms": wall,
                    "compiled": st["compiled_calls"] > 0, "exact": bool(np.array_equal(
                        r, fn(*args))) or bool(np.allclose(r, fn(*args), rtol=1e-12)),
                    "reason": (st["fallback_reasons"] or [""])[0]}
    return out


def child_jax_call(number, repeat):
    import jax
    jax.config.update("jax_platforms", "cpu")
    jax.config.update("jax_enable_x64", True)
    a, b = tiny_args()
    jf = jax.jit(add)
    ja, jb = jax.device_put(a), jax.device_put(b)
    jf(ja, jb).block_until_ready()
    return per_call_ns({"jax": lambda: jf(ja, jb).block_until_ready()}, number, repeat)


def child_numba_compile():
    import numba
    rng = np.random.default_rng(0)
    args = [rng.random(1000) for _ in range(4)]
    nf = numba.njit(f20)
    t0 = time.perf_counter()
    nf(*args)
    return {"wall_ms": (time.perf_counter() - t0) * 1e3}


def run_child(kind, env_extra=None, *extra):
    env = dict(os.environ, **(env_extra or {}))
    r = subprocess.run([sys.executable, __file__, "--child", kind, *map(str, extra)], env=env,
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise RuntimeError(f"child {kind} failed:\n{r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="fewer repeats and subprocesses")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("rest", nargs="*", help=argparse.SUPPRESS)
    opts = p.parse_args()
    if opts.child == "call":
        print(json.dumps(child_call(int(opts.rest[0]), int(opts.rest[1]))))
        return
    if opts.child == "compile":
        out = child_compile()
        out["import_ms"] = IMPORT_MS
        print(json.dumps(out))
        return
    if opts.child == "jax_call":
        print(json.dumps(child_jax_call(int(opts.rest[0]), int(opts.rest[1]))))
        return
    if opts.child == "numba_compile":
        print(json.dumps(child_numba_compile()))
        return

    number, repeat, procs = (20_000, 5, 2) if opts.quick else (100_000, 9, 5)
    try:
        import numba
    except ImportError:
        numba = None
    try:
        import jax
        jax.config.update("jax_platforms", "cpu")
        jax.config.update("jax_enable_x64", True)
    except Exception:
        jax = None

    print(f"tracejit {tracejit.__version__}, NumPy {np.__version__}, Python "
          f"{sys.version.split()[0]}, {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.2f}")
    print(f"numba: {numba.__version__ if numba else '-'}   "
          f"jax: {jax.__version__ + ' cpu' if jax else '-'}")

    # 1. cached call, in process
    a, b = tiny_args()
    j = tracejit.jit(add, hot=0, sync=True)
    j(a, b)
    stmts = {"np.add(a, b)": lambda: np.add(a, b),
             "python add(a, b)": lambda: add(a, b),
             "tracejit add(a, b)": lambda: j(a, b)}
    if numba:
        nf = numba.njit(add)
        nf(a, b)
        stmts["numba @njit add(a, b)"] = lambda: nf(a, b)
    calls_before = j.stats()["compiled_calls"]
    ns = per_call_ns(stmts, number, repeat)
    if jax:  # in its own process: XLA's worker threads would compete with the rows above
        ns["jax.jit add(a, b)"] = run_child("jax_call", None, number // 10, repeat)["jax"]
    st = j.stats()
    tj_note = ("" if st["compiled_calls"] > calls_before and st["fallback_calls"] == 0
               else "  FALLBACK: " + "; ".join(st["fallback_reasons"]))
    base = ns["np.add(a, b)"]
    print()
    print("Cached call, a + b on 4 float64 (output allocated), min over "
          f"{repeat} x {number} calls (timeit loop overhead included)")
    header = f"{'call':<34} {'ns/call':>9} {'vs np.add':>10} {'vs tracejit':>12}"
    print(header)
    print("-" * len(header))
    for k, v in ns.items():
        print(f"{k:<34} {v:9.0f} {v / base:9.2f}x {v / ns['tracejit add(a, b)']:11.2f}x"
              + (tj_note if k.startswith("tracejit") else ""))

    # 2. guard stubs on / off, alternated subprocesses
    res = {"1": [], "0": []}
    for _ in range(procs):
        for flag in ("1", "0"):
            res[flag].append(run_child("call", {"TRACEJIT_GUARD_STUBS": flag}, number, repeat))
    print()
    print(f"Guard stubs, same cached call in fresh subprocesses (min of {procs} processes each)")
    print("(vs stubs on: ns/call ratio; normalised: the same after dividing each by the np.add "
          "of its own processes, which cancels load differences between them)")
    header = (f"{'TRACEJIT_GUARD_STUBS':<34} {'ns/call':>9} {'np.add ns':>10} "
              f"{'vs np.add':>10} {'vs stubs on':>12} {'normalised':>11}")
    print(header)
    print("-" * len(header))
    on = min(r["tjit"] for r in res["1"])
    on_rel = on / min(r["np.add"] for r in res["1"])
    for flag, label in (("1", "1 (compiled guard stub)"), ("0", "0 (interpreted guards)")):
        t = min(r["tjit"] for r in res[flag])
        npa = min(r["np.add"] for r in res[flag])
        fb = "" if all(r["compiled"] for r in res[flag]) else "  FALLBACK"
        print(f"{label:<34} {t:9.0f} {npa:10.0f} {t / npa:9.2f}x {t / on:11.2f}x "
              f"{t / npa / on_rel:10.2f}x{fb}")

    # 3. compile latency
    runs = [run_child("compile") for _ in range(procs)]
    print()
    print(f"Trace + compile of a 20-op elementwise function (float64[1000] x4), median of "
          f"{procs} fresh processes")
    header = (f"{'first call':<34} {'trace ms':>9} {'compile ms':>10} {'sum ms':>9} "
              f"{'wall ms':>9}")
    print(header)
    print("-" * len(header))
    for key, label in (("cold", "tracejit, cold process"),
                       ("warm", "tracejit, 2nd function (warm LLVM)")):
        rs = [r[key] for r in runs]
        tr = statistics.median(r["trace_ms"] for r in rs)
        co = statistics.median(r["compile_ms"] for r in rs)
        wall = statistics.median(r["wall_ms"] for r in rs)
        note = "" if all(r["compiled"] for r in rs) else "  FALLBACK: " + rs[0]["reason"]
        note += "" if all(r["exact"] for r in rs) else "  MISMATCH vs NumPy"
        print(f"{label:<34} {tr:9.1f} {co:10.1f} {tr + co:9.1f} {wall:9.1f}{note}")
    imp = statistics.median(r["import_ms"] for r in runs)
    print(f"{'(import tracejit, once per process)':<34} {'-':>9} {'-':>10} {'-':>9} {imp:9.1f}")
    if numba:
        nb = statistics.median(run_child("numba_compile")["wall_ms"] for _ in range(procs))
        print(f"{'numba @njit, cold process':<34} {'-':>9} {'-':>10} {'-':>9} {nb:9.1f}")
    else:
        print(f"{'numba @njit, cold process':<34} {'-':>9} {'-':>10} {'-':>9} {'-':>9}")


if __name__ == "__main__":
    main()
