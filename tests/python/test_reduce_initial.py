"""max/min with initial= (tracer/numpy_arrays.cpp) against NumPy: np.maximum(initial, the
reduction), initial first so a tie of signed zeros keeps what NumPy's fold keeps; axes,
keepdims, NaN data and NaN initial (a runtime float), every dtype; empty arrays and initial
values the dtype cannot hold run eagerly."""
import numpy as np
import pytest

from conftest import assert_compiled, assert_same, check_compiled, check_same_outcome, jit_now, random_array

NAN = float("nan")


@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64, np.int16, np.uint8, np.uint64], ids=str)
@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 1)], ids=str)
def test_initial_axes(name, dtype, axis):
    x = random_array(dtype, (5, 7), seed=3, span=100)
    init = 50
    f = np.max if name == "max" else np.min
    check_compiled(lambda x: f(x, axis=axis, initial=init), x)
    if name == "max":
        check_compiled(lambda x: x.max(axis=axis, keepdims=True, initial=init), x)
    else:
        check_compiled(lambda x: x.min(axis=axis, keepdims=True, initial=init), x)


@pytest.mark.parametrize("init", [0.0, -0.0, 0.25, -1e300, float("inf")], ids=str)
@pytest.mark.parametrize("n", [1, 2, 5, 8, 17, 64, 1000])
def test_initial_signed_zeros_and_floats(init, n):
    """A result of zero re-runs eagerly (NumPy's SIMD fold decides which zero); others compile."""
    rng = np.random.default_rng(n)
    z = np.where(rng.integers(0, 2, n).astype(bool), 0.0, -0.0)
    for x in (z, z.astype(np.float32), rng.standard_normal(n), -np.abs(rng.standard_normal(n))):
        for f in (np.max, np.min):
            fn = lambda x: f(x, initial=init)  # noqa: E731
            try:
                want = fn(x)
            except OverflowError:
                continue
            jf = jit_now(fn)
            assert_same(want, jf(x))
            s = jf.stats()
            if x.dtype == np.float32 and abs(init) == 1e300:
                assert s["graph_breaks"] == 1 or s["fallback_reasons"], s  # overflows float32: eager
            elif want == 0:
                assert s["fp_reruns"] == 1 and any("algorithm-rerun" in r for r in s["fallback_reasons"]), s
            else:
                assert_compiled(jf)


def test_initial_nans():
    x = random_array(np.float64, (4, 6), seed=5)
    x[1, 2] = np.nan
    check_compiled(lambda x: np.max(x, axis=1, initial=0.0), x)
    check_compiled(lambda x: np.min(x, initial=10.0), x)
    check_compiled(lambda x: np.max(x[0], initial=np.nan), x)   # np.nan: a runtime Python float
    check_compiled(lambda x: np.min(x, axis=0, initial=NAN), x)
    check_compiled(lambda x: np.max(x.astype(np.float32), initial=0.1), x)


def test_initial_fused_into_expression():
    x = random_array(np.float32, (32, 16), seed=6)
    check_compiled(lambda x: x - np.max(x, axis=1, keepdims=True, initial=0.0), x)
    check_compiled(lambda x: np.maximum(x, 0).max(axis=0, initial=1.0) * 2, x)


@pytest.mark.parametrize("x, init", [
    (np.zeros((0, 3)), 0.5),              # empty: NumPy gives initial
    (np.arange(6).reshape(2, 3), 0.5),    # a float initial for ints
    (np.arange(6, dtype=np.uint8), -1),   # out of the dtype's range
    (np.arange(6, dtype=np.int8), 300),
    (np.ones(3, np.float32), 1e300),      # overflows float32
    (np.array([True, False]), 1),
], ids=lambda v: getattr(v, "dtype", v) if not isinstance(v, (int, float)) else str(v))
def test_initial_eager_forms(x, init):
    fn = lambda x: np.max(x, axis=0, initial=init)  # noqa: E731
    check_same_outcome(fn, x)
    jf = jit_now(fn)
    try:
        want = fn(x)
    except Exception:  # noqa: BLE001 - NumPy's exception, checked above
        return
    assert_same(want, jf(x))
    assert jf.stats()["graph_breaks"] or jf.stats()["fallback_reasons"]


def test_initial_sum_still_eager():
    x = random_array(np.float64, (3, 4), seed=7)
    fn = lambda x: np.sum(x, initial=1.5)  # noqa: E731
    jf = jit_now(fn)
    assert_same(fn(x), jf(x))
    assert jf.stats()["graph_breaks"] == 1
    with pytest.raises(AssertionError):
        assert_compiled(jf)
