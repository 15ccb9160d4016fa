"""relu(x @ w + b) (1024x256 @ 256x512 float32) timed right after another system's call of the
same function in the same process: none, Numba's @njit (its matmul runs on SciPy's OpenBLAS, whose
threads keep spinning after a call) or jax.jit. NumPy and tracejit alternate, each preceded by
the neighbour's call; median of 20 calls each, ms. Shows how another runtime's threads slow the
next matmul of either system. Run: python benchmarks/bench_blas_neighbours.py [none|numba|jax]"""
import sys
import time

import _bench_env  # noqa: F401  (sync compiles; developer build or installed package)

import numpy as np  # noqa: E402

import tracejit  # noqa: E402


def layer(x, w, b):
    return np.maximum(x @ w + b, 0)


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "none"
    rng = np.random.default_rng(0)
    x, w, b = (rng.random(s, dtype=np.float32) for s in ((1024, 256), (256, 512), (512,)))
    jf = tracejit.jit(layer, hot=0, sync=True)
    assert np.allclose(jf(x, w, b), layer(x, w, b), rtol=1e-5)
    neighbour = None
    if mode == "numba":
        import numba
        g = numba.njit(layer)
        g(x, w, b)
        neighbour = lambda: g(x, w, b)  # noqa: E731
    elif mode == "jax":
        import jax
        import jax.numpy as jnp
        h = jax.jit(lambda x, w, b: jnp.maximum(x @ w + b, 0))
        xj, wj, bj = map(jnp.asarray, (x, w, b))
        h(xj, wj, bj).block_until_ready()
        neighbour = lambda: h(xj, wj, bj).block_until_ready()  # noqa: E731
    times = {"numpy": [], "tracejit": []}
    for _ in range(20):
        for name, fn in (("numpy", lambda: layer(x, w, b)), ("tracejit", lambda: jf(x, w, b))):
            if neighbour:
                neighbour()
            t0 = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t0) * 1e3)
    med = {k: sorted(v)[len(v) // 2] for k, v in times.items()}
    print(f"after {mode:5s}: numpy {med['numpy']:.2f} ms, tracejit {med['tracejit']:.2f} ms")


if __name__ == "__main__":
    main()
