"""Assignment through a boolean mask (`x[x < 0] = 0`, `x[np.isnan(x)] = fill`, `X[rows] = row`):
compiled as x[...] = where(mask, v, x) when v is the same for every selected element (a scalar, a
0-d array, or a value shaped like x's trailing axes). Compared with eager NumPy: values, dtype,
the caller's in-place view of its arguments; what is not compiled (one value per selected
element, a mismatched mask, a float into an int array) runs eagerly with NumPy's result or
exception."""
import numpy as np
import pytest

from conftest import assert_same, compare_eager, jit_now


def clamp_negative(x):
    y = x.copy()
    y[y < 0] = 0
    return y


def fill_nan(x, fill):
    x[np.isnan(x)] = fill  # the argument, in place
    return x.sum()


def rows_to_row(X, keep):
    X[~keep] = X[0] * 2.0  # rows selected by a 1-d mask get one row
    return X


def rows_to_scalar(X, keep):
    X[keep] = -1
    return X


def chained(x):
    y = x * 3.0
    y[y > 1.0] = 1.0
    y[y < -1.0] = -1.0
    return y * y


def in_loop(u, steps):
    for t in range(steps):
        u = u * 1.5 + 0.1
        u[u > 2.0] = 0.5
    return u


def zero_d_value(x, v):
    x[x > 0] = v.sum()
    return x


def mask_from_other(a, b):
    a[b > 0.5] = np.float32(7.5)
    return a


def bool_array(m, x):
    m[x > 0] = True
    return m


def per_element_values(x):
    x[x > 0] = np.arange(x.size)[: int((x > 0).sum())]  # count-dependent: eager
    return x


def wrong_shape(x):
    m = np.ones(x.shape[0] + 1, dtype=bool)
    x[m] = 0.0
    return x


def float_into_int(a):
    a[a > 3] = 2.7  # NumPy truncates; not compiled, eager's answer
    return a


def int_out_of_range(a):
    a[a > 3] = 300  # OverflowError for uint8, as eager
    return a


def rng_arrays(*shapes, dtype=np.float64, seed=0):
    def make(k):
        r = np.random.default_rng(seed + k)
        return tuple(r.standard_normal(s).astype(dtype) for s in shapes)
    return make


def compiled(jf):
    st = jf.stats()
    assert st["fallback_calls"] == 0 and st["compiled_calls"] > 0, st
    return st


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(0,), (1,), (7,), (5, 9), (3, 1, 4)])
def test_clamp_negative(dtype, shape, capsys):
    compiled(compare_eager(clamp_negative, rng_arrays(shape, dtype=dtype), capsys))


def test_clamp_integers(capsys):
    make = lambda k: (np.random.default_rng(k).integers(-50, 50, (6, 5)).astype(np.int16),)
    compiled(compare_eager(clamp_negative, make, capsys))


@pytest.mark.parametrize("fill", [0.0, -1, np.float64(np.inf)])
def test_fill_nan_in_place(fill, capsys):
    def make(k):
        x = np.random.default_rng(k).standard_normal((4, 6))
        x[x > 0.8] = np.nan
        return x, fill
    compiled(compare_eager(fill_nan, make, capsys))


def test_row_mask_with_row_value(capsys):
    def make(k):
        r = np.random.default_rng(k)
        return r.standard_normal((6, 3)), r.standard_normal(6) > 0
    compiled(compare_eager(rows_to_row, make, capsys))
    compiled(compare_eager(rows_to_scalar, make, capsys))


def test_chained_masks_and_loop(capsys):
    compiled(compare_eager(chained, rng_arrays((8, 8)), capsys))
    make = lambda k: (np.random.default_rng(k).standard_normal((5, 4)), 20)
    compiled(compare_eager(in_loop, make, capsys))


def test_values_of_other_kinds(capsys):
    make = lambda k: (np.random.default_rng(k).standard_normal(9), np.arange(3.0))
    compiled(compare_eager(zero_d_value, make, capsys))
    make2 = lambda k: tuple(np.random.default_rng(k).random((4, 4)).astype(np.float32) for _ in range(2))
    compiled(compare_eager(mask_from_other, make2, capsys))
    make3 = lambda k: (np.zeros(7, dtype=bool), np.random.default_rng(k).standard_normal(7))
    compiled(compare_eager(bool_array, make3, capsys))


def test_not_compiled_cases_match_eager(capsys):
    jf = compare_eager(per_element_values, rng_arrays((12,)), capsys)
    st = jf.stats()  # int() breaks the graph; the store after it runs eagerly
    assert st["continuation_fallbacks"] > 0
    assert any("one value per selected element" in r for r in st["fallback_reasons"]), st
    jf = compare_eager(float_into_int, lambda k: (np.arange(8) + k,), capsys)
    assert jf.stats()["fallback_calls"] > 0


@pytest.mark.parametrize("fn,make,exc", [
    (wrong_shape, lambda: (np.zeros(4),), IndexError),
    (int_out_of_range, lambda: (np.arange(6, dtype=np.uint8),), OverflowError),
])
def test_errors_are_numpys(fn, make, exc):
    with pytest.raises(exc) as want:
        fn(*make())
    args = make()
    with pytest.raises(exc) as got:
        jit_now(fn)(*args)
    assert str(got.value) == str(want.value)
    eager_args = make()
    with pytest.raises(exc):
        fn(*eager_args)
    for e, g in zip(eager_args, args):
        assert_same(e, g)


def under_branch(x):
    y = x.copy()
    if x.sum() > 0:  # a branch on data: the store happens only when it holds
        y[y < 0] = 0
    return y


def test_store_under_a_data_branch(capsys):
    compare_eager(under_branch, rng_arrays((5,)), capsys, calls=6)


def test_strided_argument_in_place(capsys):
    def make(k):
        base = np.random.default_rng(k).standard_normal((6, 8))
        return base[:, ::2].T, 0.0  # a transposed, stepped view: the caller's base sees the store
    compiled(compare_eager(fill_nan, make, capsys))
