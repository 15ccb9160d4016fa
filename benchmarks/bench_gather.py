"""Integer-array indexing (x[idx], x[:, idx], np.take), compiled as a gather that fuses into
its consumers since this benchmark was added (before, each was a graph break: NumPy's fancy
indexing ran eagerly between two compiled graphs), and assignment through it (y[idx] = 0,
w[idx] -= lr * g, np.add.at, np.histogram's counts), compiled as a scatter (before: the whole
function ran eagerly; np.histogram was a graph break). NumPy vs
tracejit in the same run, one call of each per round (median of the rounds); every result, and
every argument a workload updates in place, is checked against NumPy first.
Run: python benchmarks/bench_gather.py [--runs N]"""
import argparse

from _bench_env import time_alternating  # noqa: E402  (sync compiles; developer build or installed package)

import numpy as np  # noqa: E402

import tracejit  # noqa: E402

R = np.random.default_rng(0)


def kmeans_residual(x, c, labels):
    return ((x - c[labels]) ** 2).sum(axis=1)  # each point's squared distance to its centroid


def embedding(table, tokens):
    return table[tokens] * 2.0


def permute(v, p):
    return v[p] + 1.0


def take(v, p):
    return np.take(v, p) * 2.0


def columns(m, cols):
    return np.tanh(m[:, cols])


def zero_some(x, idx):
    y = x * 2.0
    y[idx] = 0.0
    return np.tanh(y)


def sgd_rows(w, idx, g):
    w[idx] -= 0.01 * g  # embedding rows updated in place
    return w


def zero_columns(m, cols):
    y = m * 1.0
    y[:, cols] = 0.0
    return y


def centroid_sums(x, labels):
    s = np.zeros((64, x.shape[1]), x.dtype)
    np.add.at(s, labels, x)  # unbuffered: every point added to its centroid's row
    return s


def histogram(x):
    return np.histogram(x, 50)  # edges from the data's min and max


def histogram_range(x):
    return np.histogram(x, 50, range=(-2.0, 2.0))  # values outside not counted


WORKLOADS = [
    ("kmeans residual 1Mx16 f32, k=64", kmeans_residual,
     (R.standard_normal((1 << 20, 16)).astype(np.float32), R.standard_normal((64, 16)).astype(np.float32),
      R.integers(0, 64, 1 << 20))),
    ("embedding [50K,128][64,256] f32", embedding,
     (R.standard_normal((50_000, 128)).astype(np.float32), R.integers(0, 50_000, (64, 256)))),
    ("v[perm] + 1 4M f32", permute, (R.standard_normal(1 << 22).astype(np.float32), R.permutation(1 << 22))),
    ("np.take(v, perm) * 2 4M f32", take, (R.standard_normal(1 << 22).astype(np.float32), R.permutation(1 << 22))),
    ("tanh(m[:, cols]) 2048^2 f32, 512 cols", columns,
     (R.standard_normal((2048, 2048)).astype(np.float32), R.integers(0, 2048, 512))),
    ("y[idx] = 0; tanh 4M f32, 100K idx", zero_some,
     (R.standard_normal(1 << 22).astype(np.float32), R.integers(0, 1 << 22, 100_000))),
    ("w[idx] -= lr*g [50K,64] f32, 4096 rows", sgd_rows,
     (R.standard_normal((50_000, 64)).astype(np.float32), R.integers(0, 50_000, 4096),
      R.standard_normal((4096, 64)).astype(np.float32))),
    ("np.add.at(sums, labels, x) 1Mx16 f32", centroid_sums,
     (R.standard_normal((1 << 20, 16)).astype(np.float32), R.integers(0, 64, 1 << 20))),
    ("y[:, cols] = 0 2048^2 f32, 512 cols", zero_columns,
     (R.standard_normal((2048, 2048)).astype(np.float32), R.integers(0, 2048, 512))),
    ("np.histogram(x, 50) 1M f64", histogram, (R.standard_normal(1 << 20),)),
    ("np.histogram(x, 50, range=) 1M f64", histogram_range, (R.standard_normal(1 << 20),)),
    ("np.histogram(x, 50) 4M f32", histogram, (R.standard_normal(1 << 22).astype(np.float32),)),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=21)
    args = ap.parse_args()
    print(f"tracejit {tracejit.__version__}, NumPy {np.__version__}; median of {args.runs} round-robin runs")
    print(f"{'workload':40s} {'numpy ms':>9s} {'tjit ms':>9s} {'ratio':>6s}")
    for name, fn, inputs in WORKLOADS:
        jf = tracejit.jit(fn, hot=0, sync=True)
        mine = [a.copy() for a in inputs]
        theirs = [a.copy() for a in inputs]
        want, got = fn(*theirs), jf(*mine)
        for w, g in zip(want, got) if isinstance(want, tuple) else [(want, got)]:
            np.testing.assert_allclose(g, w, rtol=2e-6, atol=1e-6)
        for a, b in zip(theirs, mine):
            np.testing.assert_array_equal(a, b)
        s = jf.stats()
        assert s["compiled_calls"] == 1 and not s["graph_breaks"], (name, s["graph_break_reasons"])
        n, j = time_alternating(lambda: fn(*inputs), lambda: jf(*inputs), args.runs)
        print(f"{name:40s} {n:9.3f} {j:9.3f} {n / j:6.2f}")


if __name__ == "__main__":
    main()
