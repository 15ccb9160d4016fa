"""The workload suite: NumPy vs tracejit (and Numba / numexpr / JAX when importable), measured in
the same run, with each kernel's memory-bandwidth bound (and the ratio to NumPy a kernel at that
bound would reach: ``bw ratio``).

Run: python benchmarks/bench_suite.py [--quick] [--runs N] [--only NAME[,NAME]] [--same-process]

For each workload: NumPy ms, tracejit ms, their ratio, tracejit's trace+compile ms (from
``f.stats()`` after the first call), the peers' ms, and the bandwidth bound: the bytes the kernel
must move (every input read once, the output written once) divided by the copy bandwidth
measured in this run with ``np.copyto`` on a large array. NumPy and tracejit are timed
round-robin (one call of each per round), so a load spike from another process hits both alike;
the figure is the median (``--stat min`` for the minimum). Each peer is timed the same way against
NumPy in a child process of its own (same inputs: same seed, same order), because a peer's thread
pool keeps spinning after its call (SciPy's OpenBLAS under Numba's matmul, XLA's Eigen pool) and
on a 2-core machine slows whichever library runs next in the process; ``--same-process`` times
everything in one process, round-robin, as before. A workload that tracejit does not compile
prints ``FALLBACK: <reason>`` (from ``stats()['fallback_reasons']``) instead of a time.
"""
import argparse
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import _bench_env  # noqa: E402,F401  (sync compiles; developer build or installed package)

import numpy as np  # noqa: E402

import tracejit  # noqa: E402

PEERS = ("numba", "numexpr", "jax")


# ---------------------------------------------------------------------------------------------
# Workloads, as a NumPy user writes them (these are what tracejit compiles).


def tanh_chain(a, b, c, d):
    return np.tanh(a * b + c) * 0.5 + d


def arith_chain(a, b, c, d):
    return a * b + c * d - a


def softmax(x):
    m = x.max(axis=1, keepdims=True)
    e = np.exp(x - m)
    return e / e.sum(axis=1, keepdims=True)


def layernorm(x, gamma, beta):
    mu = x.mean(axis=1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=1, keepdims=True)
    return (x - mu) / np.sqrt(var + 1e-5) * gamma + beta


def mlp(x, w, b):
    return np.maximum(x @ w + b, 0)


def stencil(u):
    return u[1:-1, 1:-1] + 0.1 * (u[:-2, 1:-1] + u[2:, 1:-1] + u[1:-1, :-2] + u[1:-1, 2:]
                                  - 4 * u[1:-1, 1:-1])


def sumsq(x):
    return (x * x).sum(axis=1)


def pdist(X, Y):
    return ((X[:, None, :] - Y[None, :, :]) ** 2).sum(-1)


# ---------------------------------------------------------------------------------------------
# Numba: the same function when @njit accepts it, else a hand-written loop (marked '*').


def nb_softmax(x):
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        m = x[i].max()
        e = np.exp(x[i] - m)
        out[i] = e / e.sum()
    return out


def nb_layernorm(x, gamma, beta):
    out = np.empty_like(x)
    eps = np.float32(1e-5)
    for i in range(x.shape[0]):
        d = x[i] - x[i].mean()
        var = (d * d).mean()
        out[i] = d / np.sqrt(var + eps) * gamma + beta
    return out


def nb_sumsq(x):
    out = np.empty(x.shape[0], x.dtype)
    for i in range(x.shape[0]):
        out[i] = (x[i] * x[i]).sum()
    return out


def nb_pdist(X, Y):
    out = np.empty((X.shape[0], Y.shape[0]), X.dtype)
    for i in range(X.shape[0]):
        for j in range(Y.shape[0]):
            s = X.dtype.type(0)
            for k in range(X.shape[1]):
                t = X[i, k] - Y[j, k]
                s += t * t
            out[i, j] = s
    return out


