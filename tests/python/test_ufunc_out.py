"""Ufuncs with an output array: np.add(a, b, out=c), np.exp(x, out=x), out=(c,), out=None, the
output given positionally. NumPy computes in the loop dtype the inputs resolve to, broadcasts the
inputs against the output's shape, casts to the output's dtype under same_kind casting and
returns the output object itself. Every case compares the return, its identity and every
argument with the eager run, and asserts the call compiled without a graph break."""
import numpy as np
import pytest

import tracejit

from conftest import assert_same, jit_now


def check(fn, make, compiled=True, rtol=0.0):
    """fn eagerly and jitted on fresh arguments (twice jitted, so the cached call is checked);
    returns the jitted function and its last arguments and result."""
    eargs = make()
    want = fn(*eargs)
    jf = jit_now(fn)
    for _ in range(2):
        args = make()
        got = jf(*args)
        if isinstance(want, tuple):
            assert type(got) is tuple and len(got) == len(want)
            for w, g in zip(want, got):
                assert_same(w, g, rtol=rtol)
        else:
            assert_same(want, got, rtol=rtol)
        for e, a in zip(eargs, args):
            if isinstance(e, np.ndarray):
                assert_same(e, a, rtol=rtol)
    st = jf.stats()
    if compiled:
        assert st["compiled_calls"] == 2 and st["graph_breaks"] == 0, st
    return jf, args, got


def rnd(shape, dtype, seed=0):
    r = np.random.default_rng(seed)
    return (r.standard_normal(shape) * 50).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64, np.int8, np.uint16])
def test_into_an_argument_returns_it(dtype):
    def f(a, b, c):
        r = np.add(a, b, out=c)
        np.multiply(c, b, out=c)
        return r

    _, args, got = check(f, lambda: (rnd((4, 5), dtype), rnd((4, 5), dtype, 1), np.zeros((4, 5), dtype)))
    assert got is args[2]  # the caller's own array, as eagerly


def test_in_place_unary_and_binary():
    def f(x, y):
        np.exp(x, out=x)
        np.sqrt(y, y)  # positional output
        np.maximum(x, 1.5, out=x)
        return x + y

    # exp and sqrt: within their stated bounds (exp 1 ulp; sqrt is exact)
    check(f, lambda: (np.linspace(-2, 2, 1000), np.linspace(0, 9, 1000)), rtol=3e-16)


def test_into_a_local_and_tuple_and_none():
    def f(a, b):
        t = np.empty_like(a)
        np.subtract(a, b, out=t)
        u = np.empty_like(a)
        np.multiply(t, 2.0, out=(u,))
        return np.add(u, 1.0, out=None) - t

    check(f, lambda: (rnd(300, np.float64), rnd(300, np.float64, 2)))


@pytest.mark.parametrize("a_dt,out_dt", [(np.int8, np.int16), (np.float64, np.float32), (np.int32, np.float64),
                                         (np.float32, np.float64), (np.bool_, np.int64), (np.uint8, np.int64)])
def test_output_dtype_casts_after_the_input_loop(a_dt, out_dt):
    """int8 + int8 into int16 wraps in int8 first (the loop is chosen from the inputs)."""
    def f(a, b, c):
        np.add(a, b, out=c)
        return c

    def make():
        a = (np.arange(-60, 60) * 3).astype(a_dt)
        return a, a[::-1].copy(), np.zeros(120, out_dt)

    check(f, make)


def test_inputs_broadcast_to_the_output_shape():
    def f(v, s, o):
        np.multiply(v, s, out=o)
        return o

    check(f, lambda: (np.arange(6.0), 3.0, np.zeros((4, 6))))


