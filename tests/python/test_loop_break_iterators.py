"""Loop iterators across a graph break inside a for loop, read and rebuilt through their C
structs (tracer/iterstate.cpp): each continuation reads the range, list or tuple iterator's
state and the runtime rebuilds an iterator that must yield exactly eager's remaining items —
at the edges of int64, when the break shrinks or clears the list being iterated, over a tuple
argument. Also: a global the break rebinds is seen by the next continuation (3.11 re-checks
global guards by the dict's version tag). Every case is compared with eager Python/NumPy and
asserts that it ran compiled."""
import math

import numpy as np
import pytest

import tracejit
from conftest import assert_same

B = 2**63


def jit(fn, **kw):
    kw.setdefault("hot", 0)
    kw.setdefault("sync", True)
    return tracejit.jit(fn, **kw)


def ran_compiled(jf, calls, every_continuation=True):
    st = jf.stats()
    assert st["compiled_calls"] == calls and st["fallback_calls"] == 0, st
    assert st["fallback_reasons"] == [], st["fallback_reasons"]
    assert st["continuation_calls"] > 0, st
    if every_continuation:
        assert st["continuation_fallbacks"] == 0, st
    return st


def over_range(x, start, stop, step):
    acc = 0.0
    for i in range(start, stop, step):
        v = math.gamma(float(x[i % 3]) * 0.1 + 2.0)
        acc = acc + v * ((i - start) // step)
    return acc


@pytest.mark.parametrize("start,stop,step", [
    (B - 10, B - 3, 1),          # up to 2**63 - 4
    (-B + 10, -B + 1, -1),       # down to -2**63 + 2
    (B - 20, B - 2, 3),
    (5, -4, -2),
    (0, 7, 2),
])
def test_range_iterator_near_the_int64_edges(start, stop, step):
    x = np.array([0.1, 0.2, 0.3])
    jf = jit(over_range)
    for _ in range(2):
        want, got = over_range(x, start, stop, step), jf(x, start, stop, step)
        assert want == got and type(got) is float
    st = ran_compiled(jf, 2)
    assert st["continuation_calls"] == 2 * len(range(start, stop, step)), st


def test_range_beyond_int64_runs_eagerly_with_reason():
    x = np.array([0.1, 0.2, 0.3])
    jf = jit(over_range)
    for _ in range(2):
        assert over_range(x, B - 10, B + 3, 1) == jf(x, B - 10, B + 3, 1)
    st = jf.stats()
    assert st["compiled_calls"] == 0 and any("beyond int64" in r for r in st["fallback_reasons"]), st


def popping(x, ws):
    acc = x
    for w in ws:
        acc = np.tanh(acc * w) * math.gamma(float(acc[0]) * 0.1 + 2.0)
        ws.pop()  # a break: the list shrinks under its iterator
    return acc


def clearing(x, ws):
    acc = x
    for w in ws:
        acc = np.tanh(acc * w) * math.gamma(float(acc[0]) * 0.1 + 2.0)
        ws.clear()  # the next index is past the end: the loop ends, as eagerly
    return acc


@pytest.mark.parametrize("fn,n", [(popping, 6), (popping, 5), (clearing, 3)])
def test_list_changed_by_the_break(fn, n):
    x = np.array([0.3, 0.2, 0.1])
    make = lambda: [np.full(3, 0.1 * (k + 1)) for k in range(n)]
    jf = jit(fn)
    for _ in range(3):
        ws_want, ws_got = make(), make()
        assert_same(fn(x, ws_want), jf(x, ws_got), rtol=1e-12)
        assert len(ws_want) == len(ws_got)
        for a, b in zip(ws_want, ws_got):
            assert_same(a, b)
    # (ws.pop is a new bound method each call, guarded by value: a version per call, so past
    # recompile_limit a continuation may run eagerly)
    ran_compiled(jf, 3, every_continuation=False)


def over_tuple_arg(x, ws):
    acc = x
    for w in ws:
        acc = np.tanh(acc * w) * math.gamma(float(acc[0]) * 0.1 + 2.0)
    return acc


def test_tuple_argument_iterator():
    x = np.array([0.3, 0.2, 0.1])
    jf = jit(over_tuple_arg)
    for k in range(3):
        ws = tuple(np.full(3, 0.1 * (j + k)) for j in range(4))
        assert_same(over_tuple_arg(x, ws), jf(x, ws), rtol=1e-12)
    st = ran_compiled(jf, 3)
    assert st["continuation_calls"] == 3 * 4, st


SCALE = 1.0


def grow_scale(v):
    global SCALE  # STORE_GLOBAL is not traced: the call is a break of its own
    SCALE = SCALE * 1.5
    return v


def uses_global(x):
    acc = np.zeros_like(x[0])
    for i in range(x.shape[0]):
        v = grow_scale(math.gamma(float(x[i, 0]) * 0.1 + 1.5))
        acc = acc + x[i] * SCALE * v
    return acc


def test_global_rebound_by_the_break_is_seen():
    global SCALE
    x = np.arange(12.0).reshape(6, 2) * 0.1
    jf = jit(uses_global)
    for _ in range(3):
        SCALE = 1.0
        want = uses_global(x)
        SCALE = 1.0
        got = jf(x)
        assert_same(want, got, rtol=1e-12)
        assert SCALE == 1.5**6
    ran_compiled(jf, 3)
