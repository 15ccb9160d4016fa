"""np.nansum, np.nanprod, np.ptp, np.count_nonzero, compiled as the NumPy operations NumPy writes
them as (tracer/nan_reductions.cpp). Compared with eager NumPy over every dtype, shapes with 0-
and 1-sized dimensions, every axis form, keepdims, non-contiguous inputs and NaN/inf data:
integer results bit-exact, float sums within the sum's tolerance, same dtype, shape and
exception type."""
import numpy as np
import pytest

from conftest import assert_same, check_same_outcome, jit_now, run_compiled

DTYPES = [np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
          np.float32, np.float64]
SHAPES = [(7,), (1,), (4, 6), (1, 5), (3, 4, 5), (0, 3)]
VIEWS = {"contiguous": lambda a: a, "transposed": lambda a: a.T, "stepped": lambda a: a[..., ::2]}


def make(shape, dtype, seed):
    r = np.random.default_rng(seed)
    if dtype == np.bool_:
        return r.random(shape) < 0.5
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        x = r.integers(max(info.min, -100), min(info.max, 100), shape, dtype=dtype, endpoint=True)
        if x.size:
            x.flat[0] = info.max  # wraps in ptp and in sums as NumPy's do
        return x
    x = (r.standard_normal(shape) * 3).astype(dtype)
    if x.size >= 4:
        x.flat[1:4] = [np.nan, np.inf, 0.0]
        x.flat[r.integers(0, x.size)] = np.nan
    return x


def axis_forms(ndim):
    forms = [None]
    for k in range(ndim):
        forms += [k, k - ndim]
    if ndim >= 2:
        forms += [(0, ndim - 1)]
    return forms


def close(want, got, dtype):
    if np.dtype(dtype).kind == "f" and np.asarray(want).dtype.kind == "f":
        assert type(got) is type(want) and got.dtype == want.dtype and np.shape(got) == np.shape(want)
        np.testing.assert_allclose(got, want, rtol=np.finfo(dtype).eps * 16, atol=0, equal_nan=True)
    else:
        assert_same(want, got)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
def test_nansum_nanprod_match_numpy(shape, dtype):
    x = make(shape, dtype, 1)
    for view, v in VIEWS.items():
        a = v(x)
        for axis in axis_forms(a.ndim):
            for kd in (False, True):
                f = lambda a: (np.nansum(a, axis=axis, keepdims=kd), np.nanprod(a, axis, keepdims=kd))
                with np.errstate(all="ignore"):
                    want = f(a)
                    got = run_compiled(f, a)
                for w, g in zip(want, got):
                    close(w, g, dtype)


@pytest.mark.parametrize("dtype", [np.int8, np.float32, np.bool_])
def test_nansum_dtype_argument(dtype):
    x = make((4, 6), dtype, 2)
    f = lambda a: (np.nansum(a, dtype=np.float64), np.nansum(a, 1, np.int64), np.nanprod(a, 0, dtype=np.float32))
    with np.errstate(all="ignore"):
        want, got = f(x), run_compiled(f, x)
    for w, g in zip(want, got):
        close(w, g, np.float32)


@pytest.mark.parametrize("shape", [s for s in SHAPES if 0 not in s], ids=str)
@pytest.mark.parametrize("dtype", [d for d in DTYPES if d != np.bool_])
def test_ptp_matches_numpy(shape, dtype):
    x = make(shape, dtype, 3)
    for a in (v(x) for v in VIEWS.values()):
        for axis in axis_forms(a.ndim):
            f = lambda a: (np.ptp(a, axis=axis), np.ptp(a, axis, keepdims=True))
            with np.errstate(all="ignore"):
                want = f(a)
                got = jit_now(f)(a)  # NaN data: the max/min compare may re-run eagerly
            for w, g in zip(want, got):
                assert_same(w, g)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
def test_count_nonzero_matches_numpy(shape, dtype):
    x = make(shape, dtype, 4)
    if x.size:
        x.flat[-1] = 0
    for a in (v(x) for v in VIEWS.values()):
        for axis in axis_forms(a.ndim):
            f = lambda a: (np.count_nonzero(a, axis=axis), np.count_nonzero(a, axis, keepdims=True))
            assert_same(f(a), run_compiled(f, a))
    assert_same(np.count_nonzero(x), run_compiled(lambda a: np.count_nonzero(a), x))


def test_fused_into_a_program():
    def f(x, w):
        valid = np.count_nonzero(~np.isnan(x), axis=1)
        mean = np.nansum(x * w, axis=1) / valid
        return mean, np.ptp(np.where(np.isnan(x), 0.0, x), axis=1)

    r = np.random.default_rng(5)
    x = r.standard_normal((64, 33))
    x[r.random(x.shape) < 0.1] = np.nan
    w = r.random(33)
    want, got = f(x, w), run_compiled(f, x, w)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-13)
    assert_same(want[1], got[1])


@pytest.mark.parametrize("call", [
    lambda a: np.ptp(a > 0),                   # TypeError: boolean subtract
    lambda a: np.ptp(a[:0]),                   # ValueError: zero-size array to maximum
    lambda a: np.nansum(a, axis=3),            # AxisError
    lambda a: np.count_nonzero(a, axis=(0, 0)),  # ValueError: duplicate value in 'axis'
    lambda a: np.nansum(a, out=np.empty(())),  # out=: runs eagerly, same result
])
def test_errors_and_eager_forms_are_numpys(call):
    x = np.random.default_rng(6).standard_normal((3, 4))
    check_same_outcome(call, x)