# numexpr: an expression over named operands (views are fine); None where it has no form.
def ne_stencil_args(u):
    return {"c": u[1:-1, 1:-1], "n": u[:-2, 1:-1], "s": u[2:, 1:-1], "w": u[1:-1, :-2],
            "e": u[1:-1, 2:]}


NUMEXPR = {
    "tanh_chain": ("tanh(a*b + c)*0.5 + d", lambda a, b, c, d: dict(a=a, b=b, c=c, d=d)),
    "arith_chain": ("a*b + c*d - a", lambda a, b, c, d: dict(a=a, b=b, c=c, d=d)),
    "stencil": ("c + 0.1*(n + s + w + e - 4*c)", ne_stencil_args),
    "sumsq": ("sum(x*x, axis=1)", lambda x: dict(x=x)),
    "pdist": ("sum((x - y)**2, axis=2)", lambda X, Y: dict(x=X[:, None, :], y=Y[None, :, :])),
}


def jax_versions(jnp):
    return {
        "tanh_chain": lambda a, b, c, d: jnp.tanh(a * b + c) * 0.5 + d,
        "arith_chain": lambda a, b, c, d: a * b + c * d - a,
        "softmax": lambda x: (lambda e: e / e.sum(axis=1, keepdims=True))(
            jnp.exp(x - x.max(axis=1, keepdims=True))),
        "layernorm": lambda x, g, b: (lambda mu: (x - mu) / jnp.sqrt(
            ((x - mu) ** 2).mean(axis=1, keepdims=True) + 1e-5) * g + b)(
            x.mean(axis=1, keepdims=True)),
        "mlp": lambda x, w, b: jnp.maximum(x @ w + b, 0),
        "stencil": lambda u: u[1:-1, 1:-1] + 0.1 * (u[:-2, 1:-1] + u[2:, 1:-1] + u[1:-1, :-2]
                                                    + u[1:-1, 2:] - 4 * u[1:-1, 1:-1]),
        "sumsq": lambda x: (x * x).sum(axis=1),
        "pdist": lambda X, Y: ((X[:, None, :] - Y[None, :, :]) ** 2).sum(-1),
    }


def f32(rng, *shape):
    return rng.standard_normal(shape, dtype=np.float32)


# name, label, function, make args, numba loop fallback, rtol for the check against NumPy
WORKLOADS = [
    ("tanh_chain", "tanh(a*b+c)*0.5+d 4M f32", tanh_chain,
     lambda r: [f32(r, 4_000_000) for _ in range(4)], None, 1e-5),
    ("arith_chain", "a*b+c*d-a 4M f32", arith_chain,
     lambda r: [f32(r, 4_000_000) for _ in range(4)], None, 1e-6),
    ("softmax", "row softmax 4096x1024 f32", softmax,
     lambda r: [f32(r, 4096, 1024)], nb_softmax, 1e-5),
    ("layernorm", "layernorm 4096x1024 f32", layernorm,
     lambda r: [f32(r, 4096, 1024), f32(r, 1024), f32(r, 1024)], nb_layernorm, 1e-4),
    ("mlp", "relu(x@w+b) 1024x256x512", mlp,
     lambda r: [f32(r, 1024, 256), f32(r, 256, 512), f32(r, 512)], None, 1e-4),
    ("stencil", "5-pt stencil 2048^2 f64", stencil,
     lambda r: [r.standard_normal((2048, 2048))], None, 1e-12),
    ("sumsq", "(x*x).sum(1) 4096x1024 f32", sumsq,
     lambda r: [f32(r, 4096, 1024)], nb_sumsq, 1e-5),
    ("pdist", "pairwise sq dist 1024x1024x16", pdist,
     lambda r: [f32(r, 1024, 16), f32(r, 1024, 16)], nb_pdist, 1e-5),
]
QUICK = ["tanh_chain", "arith_chain", "softmax", "sumsq", "pdist"]


# ---------------------------------------------------------------------------------------------


