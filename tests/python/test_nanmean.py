"""np.nanmean compiled (tracer/nan_reductions.cpp): the sum of the numbers over their count,
divided as NumPy divides it (float64 for float32, cast back), NaN for a slice with no numbers.
Such a slice makes NumPy warn "Mean of empty slice" through warnings.warn, whatever the
errstate: the compiled call then runs again eagerly (Trace::rerun_checks), so the warning,
its category and its line are NumPy's own. Integer and bool arrays are plain means."""
import warnings

import numpy as np
import pytest

from conftest import assert_compiled, assert_same, jit_now, run_compiled


def data(dtype, shape, nan_fraction=0.2, seed=11):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype) == np.bool_:
        return rng.integers(0, 2, shape).astype(bool)
    if not np.issubdtype(dtype, np.floating):
        return rng.integers(-50, 50, shape).astype(dtype)
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    x[rng.random(shape) < nan_fraction] = np.nan
    return x


def calls(fn, *args):
    """fn eagerly and jitted, with the RuntimeWarnings each gave."""
    with warnings.catch_warnings(record=True) as eager_w:
        warnings.simplefilter("always")
        want = fn(*args)
    jf = jit_now(fn)
    with warnings.catch_warnings(record=True) as jit_w:
        warnings.simplefilter("always")
        got = jf(*args)
    return want, got, [str(w.message) for w in eager_w], [str(w.message) for w in jit_w], jf


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 1)], ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
def test_floats(dtype, axis, keepdims):
    x = data(dtype, (70, 45))
    fn = lambda a: np.nanmean(a, axis=axis, keepdims=keepdims)  # noqa: E731
    want, got, ew, jw, jf = calls(fn, x)
    assert_compiled(jf)
    assert ew == jw == []
    assert type(got) is type(want) and got.dtype == want.dtype and got.shape == want.shape
    # Sums of up to 3150 terms in another order: a few ulp of the data's scale (means near 0
    # cancel, so no relative bound).
    tol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * float(np.nanmax(np.abs(x))))


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.uint16, np.int64, np.bool_])
@pytest.mark.parametrize("axis", [None, 0, 1], ids=str)
def test_integers_are_means(dtype, axis):
    x = data(dtype, (33, 17))
    fn = lambda a: np.nanmean(a, axis=axis)  # noqa: E731
    assert_same(fn(x), run_compiled(fn, x), rtol=1e-15)


def test_slices_without_numbers_warn_as_numpy_does():
    x = data(np.float64, (40, 6))
    x[:, 2] = np.nan
    fn = lambda a: np.nanmean(a, axis=0)  # noqa: E731
    want, got, ew, jw, jf = calls(fn, x)
    assert ew == jw == ["Mean of empty slice"]
    assert_same(want, got)
    s = jf.stats()
    assert s["fp_reruns"] == 1 and any("warning-rerun" in r for r in s["fallback_reasons"]), s
    # The warning points at the user's line, as NumPy's does.
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        jf(x)
    assert w and w[0].filename == __file__, [(x.filename, x.lineno) for x in w]
    # Under errstate(all="raise") too: NumPy divides its 0/0 under errstate(ignore).
    with np.errstate(all="raise"):
        want, got, ew, jw, _ = calls(fn, x)
    assert ew == jw == ["Mean of empty slice"]
    assert_same(want, got)
    # And with the warning made an error, the same exception.
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(RuntimeWarning, match="Mean of empty slice"):
            jit_now(fn)(x)


def test_empty_axis_and_all_nan():
    for x, axis in ((np.empty((0, 4)), 0), (np.full((3, 5), np.nan, np.float32), None), (np.full((3, 5), np.nan), 1)):
        fn = lambda a: np.nanmean(a, axis=axis)  # noqa: E731
        want, got, ew, jw, _ = calls(fn, x)
        assert ew == jw
        assert_same(want, got)


def test_fused_with_the_code_around_it():
    x = data(np.float64, (400, 300))

    def standardize(a):
        m = np.nanmean(a, axis=0)
        d = np.where(np.isnan(a), 0.0, a - m)
        return d / np.sqrt(np.nanmean(d * d, axis=0) + 1e-9)

    want, got, ew, jw, jf = calls(standardize, x)
    assert ew == jw == []
    assert_compiled(jf)
    assert not jf.stats()["graph_breaks"]
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    f = np.asfortranarray(x)
    np.testing.assert_allclose(run_compiled(standardize, f), standardize(f), rtol=1e-12, atol=1e-12)


def test_errors_and_unsupported_arguments():
    x = data(np.float64, (4, 5))
    with pytest.raises(np.exceptions.AxisError):
        np.nanmean(x, axis=2)
    with pytest.raises(np.exceptions.AxisError):
        jit_now(lambda a: np.nanmean(a, axis=2))(x)
    # dtype= and out= run eagerly (a graph break), with NumPy's answer.
    fn = lambda a: np.nanmean(a, axis=0, dtype=np.float32) + 1  # noqa: E731
    jf = jit_now(fn)
    assert_same(fn(x), jf(x))


# ---- np.nanvar / np.nanstd: the same mean, the deviations with 0 at the NaNs, over count - ddof ----

@pytest.mark.parametrize("name", ["nanvar", "nanstd"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("axis", [None, 0, 1, (0, 1)], ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("ddof", [0, 1])
def test_nanvar_nanstd(name, dtype, axis, keepdims, ddof):
    x = data(dtype, (60, 35))
    f = getattr(np, name)
    fn = lambda a: f(a, axis=axis, ddof=ddof, keepdims=keepdims)  # noqa: E731
    want, got, ew, jw, jf = calls(fn, x)
    assert_compiled(jf)
    assert ew == jw == []
    assert type(got) is type(want) and got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=2e-6 if dtype == np.float32 else 1e-13)


@pytest.mark.parametrize("name", ["nanvar", "nanstd"])
def test_nanvar_slices_without_degrees_of_freedom(name):
    f = getattr(np, name)
    x = data(np.float64, (30, 5))
    x[:, 1] = np.nan
    x[1:, 3] = np.nan  # one number: no degree of freedom with ddof=1
    for ddof in (0, 1):
        fn = lambda a: f(a, axis=0, ddof=ddof)  # noqa: E731
        want, got, ew, jw, jf = calls(fn, x)
        assert ew == jw == ["Degrees of freedom <= 0 for slice."]
        assert_same(want, got, rtol=1e-14)
    assert_same(f(x[:, [0, 2, 4]], axis=0), run_compiled(lambda a: f(a, axis=0), x[:, [0, 2, 4]].copy()), rtol=1e-14)


@pytest.mark.parametrize("dtype", [np.int16, np.int64, np.bool_])
def test_nanvar_of_integers_is_var(dtype):
    x = data(dtype, (20, 9))
    for fn in (lambda a: np.nanvar(a, axis=0), lambda a: np.nanstd(a, ddof=1), lambda a: np.nanstd(a, axis=1, keepdims=True)):
        assert_same(fn(x), run_compiled(fn, x), rtol=1e-14)


def test_nan_standard_scaler():
    # The scikit-learn StandardScaler with missing values, written in NumPy.
    x = data(np.float32, (2000, 64), nan_fraction=0.05)

    def scale(a):
        return (a - np.nanmean(a, axis=0)) / np.nanstd(a, axis=0)

    want, got, ew, jw, jf = calls(scale, x)
    assert ew == jw == []
    assert_compiled(jf)
    assert not jf.stats()["graph_breaks"]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
