"""np.pad (tracer/pad.cpp) against NumPy: modes constant, edge, reflect, symmetric, wrap; widths as
an int, a pair, per-axis pairs; constants per side and axis; dtypes; NumPy's exceptions; the
forms that run eagerly."""
import warnings

import numpy as np
import pytest

from conftest import assert_compiled, assert_same, jit_now, random_array

WIDTHS = [1, (2, 0), ((1, 2), (0, 3)), ((0, 0), (2, 1)), 0]


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric", "wrap"])
@pytest.mark.parametrize("width", WIDTHS, ids=str)
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int32, np.uint8, np.bool_], ids=str)
def test_pad_modes(mode, width, dtype):
    x = random_array(dtype, (4, 5), seed=1)
    fn = lambda a: np.pad(a, width, mode=mode)  # noqa: E731
    jf = jit_now(fn)
    assert_same(fn(x), jf(x))
    assert_compiled(jf)


@pytest.mark.parametrize("values", [7, (1, 2), ((1, 2), (3, 4)), 2.5, -1, True, 300, 1e300], ids=str)
def test_pad_constants(values):
    """`values` is a closure's number here: a runtime value to the tracer when it is one float
    or int (int arrays then run that call eagerly: int() raises where a cast would not)."""
    for dtype in (np.float64, np.float32, np.int64, np.uint8):
        x = random_array(dtype, (3, 4), seed=2)
        fn = lambda a: np.pad(a, ((1, 2), (2, 1)), constant_values=values)  # noqa: E731
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always")
            try:
                want, exc = fn(x), None
            except (OverflowError, ValueError) as e:
                want, exc = None, type(e)
        jf = jit_now(fn)
        if exc:
            with pytest.raises(exc):
                jf(x)
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = jf(x)
        assert_same(want, got)
        if warned:  # a cast that warns: re-run for the warning (flags), or the call ran eagerly
            st = jf.stats()
            assert st["fp_reruns"] == 1 or st["graph_breaks"] == 1, (dtype, st)
        elif np.dtype(dtype).kind == "f" or not isinstance(values, (int, float)):
            assert_compiled(jf)


def test_pad_1d_3d_and_fused():
    v = random_array(np.float64, (6,), seed=3)
    u = random_array(np.float32, (2, 3, 4), seed=4)
    for fn, a in ((lambda a: np.pad(a, 2, mode="reflect") * 2, v),
                  (lambda a: np.pad(a, (1, 2), mode="wrap").sum(), v),
                  (lambda a: np.pad(a, 1, mode="edge")[1:-1, 1:-1, 1:-1] - a, u),
                  (lambda a: np.pad(a, ((0, 0), (1, 1), (2, 2)), mode="symmetric"), u)):
        jf = jit_now(fn)
        assert_same(fn(a), jf(a), rtol=1e-6)
        assert_compiled(jf)


def test_pad_stencil():
    def laplacian(u):
        p = np.pad(u, 1, mode="edge")
        return p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4 * u

    u = random_array(np.float64, (32, 40), seed=5)
    jf = jit_now(laplacian)
    assert_same(laplacian(u), jf(u))
    assert_compiled(jf)


@pytest.mark.parametrize("fn,x,exc", [
    (lambda a: np.pad(a, -1), np.ones(3), ValueError),
    (lambda a: np.pad(a, 1, mode="edge"), np.ones((0, 3)), ValueError),
    (lambda a: np.pad(a, 1, mode="nope"), np.ones(3), ValueError),
    (lambda a: np.pad(a, 1, mode="edge", constant_values=3), np.ones(3), ValueError),
    (lambda a: np.pad(a, 1, constant_values=np.nan), np.ones(3, np.int32), ValueError),
], ids=["negative", "empty-edge", "bad-mode", "kw-mode", "nan-int"])
def test_pad_exceptions(fn, x, exc):
    with pytest.raises(exc):
        fn(x)
    with pytest.raises(exc):
        jit_now(fn)(x)


def test_pad_eager_forms():
    x = random_array(np.float64, (3, 4), seed=6)
    for fn in (lambda a: np.pad(a, 5, mode="reflect"), lambda a: np.pad(a, 1, mode="mean"),
               lambda a: np.pad(a, 2, mode="reflect", reflect_type="odd"), lambda a: np.pad(a, 9, mode="wrap")):
        jf = jit_now(fn)
        assert_same(fn(x), jf(x))
        assert jf.stats()["compiled_calls"] == 0 or jf.stats()["graph_breaks"]