def time_round_robin(callables, runs, stat):
    """ms per call for each callable; one call of each per round, so noise hits all alike. Each
    round starts one system later than the one before, so every system follows every other
    equally often (a peer whose worker threads keep spinning after its call -- OpenBLAS, XLA's
    Eigen pool -- slows whoever runs next; a fixed order would charge it to one system)."""
    times = {k: [] for k in callables}
    order = list(callables.items())
    for r in range(runs):
        s = r % len(order)
        for k, fn in order[s:] + order[:s]:
            t0 = time.perf_counter()
            fn()
            times[k].append((time.perf_counter() - t0) * 1e3)
    pick = min if stat == "min" else statistics.median
    return {k: pick(v) for k, v in times.items()}


def max_err(expected, got):
    """max |got - numpy| / max |numpy|, or a word when they differ in kind."""
    got = np.asarray(got)
    if got.shape != expected.shape:
        return math.inf, f"shape {got.shape}"
    if got.dtype != expected.dtype:
        note = f"dtype {got.dtype}"
    else:
        note = ""
    e = expected.astype(np.float64)
    scale = float(np.max(np.abs(e))) or 1.0
    return float(np.max(np.abs(got.astype(np.float64) - e))) / scale, note


def close(expected, got, rtol):
    err, note = max_err(expected, got)
    return err <= rtol and not note.startswith("shape"), err, note


def short_reason(reason):
    """'/long/path/bench_suite.py:53: compile failed: ...' -> 'bench_suite.py:53: compile ...'"""
    head, sep, tail = reason.partition(": ")
    return (os.path.basename(head) + sep + tail) if sep else reason


