"""Transcendentals over data holding NaN: NumPy returns NaN there and raises no flag, so the
compiled call must not raise the invalid flag either (it would drop the compiled result and
re-run the call eagerly: stats()['fp_reruns']). An ordered float compare signals on NaN on x86,
so the backend turns every such compare into the quiet form after optimization (vcmplt_oqps ...;
backends/cpu/jit.cpp, quiet_fp_compares), and the clamps that x86 makes into vminps / vmaxps (which
signal too) see no NaN: exp's substitute NaN lanes first, tanh's takes the max on the bits."""
import warnings

import numpy as np
import pytest

from conftest import assert_same, jit_now

UNARY = ["exp", "expm1", "exp2", "log", "log1p", "log2", "log10", "sqrt", "cbrt", "sin", "cos", "tan",
         "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "arcsinh", "arccosh", "arctanh"]
BINARY = ["arctan2", "power", "hypot"]
QUIET = [(n, d) for n in UNARY + BINARY for d in (np.float32, np.float64)]


@pytest.mark.parametrize("name,dtype", QUIET, ids=[f"{n}-{d.__name__}" for n, d in QUIET])
@pytest.mark.parametrize("n", [7, 1000, 100_003])
def test_nan_passes_through_quietly(name, dtype, n):
    rng = np.random.default_rng(3)
    lo, hi = (1.1, 5.0) if name == "arccosh" else (0.1, 0.9)  # inside every domain
    x = rng.uniform(lo, hi, n).astype(dtype)
    x[n // 2] = np.nan
    x[0] = -np.nan
    y = rng.uniform(0.1, 0.9, n).astype(dtype)
    y[n // 3] = np.nan
    f = getattr(np, name)
    if name in BINARY:
        jf = jit_now(lambda u, v: f(u, v) * 2 + 1)
        args = (x, y)
    else:
        jf = jit_now(lambda v: f(v) * 2 + 1)
        args = (x,)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # NumPy warns about nothing here; neither may we
        want = f(*args) * 2 + 1
        got = jf(*args)
    s = jf.stats()
    assert s["compiled_calls"] == 1 and s["fp_reruns"] == 0, s
    assert got.dtype == want.dtype and got.shape == want.shape
    tol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol, equal_nan=True)


def test_genuine_invalid_still_warns():
    # Quiet compares hide only NaN operands: a NaN made from numbers (arccosh below 1,
    # arcsin above 1, log and sqrt below 0) is still NumPy's "invalid value" warning, next to a NaN operand.
    x = np.array([np.nan, 1.5, -0.5, 2.0], dtype=np.float64)
    for f in (np.arccosh, lambda v: np.arcsin(v + 1), np.log, np.sqrt):
        jf = jit_now(lambda v: f(v))
        with pytest.warns(RuntimeWarning, match="invalid value"):
            got = jf(x)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = f(x)
        assert_same(want, got, rtol=1e-15)


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
