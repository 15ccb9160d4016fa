"""Python semantics under jit: inlined calls, closures, objects, containers, unrolled loops,
and the guards that keep them correct when globals, attributes or functions change."""
import numpy as np
import pytest

import tracejit
from conftest import assert_same

A = np.linspace(-2.0, 2.0, 12)
SCALE = 2.0
FLAG_LIST = []


def helper(x, k=3.0):
    return x * k + 1.0


def uses_helper(a):
    return helper(a) - helper(a, 0.5) + helper(a, k=2.0)


def test_inlined_calls_with_defaults_and_keywords():
    f = tracejit.jit(uses_helper, hot=0)
    assert_same(uses_helper(A), f(A))
    assert f.stats()["compiled_calls"] == 1, f.stats()


def test_closure_value_is_guarded():
    def make(c):
        def inner(a):
            return a * c
        return inner
    g = make(3.0)
    f = tracejit.jit(g, hot=0)
    assert_same(g(A), f(A))
    assert f.stats()["compiled_calls"] == 1


def test_global_rebinding_recompiles():
    global SCALE

    def scaled(a):
        return a * SCALE

    f = tracejit.jit(scaled, hot=0)
    assert_same(scaled(A), f(A))
    old = SCALE
    try:
        SCALE = 5.0
        assert_same(scaled(A), f(A))
    finally:
        SCALE = old
    assert_same(scaled(A), f(A))


def test_rebinding_np_function_is_never_stale(monkeypatch):
    def t(a):
        return np.tanh(a)

    f = tracejit.jit(t, hot=0)
    assert_same(np.tanh(A), f(A), rtol=1e-14)
    monkeypatch.setattr(np, "tanh", np.sin)
    assert_same(np.sin(A), f(A), rtol=1e-14)


def test_code_and_defaults_changes_are_seen():
    def g(a, k=2.0):
        return a * k

    f = tracejit.jit(g, hot=0)
    assert_same(g(A), f(A))
    g.__defaults__ = (4.0,)
    assert_same(A * 4.0, f(A))
    g.__code__ = (lambda a, k=2.0: a + k).__code__
    assert_same(A + 4.0, f(A))


class Model:
    def __init__(self):
        self.w = np.arange(12.0)
        self.b = 0.5
        self.layers = [(np.ones(12), 1.0), (np.full(12, 2.0), -1.0)]

    def __call__(self, x):
        for w, c in self.layers:
            x = x * w + c
        return x * self.w + self.b


def test_callable_object_attributes_and_lists():
    m = Model()
    f = tracejit.jit(m, hot=0)
    assert_same(m(A), f(A))
    assert f.stats()["compiled_calls"] == 1, f.stats()
    m.w = np.full(12, 3.0)                 # same guard (array of the same type/shape): new data
    assert_same(m(A), f(A))
    m.layers.append((np.ones(12), 0.0))    # the list's length is guarded
    assert_same(m(A), f(A))
    m.b = 7                                # a float became an int: recompiles
    assert_same(m(A), f(A))


def test_method_decorated():
    class K:
        scale = 3.0

        @tracejit.jit
        def apply(self, x):
            return x * 2.0

    k = K()
    for _ in range(3):
        assert_same(A * 2.0, k.apply(A))


def test_dict_of_arrays_argument():
    def block(x, p):
        return x * p["g"] + p["b"]

    p = {"g": np.full(12, 2.0), "b": np.ones(12)}
    f = tracejit.jit(block, hot=0)
    assert_same(block(A, p), f(A, p))
    assert f.stats()["compiled_calls"] == 1, f.stats()
    p["b"] = np.zeros(12)
    assert_same(block(A, p), f(A, p))


def test_unrolled_range_enumerate_zip():
    def loops(a, n):
        acc = a * 0.0
        for i in range(n):
            acc = acc + a * float(i)
        for i, (x, y) in enumerate(zip([1.0, 2.0], [3.0, 4.0])):
            acc = acc + x * y * i
        return acc

    f = tracejit.jit(loops, hot=0)
    assert_same(loops(A, 5), f(A, 5))
    assert_same(loops(A, 7), f(A, 7))      # a new trip count recompiles (ints are specialized)
    assert f.stats()["compiles"] == 2


def test_branch_on_mutable_global_list():
    def br(a):
        if FLAG_LIST:
            return a * 2.0
        return a * 3.0

    f = tracejit.jit(br, hot=0)
    assert_same(br(A), f(A))
    FLAG_LIST.append(1)
    try:
        assert_same(br(A), f(A))
    finally:
        FLAG_LIST.clear()


def test_shape_attributes_and_unpacking():
    def s(x):
        n, d = x.shape
        return x * (n + d) + x.ndim + x.size

    x = np.ones((3, 4))
    f = tracejit.jit(s, hot=0)
    assert_same(s(x), f(x))
    assert f.stats()["compiled_calls"] == 1


def test_returning_a_view_of_an_input_runs_eagerly():
    def v(a):
        return a.reshape(3, 4)

    f = tracejit.jit(v, hot=0)
    r = f(A)
    assert np.shares_memory(r, A)          # the same view eager NumPy returns
    assert any("view" in reason for reason in f.stats()["fallback_reasons"])


def test_exceptions_propagate_from_inlined_code():
    def bad(a, b):
        return helper(a) + b

    f = tracejit.jit(bad, hot=0)
    with pytest.raises(ValueError):
        bad(A, np.ones(5))
    with pytest.raises(ValueError):
        f(A, np.ones(5))


def test_inplace_update_of_an_argument_is_seen_by_the_caller():
    def upd(w, g, lr):
        w -= lr * g
        return w

    f = tracejit.jit(upd, hot=0)
    w, g = np.ones(8), np.arange(8.0)
    r = f(w, g, 0.5)
    assert r is w
    assert_same(np.ones(8) - 0.5 * np.arange(8.0), w)
    assert f.stats()["compiled_calls"] == 1, f.stats()


def test_inplace_with_aliased_arguments_gives_numpys_answer():
    def upd(a, b):
        a += b
        return a + b

    f = tracejit.jit(upd, hot=0)
    x = np.arange(4.0)
    f(np.zeros(4), np.ones(4))           # compiled for distinct arrays
    y = np.arange(4.0)
    assert_same(upd(y, y), f(x, x))      # the same array twice: runs eagerly, same answer
    assert_same(y, x)


def test_inplace_errors_match_numpy():
    def upd(a):
        a += 1.5
        return a

    f = tracejit.jit(upd, hot=0)
    with pytest.raises(np._core._exceptions._UFuncOutputCastingError):
        f(np.arange(3))
    ro = np.ones(3)
    ro.setflags(write=False)
    with pytest.raises(ValueError):
        f(ro)


def test_slice_assignment_into_argument_and_local():
    def sa(u):
        t = np.zeros_like(u)
        t[1:-1, 1:-1] = u[1:-1, 1:-1] * 2.0 + u[:-2, 1:-1]
        u[1:-1, 1:-1] = t[1:-1, 1:-1]
        u[0] = 7.0
        return t.sum()

    u = np.arange(30.0).reshape(5, 6)
    ref = u.copy()
    f = tracejit.jit(sa, hot=0)
    assert_same(sa(ref), f(u), rtol=1e-12)
    assert_same(ref, u)
