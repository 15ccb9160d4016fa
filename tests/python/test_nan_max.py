"""max/min over data holding NaN: NumPy returns NaN and warns about nothing, so the compiled call
must neither raise the invalid flag (which re-runs the call eagerly, counted in
stats()['fp_reruns']) nor change the result. x86 compares NaN with signaling compares by
default; the backend turns every float compare into the quiet form after optimization
(backends/cpu/jit.cpp, quiet_fp_compares), so rows of any length and operands computed inline
stay compiled."""
import warnings

import numpy as np
import pytest

from conftest import assert_same, jit_now


def nan_data(dtype, shape, where=(1, 3)):
    x = np.random.default_rng(7).standard_normal(shape).astype(dtype)
    flat = x.reshape(-1)
    flat[flat.size * where[0] // where[1]] = np.nan
    return x


def run_no_rerun(fn, *args, rtol=0.0):
    jf = jit_now(fn)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # NumPy warns about nothing here; neither may we
        want = fn(*args)
        got = jf(*args)
    s = jf.stats()
    assert s["compiled_calls"] == 1 and s["fp_reruns"] == 0, s
    assert_same(want, got, rtol=rtol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [4096, 16385, 100_000, 1_000_000, 4_000_000])
@pytest.mark.parametrize("name", ["max", "min"])
def test_whole_array_max_min_of_nan_data(dtype, n, name):
    run_no_rerun(lambda x: getattr(x, name)(), nan_data(dtype, n))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fn", [
    lambda x: x.max(axis=1),
    lambda x: np.min(x, axis=1, keepdims=True),
    lambda x: np.abs(x).max(axis=1),
    lambda x: (-x).min(),
    lambda x: np.amax(x.T.T, axis=1),
], ids=["max1", "min1_keep", "abs_max1", "neg_min", "amax_TT"])
def test_axis_max_min_of_nan_data(dtype, fn):
    run_no_rerun(fn, nan_data(dtype, (5, 4099)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(65536, 64), (1000, 7), (3, 5), (64, 4099)])
@pytest.mark.parametrize("fn", [
    lambda x: x.max(axis=1),
    lambda x: x.min(axis=0),
    lambda x: np.sqrt(np.abs(x)).max(axis=1),  # computed inline, may raise flags itself
    lambda x: (x * 2 + 1).min(),
    lambda x: x.argmax(axis=1),
    lambda x: np.exp(x - x.max(axis=1, keepdims=True)),
], ids=["max1", "min0", "sqrt_max1", "expr_min", "argmax1", "softmax_num"])
def test_short_rows_and_computed_operands(dtype, shape, fn):
    run_no_rerun(fn, nan_data(dtype, shape), rtol=4e-7 if dtype == np.float32 else 1e-15)  # exp: <= 1 ulp


@pytest.mark.parametrize("n", [1 << 20, 1_000_000, 3 << 18])
def test_nan_in_each_chunk_of_a_split_max(n):
    # A whole-array max over 2^20 elements runs as 64 chunk maxima, then a max of the 64
    # partials (a row of 64: the vector loop) -- the NaN's partial lands in every lane.
    x = np.arange(n, dtype=np.float32)
    for k in (0, n // 64 * 5, n // 2, n - 1, n // 64 * 63 + 7):
        y = x.copy()
        y[k] = np.nan
        run_no_rerun(lambda v: v.max(), y)
        run_no_rerun(lambda v: v.min(), y)


def test_nan_in_every_chunk_and_lane_position():
    x = np.arange(8192, dtype=np.float32)
    for k in (0, 15, 16, 63, 64, 1000, 4095, 8191):
        y = x.copy()
        y[k] = np.nan
        run_no_rerun(lambda v: v.max(), y)
        run_no_rerun(lambda v: v.min(), y)


def test_a_flag_raised_before_the_max_is_kept():
    # sqrt of a negative number raises invalid (NumPy warns); the max that follows must not
    # clear it: the call re-runs eagerly and gives NumPy's warning.
    x = np.abs(nan_data(np.float64, 10_000))
    x[5] = -1.0

    def f(v):
        return np.sqrt(v).max()

    jf = jit_now(f)
    with pytest.warns(RuntimeWarning, match="invalid value"):
        got = jf(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = f(x)
    assert_same(want, got)
    assert jf.stats()["fp_reruns"] == 1


def test_errstate_raise_stays_quiet_for_nan_max():
    # NumPy raises nothing for the max of NaN data even under errstate(invalid="raise").
    x = nan_data(np.float32, 100_000)
    jf = jit_now(lambda v: v.max())
    with np.errstate(invalid="raise"):
        assert np.isnan(x.max())
        assert np.isnan(jf(x))
    assert jf.stats()["fp_reruns"] == 0 and jf.stats()["compiled_calls"] == 1
