"""Shared helpers for the end-to-end tests: compare a jitted result with eager NumPy's."""
import os
import tempfile
import warnings

import numpy as np
import pytest

# Tests import the installed package (`pip install .`), or the developer build with
# PYTHONPATH=python. Compilation is synchronous so that a compiled call is observable at once.
os.environ.setdefault("TRACEJIT_SYNC", "1")
# The persistent kernel cache of the test run lives in a fresh directory, not the user's.
os.environ.setdefault("TRACEJIT_CACHE_DIR", tempfile.mkdtemp(prefix="tracejit-test-cache-"))

# Tolerances for transcendental ops (exp/log/tanh/sin/cos/pow): a few ulp of the result dtype.
RTOL = {np.dtype(np.float32): 1e-6, np.dtype(np.float64): 1e-14}


def assert_same(expected, got, rtol=0.0, signed_zeros=True):
    """`got` equals `expected` as NumPy would return it: same Python type, same structure,
    same dtype and shape, same values (bit-exact when rtol == 0, NaN == NaN, and the sign of
    zero when signed_zeros)."""
    assert type(got) is type(expected), f"type {type(got).__name__} != {type(expected).__name__}"
    if isinstance(expected, tuple):
        assert len(got) == len(expected)
        for e, g in zip(expected, got):
            assert_same(e, g, rtol, signed_zeros)
        return
    if isinstance(expected, (np.ndarray, np.generic)):
        assert got.dtype == expected.dtype, f"dtype {got.dtype} != {expected.dtype}"
        assert got.shape == expected.shape, f"shape {got.shape} != {expected.shape}"
        e, g = np.asarray(expected), np.asarray(got)
        if e.dtype.kind in "fc":
            if rtol:
                np.testing.assert_allclose(g, e, rtol=rtol, atol=0, equal_nan=True)
            else:
                assert np.array_equal(e, g, equal_nan=True), f"{g!r} != {e!r}"
            if signed_zeros and e.dtype.kind == "f":
                zeros = (e == 0) & (g == 0)
                assert np.array_equal(np.signbit(e[zeros]), np.signbit(g[zeros])), "sign of zero differs"
        else:
            assert np.array_equal(e, g), f"{g!r} != {e!r}"
        return
    if isinstance(expected, float):
        if rtol:
            assert got == pytest.approx(expected, rel=rtol, nan_ok=True)
        else:
            assert (np.isnan(got) and np.isnan(expected)) or got == expected
        return
    assert got == expected


@pytest.fixture
def same():
    return assert_same


@pytest.fixture
def quiet():
    """Silence the RuntimeWarnings eager NumPy raises for /0, overflow, invalid values."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with np.errstate(all="ignore"):
            yield
