"""np.<ufunc>.reduce and np.<ufunc>.outer (tracer/ufunc_methods.cpp): reduce as the reduction the
ufunc is (add/multiply/maximum/minimum/logical_and/logical_or; axis 0 by default, None, ints,
tuples; keepdims; dtype for add/multiply), outer as the broadcast ufunc of a.shape + b.shape.
Compared with eager NumPy over dtypes, shapes with 0- and 1-sized dims and views; every call
compiles; other methods and arguments run eagerly with NumPy's result or exception."""
import numpy as np
import pytest

from conftest import assert_same, check_same_outcome, jit_now, run_compiled

DTYPES = [np.bool_, np.int8, np.int32, np.int64, np.uint8, np.uint64, np.float32, np.float64]
REDUCERS = ["add", "multiply", "maximum", "minimum", "logical_and", "logical_or"]


def make(shape, dtype, seed):
    r = np.random.default_rng(seed)
    if dtype == np.bool_:
        return r.random(shape) < 0.5
    if np.issubdtype(dtype, np.integer):
        return r.integers(0 if np.dtype(dtype).kind == "u" else -5, 6, shape).astype(dtype)
    x = (r.standard_normal(shape) * 2).astype(dtype)
    if x.size > 3:
        x.flat[2] = -0.0
    return x


def close(want, got):
    assert type(got) is type(want) and got.dtype == want.dtype and np.shape(got) == np.shape(want)
    if got.dtype.kind == "f":
        np.testing.assert_allclose(got, want, rtol=np.finfo(got.dtype).eps * 8, atol=0)
    else:
        assert_same(want, got)


@pytest.mark.parametrize("shape", [(5,), (1,), (3, 4), (2, 3, 4), (0, 3)], ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ufunc", REDUCERS)
def test_reduce_matches_numpy(ufunc, dtype, shape):
    x = make(shape, dtype, 1)
    uf = getattr(np, ufunc)
    forms = [lambda a: uf.reduce(a), lambda a: uf.reduce(a, None), lambda a: uf.reduce(a, axis=-1, keepdims=True)]
    if len(shape) >= 2:
        forms += [lambda a: uf.reduce(a, (0, 1)), lambda a: uf.reduce(a.T, 1)]
    for f in forms:
        try:
            with np.errstate(all="ignore"):
                want = f(x)
        except ValueError:  # maximum/minimum of an empty axis: NumPy's error from the eager run
            with pytest.raises(ValueError):
                jit_now(f)(x)
            continue
        with np.errstate(all="ignore"):
            close(want, run_compiled(f, x))


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.float32])
def test_reduce_dtype_argument(dtype):
    x = make((4, 5), dtype, 2)
    f = lambda a: (np.add.reduce(a, 0, np.float64), np.multiply.reduce(a, axis=1, dtype=np.int64))
    for w, g in zip(f(x), run_compiled(f, x)):
        close(w, g)


@pytest.mark.parametrize("ufunc", ["add", "subtract", "multiply", "maximum", "greater", "logical_xor", "power"])
@pytest.mark.parametrize("dtype", [np.int32, np.uint8, np.float32, np.float64])
def test_outer_matches_numpy(ufunc, dtype):
    a, b = make((5,), dtype, 3), make((3, 2), dtype, 4)
    if ufunc == "power":  # integers to negative powers raise (eagerly, as NumPy)
        a, b = np.abs(a), np.abs(b)
    uf = getattr(np, ufunc)
    f = lambda a, b: (uf.outer(a, b), uf.outer(b, a[::2]), uf.outer(a, np.float32(2)))
    with np.errstate(all="ignore"):
        want = f(a, b)
        # An integer power with an array exponent may raise: a graph break by design.
        got = jit_now(f)(a, b) if ufunc == "power" else run_compiled(f, a, b)
    for w, g in zip(want, got):
        if ufunc == "power" and g.dtype.kind == "f":  # float pow: within its stated ulp bound
            assert g.dtype == w.dtype and g.shape == w.shape
            np.testing.assert_allclose(g, w, rtol=4 * np.finfo(g.dtype).eps)
        else:
            assert_same(w, g)


def test_fused_program():
    def f(x, w):
        logits = np.multiply.outer(x, w).sum(axis=1)
        return np.maximum.reduce(logits, axis=1), np.add.reduce(np.exp(logits), axis=None)

    r = np.random.default_rng(5)
    x, w = r.standard_normal((16, 8)), r.standard_normal((4,))
    for a, b in zip(f(x, w), run_compiled(f, x, w)):
        np.testing.assert_allclose(b, a, rtol=1e-13)


@pytest.mark.parametrize("call", [
    lambda a: np.subtract.reduce(a),           # not a known reduction: eager, NumPy's value
    lambda a: np.add.reduce(a, axis=2),        # AxisError
    lambda a: np.add.reduce(a, where=a > 0),   # where=: eager
    lambda a: np.maximum.reduce(a, initial=0.5),
    lambda a: np.add.accumulate(a, 0),         # accumulate: eager
    lambda a: np.add.reduce(3.0),              # a Python float
])
def test_other_forms_are_numpys(call):
    x = np.random.default_rng(6).standard_normal((3, 4))
    check_same_outcome(call, x)
