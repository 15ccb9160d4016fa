"""np.linalg.norm with ord=None (the 2-norm of vectors, Frobenius of matrices, along any axes):
compiled as NumPy's own formula sqrt(add.reduce(x * x, axis)), integers and bools cast to
float64 first. Compared with eager NumPy over shapes with 0- and 1-sized dimensions, transposed
and stepped inputs, every axis form and keepdims; float results within a few ulps (the sum's
order differs from NumPy's pairwise/BLAS one; both against an exact reference), dtype and shape
equal, and the call compiled."""
import numpy as np
import pytest

import tracejit

DTYPES = [np.float64, np.float32, np.int32, np.int64, np.uint8, np.bool_]
SHAPES = [(7,), (0,), (1,), (40, 9), (1, 5), (0, 3), (3, 4, 5), (2, 1, 6)]


def make(shape, dtype, seed):
    r = np.random.default_rng(seed)
    if dtype == np.bool_:
        return r.random(shape) < 0.5
    if np.issubdtype(dtype, np.integer):
        return r.integers(0 if dtype == np.uint8 else -50, 50, shape).astype(dtype)
    return (r.standard_normal(shape) * 3).astype(dtype)


def exact_norm(x, axis, keepdims):
    x = np.asarray(x, dtype=np.longdouble)
    return np.sqrt((x * x).sum(axis=axis, keepdims=keepdims))


def axes_for(ndim):
    forms = [None, 0, -1]
    if ndim >= 2:
        forms += [(0, 1), (-1, 0)]
    if ndim >= 3:
        forms += [(0, 2), 1]
    return forms


def check(fn, x, axis, keepdims):
    jf = tracejit.jit(fn, sync=True, hot=0)
    want, got = fn(x), jf(x)
    assert type(got) is type(want)
    assert np.asarray(got).dtype == np.asarray(want).dtype and np.shape(got) == np.shape(want)
    ref = exact_norm(x, axis, keepdims)
    eps = np.finfo(np.asarray(want).dtype).eps
    # Each result within 3 ulps of the exact value.
    assert np.all(np.abs(np.asarray(got, np.longdouble) - ref) <= 3 * eps * np.maximum(ref, np.finfo(np.asarray(want).dtype).tiny))
    st = jf.stats()
    assert st["compiled_calls"] == 1 and not st["graph_breaks"] and not st["fallback_reasons"], st


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_norm_matches_numpy(shape, dtype):
    x = make(shape, dtype, hash((shape, np.dtype(dtype).name)) % 1000)
    for axis in axes_for(len(shape)):
        for keepdims in (False, True):
            if axis is None and not keepdims:
                fn = lambda x: np.linalg.norm(x)  # noqa: E731
            else:
                fn = lambda x, a=axis, k=keepdims: np.linalg.norm(x, axis=a, keepdims=k)  # noqa: E731
            check(fn, x, axis, keepdims)


@pytest.mark.parametrize("view", ["T", "step", "neg"])
def test_norm_of_views(view):
    base = make((30, 12), np.float64, 3)
    x = {"T": base.T, "step": base[::3, ::2], "neg": base[::-1]}[view]
    for axis in (None, 0, 1):
        check(lambda x, a=axis: np.linalg.norm(x, axis=a), x, axis, False)


def test_normalize_rows_fuses_and_matches():
    def f(x):
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    x = make((64, 33), np.float32, 5)
    jf = tracejit.jit(f, sync=True, hot=0)
    np.testing.assert_allclose(jf(x), f(x), rtol=4 * np.finfo(np.float32).eps)
    assert jf(x).dtype == np.float32 and jf.stats()["compiled_calls"] == 2


def test_special_values_and_errors():
    x = np.array([[3.0, np.inf, 1.0], [np.nan, 2.0, 0.0], [0.0, 0.0, 0.0]])
    for axis in (None, 0, 1):
        f = lambda x, a=axis: np.linalg.norm(x, axis=a)  # noqa: E731
        np.testing.assert_array_equal(tracejit.jit(f, sync=True, hot=0)(x), f(x))

    def bad_axis(x):
        return np.linalg.norm(x, axis=2)

    jf = tracejit.jit(bad_axis, sync=True, hot=0)
    with pytest.raises(np.exceptions.AxisError):
        bad_axis(x)
    with pytest.raises(np.exceptions.AxisError):
        jf(x)


def test_other_ords_run_eagerly_at_a_graph_break():
    def f(x):
        return np.linalg.norm(x * 2, 1) + x.sum()

    x = make((9,), np.float64, 1)
    jf = tracejit.jit(f, sync=True, hot=0)
    assert jf(x) == f(x)
    assert any("with an ord is not traced yet" in r for r in jf.stats()["graph_break_reasons"])
