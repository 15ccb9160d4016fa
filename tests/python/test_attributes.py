"""Attributes behind which user code runs: a property's getter, a descriptor's __get__,
__getattr__ / __getattribute__. Eagerly that code runs once per access, in program order; the
jitted function must do the same (it used to read a property at trace time and again through
its guards: twice per call). A property with a Python getter is inlined and compiles; the others
run eagerly with a recorded reason. Every case compares with the eager run."""
import numpy as np
import pytest

import tracejit

from conftest import assert_same, compare_eager, jit_now

LOG = []


class Counting:
    def __init__(self, scale):
        self.scale = scale

    @property
    def factor(self):
        LOG.append("factor")
        return self.scale * 2.0


class Layer:
    def __init__(self, w):
        self.w = w

    @property
    def wt(self):
        return self.w.T


def uses_property(x, o):
    print("before", x.shape)
    y = x * o.factor
    print("after")
    return y + o.factor


def test_property_getter_runs_once_per_access_in_order(capsys):
    def make(k):
        LOG.clear()
        return np.arange(6.0) + k, Counting(1.5 + k)

    want = []
    for k in range(3):
        args = make(k)
        uses_property(*args)
        want.append(list(LOG))
    capsys.readouterr()
    jf = compare_eager(uses_property, make, capsys)
    for k in range(3):
        LOG.clear()
        jf(*make(k))
        assert LOG == want[k] == ["factor", "factor"]


def test_pure_property_compiles_and_follows_the_instance():
    def forward(x, layer):
        return x @ layer.wt

    r = np.random.default_rng(0)
    x, w = r.standard_normal((5, 4)), r.standard_normal((3, 4))
    jf = jit_now(forward)
    assert_same(forward(x, Layer(w)), jf(x, Layer(w)))
    w2 = r.standard_normal((3, 4))
    assert_same(forward(x, Layer(w2)), jf(x, Layer(w2)))
    st = jf.stats()
    assert st["compiled_calls"] == 2 and st["graph_breaks"] == 0, st


def test_redefined_property_is_seen():
    class K:
        @property
        def v(self):
            return 2.0

    def f(x, k):
        return x * k.v

    jf = jit_now(f)
    x = np.ones(3)
    assert_same(x * 2.0, jf(x, K()))
    K.v = property(lambda self: 5.0)
    assert_same(x * 5.0, jf(x, K()))


class WithGetattr:
    def __init__(self):
        self.hits = 0

    def __getattr__(self, name):
        self.hits += 1
        return 3.0


class Doubler:
    """A descriptor written in Python."""

    def __get__(self, obj, objtype=None):
        obj.reads += 1
        return obj.base * 2


class WithDescriptor:
    d = Doubler()

    def __init__(self, base):
        self.base = base
        self.reads = 0


class logged_property(property):
    """A property subclass whose __get__ is Python code: not the plain getter."""

    def __get__(self, obj, objtype=None):
        obj.reads += 1
        return super().__get__(obj, objtype)


class WithLoggedProperty:
    def __init__(self):
        self.reads = 0

    @logged_property
    def v(self):
        return 4.0


class CallableProperty:
    @property
    def fn(self):
        LOG.append("fn")
        return np.sqrt


@pytest.mark.parametrize("kind", ["getattr", "descriptor", "property subclass", "called property"])
def test_other_user_attributes_run_eagerly_once(kind):
    if kind == "property subclass":
        def f(x, o):
            return x * o.v
        make, count = WithLoggedProperty, (lambda o: o.reads)
    elif kind == "getattr":
        def f(x, o):
            return x * o.anything
        make, count = WithGetattr, lambda o: o.hits
    elif kind == "descriptor":
        def f(x, o):
            return x + o.d
        make, count = (lambda: WithDescriptor(np.arange(3.0))), (lambda o: o.reads)
    else:
        def f(x, o):
            return o.fn(x)
        make, count = CallableProperty, (lambda o: LOG.count("fn"))
    x = np.arange(3.0) + 1
    LOG.clear()
    eo = make()
    want = f(x, eo)
    jf = tracejit.jit(f, hot=0, sync=True)
    for _ in range(2):
        LOG.clear()
        o = make()
        assert_same(want, jf(x, o))
        assert count(o) == count(eo) == 1
    st = jf.stats()
    if kind == "called property":  # the method call itself runs eagerly between compiled graphs
        reasons = st["graph_break_reasons"]
        assert st["graph_breaks"] >= 1 and any("property '.fn'" in r for r in reasons), st
    else:
        reasons = st["fallback_reasons"]
        assert st["compiled_calls"] == 0 and any("not traced" in r for r in reasons), st


def test_plain_attributes_slots_and_methods_still_compile():
    class Slotted:
        __slots__ = ("a",)

        def __init__(self, a):
            self.a = a

    class Model:
        bias = 0.5

        def __init__(self, w):
            self.w = w

        def act(self, x):
            return np.tanh(x)

    def f(x, m, s):
        return m.act(x * m.w + m.bias) + s.a

    x = np.linspace(-1, 1, 7)
    args = (x, Model(np.full(7, 2.0)), Slotted(np.ones(7)))
    jf = jit_now(f)
    # tanh within its stated 1-ulp bound (|tanh| < 1: an ulp is at most 1.1e-16), then + 1
    np.testing.assert_allclose(jf(*args), f(*args), rtol=0, atol=2.3e-16)
    st = jf.stats()
    assert st["compiled_calls"] == 1 and st["graph_breaks"] == 0, st
