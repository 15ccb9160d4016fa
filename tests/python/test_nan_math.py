"""Transcendentals over data holding NaN: NumPy returns NaN there and raises no flag, so the
compiled call must not raise the invalid flag either (it would drop the compiled result and
re-run the call eagerly: stats()['fp_reruns']). An ordered float compare signals on NaN on x86,
so the functions below substitute NaN lanes before their range checks (and put the NaN back at
the end); the float sin/cos/tan test for huge arguments on the integer bits."""
import warnings

import numpy as np
import pytest

from conftest import assert_same, jit_now

QUIET = [("exp", np.float32), ("exp", np.float64), ("expm1", np.float32), ("exp2", np.float32),
         ("exp2", np.float64), ("sin", np.float32), ("cos", np.float32), ("tan", np.float32),
         ("log", np.float32), ("log", np.float64), ("sqrt", np.float64), ("tanh", np.float64)]


@pytest.mark.parametrize("name,dtype", QUIET, ids=[f"{n}-{d.__name__}" for n, d in QUIET])
@pytest.mark.parametrize("n", [7, 1000, 100_003])
def test_nan_passes_through_quietly(name, dtype, n):
    rng = np.random.default_rng(3)
    x = rng.uniform(0.1, 0.9, n).astype(dtype)
    x[n // 2] = np.nan
    x[0] = -np.nan
    f = getattr(np, name)
    jf = jit_now(lambda v: f(v) * 2 + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # NumPy warns about nothing here; neither may we
        want = f(x) * 2 + 1
        got = jf(x)
    s = jf.stats()
    assert s["compiled_calls"] == 1 and s["fp_reruns"] == 0, s
    assert got.dtype == want.dtype and got.shape == want.shape
    tol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol, equal_nan=True)


@pytest.mark.parametrize("name", ["sin", "cos", "tan"])
def test_huge_and_infinite_arguments_still_flag(name):
    # sin(inf) is NumPy's "invalid value" warning; huge finite arguments take the slow path.
    x = np.array([1.0, 3e9, -7e30, np.inf, np.nan, 0.5], dtype=np.float32)
    f = getattr(np, name)
    jf = jit_now(lambda v: f(v))
    with pytest.warns(RuntimeWarning, match="invalid value"):
        got = jf(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = f(x)
    assert_same(want, got, rtol=4e-7)
    big = x[:3].copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_same(f(big), jit_now(lambda v: f(v))(big), rtol=4e-7)
