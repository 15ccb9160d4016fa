"""np.average without weights (a.mean), np.atleast_1d/2d/3d of one array (NumPy's view with
size-1 axes, or the array itself), and the x.trace() method (np.trace): compiled and compared
with eager NumPy; weights, returned=True and several arrays run eagerly with NumPy's result."""
import numpy as np
import pytest

from conftest import assert_same, check_compiled, check_same_outcome, jit_now, run_compiled

DTYPES = [np.bool_, np.int8, np.int64, np.uint16, np.float32, np.float64]
SHAPES = [(), (5,), (1,), (3, 4), (2, 3, 4), (0, 3)]


def make(shape, dtype, seed=0):
    r = np.random.default_rng(seed)
    if dtype == np.bool_:
        return r.random(shape) < 0.5
    if np.issubdtype(dtype, np.integer):
        return r.integers(0, 50, shape).astype(dtype)
    return (r.standard_normal(shape) * 3).astype(dtype)


@pytest.mark.parametrize("shape", [s for s in SHAPES if s and 0 not in s], ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
def test_average_is_mean(shape, dtype):
    x = make(shape, dtype)
    forms = [None, 0, -1] + ([(0, 1)] if len(shape) >= 2 else [])
    for axis in forms:
        f = lambda a: (np.average(a, axis), np.average(a, axis=axis, keepdims=True), np.average(a, axis, None, False))
        want, got = f(x), run_compiled(f, x)
        for w, g in zip(want, got):
            assert type(g) is type(w) and g.dtype == w.dtype and np.shape(g) == np.shape(w)
            np.testing.assert_allclose(g, w, rtol=1e-6 if dtype == np.float32 else 1e-14)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 2, 3])
def test_atleast_nd(n, shape, dtype):
    x = make(shape, dtype, 1)
    at = getattr(np, f"atleast_{n}d")
    check_compiled(lambda a: at(a) * 1, x)  # used in arithmetic: compiled
    assert_same(at(x), jit_now(at)(x))  # returned as it is: NumPy's view (or x itself)
    if x.ndim >= n:
        assert jit_now(lambda a: at(a) is a)(x) is True  # `is` on arrays runs eagerly


@pytest.mark.parametrize("offset", [0, 1, -2, 7])
def test_trace_method(offset):
    x = make((4, 6), np.float64, 2)
    check_compiled(lambda a: (a.trace(offset), a.trace(offset=offset, dtype=np.float32)), x)
    xi = make((5, 5), np.int8, 3)
    check_compiled(lambda a: a.trace(offset), xi)


@pytest.mark.parametrize("call", [
    lambda a: np.average(a, weights=np.arange(4.0)[:, None] * np.ones((4, 3))),
    lambda a: np.average(a, axis=0, returned=True),
    lambda a: np.average(a, 0, np.zeros(4)),      # ZeroDivisionError from NumPy
    lambda a: np.atleast_2d(a, a),                # a tuple of arrays
    lambda a: a.trace(axis1=1, axis2=0),
])
def test_other_forms_are_numpys(call):
    x = make((4, 3), np.float64, 4)
    check_same_outcome(call, x)
