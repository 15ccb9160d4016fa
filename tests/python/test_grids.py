"""np.meshgrid, np.moveaxis and np.column_stack (tracer/grids.cpp) against NumPy: values, dtypes,
shapes, the tuple meshgrid returns, and NumPy's exceptions."""
import numpy as np
import pytest

from conftest import assert_compiled, assert_same, jit_now, random_array


def grid_xy(x, y):
    X, Y = np.meshgrid(x, y)
    return np.sqrt(X * X + Y * Y)


def grid_ij(x, y):
    return np.meshgrid(x, y, indexing="ij")


def grid_sparse(x, y):
    X, Y = np.meshgrid(x, y, sparse=True)
    return X + Y, X.shape, Y.shape


def grid_three(x, y, z):
    return np.meshgrid(x, y, z)


def grid_three_ij_sparse(x, y, z):
    return np.meshgrid(x, y, z, indexing="ij", sparse=True)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int32, np.uint8], ids=str)
@pytest.mark.parametrize("nx,ny", [(4, 3), (1, 5), (0, 2), (6, 1)], ids=str)
def test_meshgrid(dtype, nx, ny):
    x = random_array(dtype, (nx,), seed=1)
    y = random_array(np.float64, (ny,), seed=2)
    z = random_array(dtype, (2,), seed=3)
    for fn, args in ((grid_xy, (x, y)), (grid_ij, (x, y)), (grid_sparse, (x, y)), (grid_three, (x, y, z)),
                     (grid_three_ij_sparse, (x, y, z))):
        with np.errstate(all="ignore"):
            want = fn(*args)
            jf = jit_now(fn)
            got = jf(*args)
        assert_same(want, got)
        assert_compiled(jf)


def test_meshgrid_of_one_input_and_of_2d_inputs():
    x = random_array(np.float64, (2, 3), seed=4)
    for fn in (lambda a: np.meshgrid(a), lambda a: np.meshgrid(a, a[0]), lambda a: np.meshgrid(a[0], a, indexing="ij")):
        jf = jit_now(fn)
        assert_same(fn(x), jf(x))
        assert_compiled(jf)


def test_meshgrid_results_are_new_arrays():
    def f(x, y):
        X, Y = np.meshgrid(x, y)
        X[0, 0] = -1.0  # a copy: the input is untouched, as eagerly
        return X, x

    x, y = np.arange(3.0), np.arange(2.0)
    want = f(x.copy(), y)
    got = jit_now(f)(x.copy(), y)
    assert_same(want, got)


def test_meshgrid_eager_forms():
    x, y = np.arange(3.0), np.arange(2.0)
    jf = jit_now(lambda a, b: np.meshgrid(a, b, copy=False)[0] + 0)
    assert_same(np.meshgrid(x, y, copy=False)[0] + 0, jf(x, y))
    assert "copy=False" in " ".join(jf.stats()["fallback_reasons"] + jf.stats()["graph_break_reasons"])
    with pytest.raises(ValueError):
        jit_now(lambda a, b: np.meshgrid(a, b, indexing="yx"))(x, y)


@pytest.mark.parametrize("src,dst", [(0, -1), (-1, 0), (1, 2), ([0, 1], [-1, -2]), ((0, 2), (2, 0)), (2, 2)], ids=str)
def test_moveaxis(src, dst):
    x = random_array(np.float32, (2, 3, 4), seed=5)
    fn = lambda a: np.moveaxis(a, src, dst) * 2  # noqa: E731
    jf = jit_now(fn)
    assert_same(fn(x), jf(x))
    assert_compiled(jf)


@pytest.mark.parametrize("src,dst,exc", [(3, 0, np.exceptions.AxisError), ([0, 0], [1, 2], ValueError),
                                         ([0, 1], [2], ValueError)], ids=str)
def test_moveaxis_errors(src, dst, exc):
    x = np.ones((2, 3, 4))
    with pytest.raises(exc):
        np.moveaxis(x, src, dst)
    with pytest.raises(exc):
        jit_now(lambda a: np.moveaxis(a, src, dst) * 2)(x)


@pytest.mark.parametrize("dtype", [np.float64, np.int64, np.float32], ids=str)
def test_column_stack(dtype):
    a = random_array(dtype, (5,), seed=6)
    b = random_array(np.float64, (5,), seed=7)
    m = random_array(dtype, (5, 2), seed=8)
    for fn, args in ((lambda p, q, r: np.column_stack([p, q]), (a, b, m)),
                     (lambda p, q, r: np.column_stack((p, r, p * 2)), (a, b, m)),
                     (lambda p, q, r: np.column_stack([r]) + 1, (a, b, m))):
        jf = jit_now(fn)
        assert_same(fn(*args), jf(*args))
        assert_compiled(jf)
    with pytest.raises(ValueError):
        jit_now(lambda p: np.column_stack([p, p[:3]]))(a)
