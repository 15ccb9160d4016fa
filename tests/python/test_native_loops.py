"""Loop regions whose bodies only read single elements (scalar accumulators, Horner's rule,
reversed indexing) compile to one native nest (backends/cpu/scalar_loop.cpp). Results must be
exactly eager NumPy's, and the same with native nests turned off (TRACEJIT_NATIVE_LOOPS=0: the
kernel-per-iteration program path)."""
import re

import numpy as np
import pytest

import tracejit


def dot(x, y):
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i] * y[i]
    return s


def horner(c, x):
    acc = 0.0
    for k in range(c.shape[0]):
        acc = acc * x + c[k]
    return acc


def mirrored(a):
    t = 0
    for i in range(a.shape[0]):
        t += a[i] * a[a.shape[0] - 1 - i]
    return t


def running_max(x):
    m = x[0]
    for i in range(1, x.shape[0]):
        m = np.maximum(m, x[i] - 0.5 * x[i - 1])
    return m


CASES = [
    (dot, lambda rng: (rng.standard_normal(1000), rng.standard_normal(1000))),
    (dot, lambda rng: (rng.standard_normal(77).astype(np.float32), rng.standard_normal(77).astype(np.float32))),
    (horner, lambda rng: (rng.standard_normal(50), 0.7)),
    (mirrored, lambda rng: (np.arange(40, dtype=np.int32) - 7,)),
    (mirrored, lambda rng: (rng.integers(0, 255, 33).astype(np.uint8),)),
    (running_max, lambda rng: (np.where(rng.random(64) < 0.1, np.nan, rng.standard_normal(64)),)),
]


def exact(got, want):
    assert type(got) is type(want), f"{type(got).__name__} != {type(want).__name__}"
    g, w = np.asarray(got), np.asarray(want)
    assert g.dtype == w.dtype
    assert np.array_equal(g, w, equal_nan=w.dtype.kind == "f"), f"{got!r} != {want!r}"


@pytest.mark.parametrize("native", ["1", "0"])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_scalar_loops_match_numpy(case, native, monkeypatch):
    monkeypatch.setenv("TRACEJIT_NATIVE_LOOPS", native)
    fn, make = CASES[case]
    args = make(np.random.default_rng(case))
    # uint8 products wrap; NumPy's scalar math reports it (the compiled call would re-run eagerly
    # to warn, see test_scalar_overflow.py): ignored both ways.
    with np.errstate(over="ignore"):
        want = fn(*args)
        f = tracejit.jit(fn, hot=0, sync=True)
        assert len(re.findall(r"= loop ", tracejit.explain(fn, *args))) == 1  # a region, not unrolled
        for _ in range(2):
            exact(f(*args), want)
    assert f.stats()["compiled_calls"] == 2 and f.stats()["fallback_calls"] == 0