@pytest.mark.parametrize("case", ["same_kind", "shape", "readonly"])
def test_errors_match_numpy(case):
    def f(a, o):
        np.add(a, a, out=o)
        return o

    if case == "same_kind":
        a, o = np.ones(4), np.zeros(4, np.int64)
    elif case == "shape":
        a, o = np.ones((2, 4)), np.zeros(4)
    else:
        a, o = np.ones(4), np.zeros(4)
        o.setflags(write=False)
    with pytest.raises(Exception) as eager:
        f(a, o)
    jf = tracejit.jit(f, hot=0, sync=True)
    with pytest.raises(type(eager.value)) as got:
        jf(a, o)
    assert str(got.value) == str(eager.value)


def test_output_that_is_a_view_gives_numpys_answer():
    """out= a slice of an array: not compiled yet, runs eagerly at a break with NumPy's answer."""
    def f(a, buf):
        np.add(a, 1.0, out=buf[1:])
        return buf

    check(f, lambda: (np.arange(5.0), np.zeros(6)), compiled=False)


def test_where_keyword_still_runs_eagerly():
    def f(a, o):
        np.add(a, 1.0, out=o, where=a > 2)
        return o

    check(f, lambda: (np.arange(6.0), np.full(6, -1.0)), compiled=False)


# np.copyto(dst, src) and x.fill(v): the other whole-array writes models use to reuse buffers.

@pytest.mark.parametrize("src_dt,dst_dt", [(np.int64, np.int8), (np.int32, np.float64), (np.float64, np.float32),
                                           (np.bool_, np.int16), (np.uint8, np.uint64), (np.float32, np.float32)])
def test_copyto_casts_same_kind_and_broadcasts(src_dt, dst_dt):
    def f(dst, src):
        r = np.copyto(dst, src)
        return dst * 2, r is None

    def make():
        src = (np.arange(-300, 300, 50) * 1.25).astype(src_dt)
        return np.zeros((3, src.size), dst_dt), src

    check(f, make)


def test_copyto_into_a_local_and_fill():
    def f(a, w):
        t = np.empty_like(a)
        np.copyto(t, a * 3)
        w.fill(0.5)
        t.fill(1) if a.size > 100 else None
        return t + w, w.fill(2)

    check(f, lambda: (np.linspace(0, 1, 64), np.zeros(64)))


@pytest.mark.parametrize("value", [2.7, -1, 300, 1e40, float("nan"), True])
@pytest.mark.parametrize("dtype", [np.int8, np.float32, np.uint16])
def test_fill_converts_like_setitem(value, dtype):
    """Whatever NumPy does with the value (truncation, OverflowError, inf with a warning, ValueError
    for NaN into an integer array), the jitted call does too."""
    def f(x, v):
        x.fill(v)
        return x

    def outcome(fn):
        x = np.ones(5, dtype)
        with np.errstate(over="ignore"):
            try:
                return fn(x, value).copy(), None
            except Exception as e:
                return x, (type(e), str(e))

    want = outcome(f)
    got = outcome(tracejit.jit(f, hot=0, sync=True))
    assert want[1] == got[1]
    assert_same(want[0], got[0])


@pytest.mark.parametrize("case", ["same_kind", "shape", "readonly", "python scalar overflow", "where"])
def test_copyto_errors_and_eager_cases_match_numpy(case):
    def f(d, s):
        np.copyto(d, s)
        return d

    def g(d, s):
        np.copyto(d, s, where=s > 1)
        return d

    fn = g if case == "where" else f
    d, s = np.zeros(4, np.int64), np.arange(4.0)
    if case == "shape":
        d, s = np.zeros(4), np.ones((2, 4))
    elif case == "readonly":
        d = np.zeros(4)
        d.setflags(write=False)
    elif case == "python scalar overflow":
        d, s = np.zeros(4, np.int8), 300
    elif case == "where":
        d = np.zeros(4)

    def outcome(fn):
        dd = d.copy() if d.flags.writeable else d
        try:
            return fn(dd, s).copy(), None
        except Exception as e:
            return dd, (type(e), str(e))

    want, got = outcome(fn), outcome(tracejit.jit(fn, hot=0, sync=True))
    assert want[1] == got[1]
    assert_same(want[0], got[0])
