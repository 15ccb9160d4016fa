"""Accumulators whose Python type depends on the data across a graph break inside a loop:
`n = 0; for ...: <break>; if x[i] > 0: n += x[i]` leaves n a Python int where nothing was added
and an np.int64 (a Python float / np.float64 for float data) from the first addition on. At the
break the frame state holds the arm that ran (EffectOperand::Choice), and a Python int arm makes
the slot a runtime int in the continuation (StateHint::IntOrScalar): a constant number of
compiled versions, the result of eager's type and value. Compared with eager Python/NumPy,
asserting what compiled."""
import math

import numpy as np
import pytest

import tracejit


def jit(fn, **kw):
    kw.setdefault("hot", 0)
    kw.setdefault("sync", True)
    return tracejit.jit(fn, **kw)


def add_positive(x):
    n = 0
    for i in range(x.shape[0]):
        v = math.gamma(float(i % 3) + 1.5)  # a graph break each iteration
        if x[i] > 0:
            n += x[i]
    return n


def add_positive_or_count(x):
    n = 0
    for i in range(x.shape[0]):
        v = math.gamma(float(i % 3) + 1.5)
        if x[i] > 0:
            n += x[i]
        else:
            n += 1  # the Python int side grows too
    return n


def add_positive_from(x, n):
    for i in range(x.shape[0]):
        v = math.gamma(float(i % 3) + 1.5)
        if x[i] > 0:
            n += x[i]
    return n


DATA = [
    [1, -2, 3, 4, -5],
    [-1, -2, -3],                 # nothing added: stays a Python int
    [-1, -2, 3, 4, 5, 6, 7, 8, 9, 10],
    list(range(-3, 40)),
    [],
]


def check(fn, x, *more, calls=3, max_compiles=6):
    jf = jit(fn)
    for _ in range(calls):
        want, got = fn(x, *more), jf(x, *more)
        assert type(want) is type(got) and want == got, (want, got)
    st = jf.stats()
    assert st["compiled_calls"] == calls and st["fallback_calls"] == 0, st
    assert st["fallback_reasons"] == [], st["fallback_reasons"]
    assert st["continuation_fallbacks"] == 0, st
    assert st["continuation_calls"] == calls * len(x), st
    assert st["compiles"] <= max_compiles, st
    return got


@pytest.mark.parametrize("data", DATA)
@pytest.mark.parametrize("dtype", [np.int64, np.float64])
def test_accumulator_python_or_numpy_scalar(data, dtype):
    x = np.array(data, dtype=dtype)
    got = check(add_positive, x)
    assert type(got) is (int if all(v <= 0 for v in data) else dtype)


@pytest.mark.parametrize("data", DATA[:4])
def test_python_int_side_grows(data):
    # (its bounds widen once: a version more)
    check(add_positive_or_count, np.array(data, dtype=np.int64), max_compiles=7)


@pytest.mark.parametrize("fn,max_compiles", [(add_positive, 6), (add_positive_or_count, 7)])
def test_many_iterations_reuse_the_continuation(fn, max_compiles):
    x = np.random.default_rng(0).integers(-50, 50, 500)
    x[:40] = -1  # a Python int for a while, then np.int64
    check(fn, x, max_compiles=max_compiles)


def test_python_int_beyond_int64_raises_as_eagerly():
    x = np.array([-1, 2, 3], dtype=np.int64)
    jf = jit(add_positive_from)
    for _ in range(2):
        with pytest.raises(OverflowError) as want:
            add_positive_from(x, 2**70)
        with pytest.raises(OverflowError) as got:
            jf(x, 2**70)
        assert str(want.value) == str(got.value)
    # below int64 it compiles
    check(add_positive_from, x, 2**40)
