"""Effects inside compiled loop regions: the canonical training loop (1000 steps of a tanh layer's
gradient descent) printing every 100 steps, and the same loop appending a Python float to a
list every step, eager NumPy against tracejit (min of N runs each; output captured, not shown).
Ratio > 1: tracejit faster. Printed text, log and weights are checked against eager first
(weights and printed floats to 1e-12: the compiled reductions may round differently).
Run: python benchmarks/bench_loop_effects.py [--runs N] [--steps N]"""
import argparse
import contextlib
import io
import time

import _bench_env  # noqa: F401  (sync compiles; developer build or installed package)

import numpy as np  # noqa: E402

import tracejit  # noqa: E402

LOG = []


def train_print(x, w, n):
    for step in range(n):
        h = np.tanh(x @ w)
        g = x.T @ (h * (1 - h * h)) / x.shape[0]
        w = w - 0.01 * g
        if step % 100 == 0:
            print(step, float(np.mean(h * h)))
    return w


def train_log(x, w, n):
    for step in range(n):
        h = np.tanh(x @ w)
        g = x.T @ (h * (1 - h * h)) / x.shape[0]
        w = w - 0.01 * g
        LOG.append(float(np.mean(h * h)))
    return w


def quiet(fn, args):
    LOG.clear()
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        r = fn(*args)
    return r, buf.getvalue(), list(LOG)


def min_ms(fn, args, runs):
    best = float("inf")
    for _ in range(runs):
        t = time.perf_counter()
        quiet(fn, args)
        best = min(best, time.perf_counter() - t)
    return best * 1e3


def close_text(a, b):
    la, lb = a.split(), b.split()
    return len(la) == len(lb) and all(abs(float(p) - float(q)) <= 1e-12 * max(1.0, abs(float(p))) for p, q in zip(la, lb))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--steps", type=int, default=1000)
    a = p.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'case':40s} {'numpy ms':>10s} {'tracejit ms':>12s} {'ratio':>7s}")
    for shape in ((32, 8, 4), (256, 64, 32)):
        m, k, n = shape
        x, w = rng.standard_normal((m, k)), rng.standard_normal((k, n)) * 0.1
        for name, f in (("print every 100", train_print), ("append every step", train_log)):
            args = (x, w, a.steps)
            jf = tracejit.jit(f, hot=0, sync=True)
            (rw, ow, lw), (rg, og, lg) = quiet(f, args), quiet(jf, args)
            np.testing.assert_allclose(rg, rw, rtol=1e-12, atol=1e-12)
            assert close_text(ow, og) and len(lw) == len(lg), (ow[:200], og[:200])
            np.testing.assert_allclose(lg, lw, rtol=1e-12, atol=1e-12)
            st = jf.stats()
            assert st["fallback_calls"] == 0 and st["compiled_calls"] == 1, st["fallback_reasons"]
            t_np, t_jit = min_ms(f, args, a.runs), min_ms(jf, args, a.runs)
            label = f"{name} x{m}x{k} w{k}x{n} {a.steps} steps"
            print(f"{label:40s} {t_np:10.3f} {t_jit:12.3f} {t_np / t_jit:7.2f}")


if __name__ == "__main__":
    main()