def copy_bandwidth(runs):
    """GB/s (read + write) of np.copyto on 128 MiB, far past the caches: on one thread, and on
    every core at once (one thread per core, each copying its slice; np.copyto releases the GIL).
    tracejit's kernels run on every core, so the bound uses the faster of the two."""
    src = np.ones(32 * 1024 * 1024, dtype=np.float32)
    dst = np.empty_like(src)
    np.copyto(dst, src)
    ncpu = os.cpu_count() or 1
    cut = [k * len(src) // ncpu for k in range(ncpu + 1)]
    parts = [(dst[cut[k]:cut[k + 1]], src[cut[k]:cut[k + 1]]) for k in range(ncpu)]
    pool = ThreadPoolExecutor(ncpu)

    def all_cores():
        list(pool.map(lambda p: np.copyto(*p), parts))

    ms = time_round_robin({"one": lambda: np.copyto(dst, src), "all": all_cores}, max(runs, 5), "min")
    pool.shutdown()
    return 2 * src.nbytes / ms["one"] / 1e6, 2 * src.nbytes / ms["all"] / 1e6


def read_bandwidth(runs):
    """GB/s of reading 256 MiB on every core at once and writing nothing: the faster of NumPy's
    max and BLAS's dot (one thread per core, each over its slice; both release the GIL), median
    of the runs (a minimum catches moments when the machine's other tenants leave the memory
    idle). Measured with NumPy and BLAS, not tracejit, so the ruler does not depend on what it
    measures."""
    src = np.ones(64 * 1024 * 1024, dtype=np.float32)
    ncpu = os.cpu_count() or 1
    cut = [k * len(src) // ncpu for k in range(ncpu + 1)]
    parts = [src[cut[k]:cut[k + 1]] for k in range(ncpu)]
    pool = ThreadPoolExecutor(ncpu)
    ms = time_round_robin({"max": lambda: list(pool.map(np.max, parts)),
                           "dot": lambda: list(pool.map(lambda p: np.dot(p, p), parts))},
                          max(runs, 5), "median")
    pool.shutdown()
    return src.nbytes / min(ms.values()) / 1e6


def peer_calls(name, fn, args, expected, nb_loop, rtol, nb, ne, jax, jx, notes):
    """{peer: callable} for the peers that compute this workload within rtol of NumPy, and the
    numba mark ('*': a hand-written loop). Appends what went wrong to notes."""
    calls = {}
    nb_mark = ""
    if nb:
        for cand, star in ((fn, ""), (nb_loop, "*")):
            if cand is None:
                continue
            try:
                nf = nb.njit(cand)
                ok_nb, _, _ = close(expected, nf(*args), rtol)
            except Exception:
                continue
            if ok_nb:
                calls["numba"] = (lambda nf=nf: nf(*args))
                nb_mark = star
                break
            notes.append("numba result differs")
    if ne and name in NUMEXPR:
        text, bind = NUMEXPR[name]
        local = bind(*args)
        try:
            r = ne.evaluate(text, local_dict=local)
            ok_ne, _, note_ne = close(expected, r, rtol)
            if ok_ne:
                calls["numexpr"] = lambda: ne.evaluate(text, local_dict=local)
                if note_ne:
                    notes.append(f"numexpr {note_ne}")
            else:
                notes.append("numexpr result differs")
        except Exception as ex:  # an expression numexpr cannot take
            notes.append(f"numexpr: {type(ex).__name__}")
    if jx and name in jx:
        try:
            jf = jax.jit(jx[name])
            jargs = [jax.device_put(a) for a in args]
            r = np.asarray(jf(*jargs).block_until_ready())
            ok_jx, _, _ = close(expected, r, rtol)
            if ok_jx:
                calls["jax"] = lambda: jf(*jargs).block_until_ready()
            else:
                notes.append("jax result differs")
        except Exception as ex:
            notes.append(f"jax: {type(ex).__name__}")

    return calls, nb_mark


def fmt(ms):
    if isinstance(ms, str):
        return ms
    return f"{ms:.3f}" if ms < 1 else f"{ms:.2f}"


def import_peers(wanted, numexpr_threads):
    """(numba, numexpr, jax, {workload: jax function}) for the peers in `wanted` that import."""
    nb = ne = jax = jnp = None
    if "numba" in wanted:
        try:
            import numba as nb
        except ImportError:
            pass
    if "numexpr" in wanted:
        try:
            import numexpr as ne
            ne.set_num_threads(numexpr_threads)
        except ImportError:
            pass
    if "jax" in wanted:
        try:
            import jax
            jax.config.update("jax_enable_x64", True)  # the stencil is float64
            jax.config.update("jax_platforms", "cpu")
            import jax.numpy as jnp
        except Exception:  # not installed, or no usable CPU backend
            jax = jnp = None
    return nb, ne, jax, (jax_versions(jnp) if jnp else {})


def peer_version(peer):
    try:
        return importlib.metadata.version(peer)
    except importlib.metadata.PackageNotFoundError:
        return None


def run_peer(peer, chosen, runs, stat, numexpr_threads):
    """Times one peer and NumPy round-robin over the chosen workloads, in this process (the
    --peer child); prints one JSON line {workload: {ms, numpy_ms, mark, notes}}."""
    nb, ne, jax, jx = import_peers({peer}, numexpr_threads)
    rng = np.random.default_rng(0)
    out = {}
    for name, label, fn, make, nb_loop, rtol in WORKLOADS:
        if name not in chosen:
            continue
        args = make(rng)  # the same inputs as the parent's: same seed, same order
        expected = fn(*args)
        notes = []
        calls, mark = peer_calls(name, fn, args, expected, nb_loop, rtol, nb, ne, jax, jx, notes)
        res = {"mark": mark, "notes": notes, "supported": peer in calls}
        if peer in calls:
            calls = {"numpy": lambda: fn(*args), peer: calls[peer]}
            for c in calls.values():
                c()
            t = time_round_robin(calls, runs, stat)
            res.update(ms=t[peer], numpy_ms=t["numpy"])
        out[name] = res
    print(json.dumps(out))


def peers_in_children(chosen, runs, stat, numexpr_threads):
    """{peer: {workload: result}} from one child process per installed peer (run_peer)."""
    results = {}
    for peer in PEERS:
        if not importlib.util.find_spec(peer):
            continue
        cmd = [sys.executable, os.path.abspath(__file__), "--peer", peer, "--only", ",".join(chosen),
               "--runs", str(runs), "--stat", stat, "--numexpr-threads", str(numexpr_threads)]
        r = subprocess.run(cmd, capture_output=True, text=True)
        lines = r.stdout.strip().splitlines()
        if r.returncode != 0 or not lines:
            print(f"{peer}: child failed ({r.returncode}): {r.stderr.strip()[-300:]}", file=sys.stderr)
            continue
        results[peer] = json.loads(lines[-1])
    return results


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)}, 5 runs")
    p.add_argument("--runs", type=int, default=None, help="rounds per workload (default 15)")
    p.add_argument("--stat", choices=["median", "min"], default="median")
    p.add_argument("--only", default="", help="comma-separated workload names")
    p.add_argument("--no-peers", action="store_true", help="skip Numba, numexpr and JAX")
    p.add_argument("--same-process", action="store_true",
                   help="time the peers in this process, round-robin with NumPy and tracejit "
                        "(default: one child process per peer)")
    p.add_argument("--numexpr-threads", type=int, default=1)
    p.add_argument("--peer", choices=PEERS, help=argparse.SUPPRESS)  # the child of a run
    opts = p.parse_args()
    runs = opts.runs or (5 if opts.quick else 15)
    names = [w[0] for w in WORKLOADS]
    chosen = (opts.only.split(",") if opts.only else QUICK if opts.quick else names)
    unknown = set(chosen) - set(names)
    if unknown:
        p.error(f"unknown workload(s) {sorted(unknown)}; known: {names}")
    if opts.peer:
        return run_peer(opts.peer, chosen, runs, opts.stat, opts.numexpr_threads)

    same_process = opts.same_process and not opts.no_peers
    nb, ne, jax, jx = import_peers(() if opts.no_peers or not same_process else PEERS, opts.numexpr_threads)
    child = {} if opts.no_peers or same_process else peers_in_children(chosen, runs, opts.stat,
                                                                        opts.numexpr_threads)
    have = {peer: (peer in child) if not same_process else bool({"numba": nb, "numexpr": ne,
                                                                    "jax": jx}[peer])
            for peer in PEERS}

    gbs_one, gbs_all = copy_bandwidth(runs)
    gbs = max(gbs_one, gbs_all)
    read_gbs = read_bandwidth(runs)
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo")
                if ln.startswith("model name")), platform.processor()) \
        if os.path.exists("/proc/cpuinfo") else platform.processor()
    print(f"tracejit {tracejit.__version__}, NumPy {np.__version__}, Python "
          f"{platform.python_version()}; {cpu}, {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.2f}")
    print(f"{opts.stat} of {runs} round-robin runs; np.copyto bandwidth {gbs_one:.1f} GB/s on one "
          f"thread, {gbs_all:.1f} GB/s on {os.cpu_count()} (bw-bound = bytes in + bytes out at "
          f"{gbs:.1f} GB/s); read bandwidth {read_gbs:.1f} GB/s on {os.cpu_count()}")
    versions = {peer: peer_version(peer) if have[peer] else None for peer in PEERS}
    print(f"numba: {versions['numba'] or '-'}   numexpr: "
          f"{versions['numexpr'] + f' ({opts.numexpr_threads} thread)' if versions['numexpr'] else '-'}   "
          f"jax: {versions['jax'] + ' cpu' if versions['jax'] else '-'}   "
          + ("(timed in this process)" if same_process else
             "(each timed in its own process, round-robin with NumPy there)" if any(have.values()) else ""))

    header = (f"{'workload':<30} {'numpy ms':>9} {'tjit ms':>9} {'ratio':>6} {'compile ms':>10} "
              f"{'bw-bound ms':>11} {'tjit %bw':>8} {'bw ratio':>8} {'read ratio':>10} {'numba ms':>9} {'numexpr ms':>10} "
              f"{'jax ms':>8}  {'max err':>7}  notes")
    print(header)
    print("-" * len(header))
    rng = np.random.default_rng(0)
    for name, label, fn, make, nb_loop, rtol in WORKLOADS:
        if name not in chosen:
            continue
        args = make(rng)
        expected = fn(*args)
        notes = []

        j = tracejit.jit(fn, hot=0, sync=True)
        got = j(*args)
        st = j.stats()
        compiled = st["compiled_calls"] > 0
        compile_ms = st["trace_ms"] + st["compile_ms"]
        ok, err, note = close(expected, got, rtol)
        if note:
            notes.append(f"tjit {note}")
        if not ok:
            notes.append(f"MISMATCH vs NumPy (rtol {rtol:g})")

        calls = {"numpy": lambda: fn(*args)}
        if compiled:
            calls["tjit"] = lambda: j(*args)
        else:
            reasons = st["fallback_reasons"] or ["(no reason recorded)"]
            notes.append("FALLBACK: " + short_reason(reasons[0]))

        marks = {}
        if same_process:
            peers, marks["numba"] = peer_calls(name, fn, args, expected, nb_loop, rtol, nb, ne, jax, jx, notes)
            calls.update(peers)
        for c in calls.values():  # warm-up outside the timed rounds
            c()
        t = time_round_robin(calls, runs, opts.stat)
        if compiled and j.stats()["fallback_calls"] > st["fallback_calls"]:
            notes.append("fell back during timing")
        for peer, res in child.items():
            r = res.get(name, {})
            notes += r.get("notes", [])
            marks[peer] = r.get("mark", "")
            if "ms" in r:
                t[peer] = r["ms"]

        bytes_moved = sum(a.nbytes for a in args) + expected.nbytes
        bound_ms = bytes_moved / (gbs * 1e6)
        read_ms = sum(a.nbytes for a in args) / (read_gbs * 1e6)
        np_ms = t["numpy"]
        tj = t.get("tjit")
        col = {k: (fmt(t[k]) + marks.get(k, "") if k in t else ("n/a" if have[k] else "-")) for k in PEERS}
        print(f"{label:<30} {fmt(np_ms):>9} {fmt(tj) if tj else 'FALLBACK':>9} "
              f"{(f'{np_ms / tj:.2f}' if tj else '-'):>6} {compile_ms:10.1f} {fmt(bound_ms):>11} "
              f"{(f'{100 * bound_ms / tj:.0f}%' if tj else '-'):>8} {np_ms / bound_ms:8.2f} {np_ms / read_ms:10.2f} {col['numba']:>9} "
              f"{col['numexpr']:>10} {col['jax']:>8}  {err:7.1e}  {'; '.join(notes)}",
              flush=True)
    print("ratio = numpy ms / tjit ms (>1: tracejit faster). compile ms = stats() trace_ms + "
          "compile_ms. tjit %bw = bw-bound / tjit ms. bw ratio = numpy ms / bw-bound ms: the ratio a\n"
          "kernel moving its bytes at copy bandwidth would reach (inputs from memory, not cache).\n"
          "read ratio = numpy ms / (input bytes at read bandwidth): the ratio of a kernel that only "
          "reads its inputs and writes nothing -- a ceiling for any kernel\nthat reads them from "
          "memory (inputs the previous call left in the last-level cache can take a kernel near or "
          "past it).\nmax err = max|tjit - numpy| / max|numpy| "
          "(also on fallback: the eager answer). numba '*' = hand-written loop (@njit rejects "
          "the NumPy form); n/a = the peer has no form for it; '-' = not installed.")


if __name__ == "__main__":
    main()
