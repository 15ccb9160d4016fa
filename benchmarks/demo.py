"""tracejit demo: compile a NumPy function, look at what happened, and why things fall back."""
import os
import subprocess
import sys
import time
import warnings

os.environ.setdefault("TRACEJIT_SYNC", "1")
import numpy as np

import tracejit


@tracejit.jit
def f(a, b, c, d):
    return a * b + c * d - a


@tracejit.jit
def chatty(x):
    y = np.tanh(x) * 0.5
    q = np.partition(y, -2)[-2]  # not traced: runs eagerly between the compiled parts
    return np.minimum(y, q) + 1.0


def main():
    rng = np.random.default_rng(0)
    a, b, c, d = (rng.random(4_000_000, dtype=np.float32) for _ in range(4))

    print("== f(a, b, c, d) = a * b + c * d - a on 4M float32")
    f(a, b, c, d)                      # first call of a signature: eager
    r = f(a, b, c, d)                  # second call: traced, compiled, run
    t = time.perf_counter(); r = f(a, b, c, d); dt = time.perf_counter() - t
    ref = a * b + c * d - a
    print(f"  bit-identical to NumPy: {np.array_equal(r, ref)}   compiled call {dt*1e3:.2f} ms")
    s = f.stats()
    print("  stats:", {k: s[k] for k in ("calls", "compiled_calls", "fallback_calls", "compiles")},
          f"trace {s['trace_ms']:.2f} ms, compile {s['compile_ms']:.1f} ms")
    print("  guards:", *f.cache_info()[0]["guards"], sep="\n    ")
    print("  IR:\n" + "\n".join("    " + l for l in f.cache_info()[0]["ir"].splitlines()))

    print("\n== a new dtype recompiles, and says why")
    a64, b64, c64, d64 = (x.astype(np.float64) for x in (a, b, c, d))
    f(a64, b64, c64, d64); f(a64, b64, c64, d64)
    print("  recompile_reasons:", f.stats()["recompile_reasons"])

    print("\n== code the tracer cannot hold runs eagerly at a graph break, with the reason and line")
    chatty(a[:4]); chatty(a[:4])
    print("  graph_break_reasons:", chatty.stats()["graph_break_reasons"])

    bench = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench_elementwise.py")
    if os.path.exists(bench):
        print("\n== benchmark (benchmarks/bench_elementwise.py)")
        sys.stdout.flush()
        subprocess.run([sys.executable, bench], check=True)


if __name__ == "__main__":
    warnings.simplefilter("default")
    main()
