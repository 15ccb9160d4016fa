"""max/min of floats whose extreme is a zero of both signs (tracer/numpy_arrays.cpp, ops.def's
zero-tie mark): which zero NumPy returns then is its SIMD order's (NumPy 2.4 and 2.5 differ),
so such a slice re-runs eagerly ([algorithm-rerun]) and the answer is NumPy's, bit for bit;
slices of one zero sign, a larger element or a NaN compile; reductions along a kept last axis
(elementwise row folds, NumPy's order) compile whatever the zeros."""
import numpy as np
import pytest

import tracejit

from conftest import assert_compiled, assert_same, jit_now

REDUCERS = {
    "np.max": lambda x: np.max(x),
    "np.min": lambda x: np.min(x),
    "max_axis1": lambda x: x.max(axis=-1),
    "min_axis1_keepdims": lambda x: np.min(x, axis=-1, keepdims=True),
    "amax_all_axes": lambda x: np.amax(x, axis=tuple(range(x.ndim))),
    "ptp": lambda x: np.ptp(x, axis=-1),
}

SHAPES = [(5,), (9,), (17,), (33,), (40,), (65,), (300,), (4, 17), (3, 65), (6, 300), (2, 3, 33)]


def zeros_rows(dtype, shape, seed, signs):
    """Rows of zeros (signs: 'both', '+', '-') and elements on the other side of zero (-1 for a
    max, +1 for a min: `flip`)."""
    rng = np.random.default_rng(seed)
    if signs == "both":
        z = np.where(rng.integers(0, 2, shape).astype(bool), 0.0, -0.0)
    else:
        z = np.full(shape, 0.0 if signs == "+" else -0.0)
    other = rng.random(shape) < 0.4
    return np.where(other, -1.0, z).astype(dtype)


def run(fn, x):
    want = fn(x)
    jf = jit_now(fn)
    got = jf(x)
    assert_same(want, got)
    return jf


@pytest.mark.parametrize("name", list(REDUCERS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=str)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_both_zeros_match_numpy(name, dtype, shape):
    fn = REDUCERS[name]
    for seed in range(4):
        x = zeros_rows(dtype, shape, seed, "both")
        for v in (x, -x):  # max side and min side
            run(fn, v)


@pytest.mark.parametrize("name", ["np.max", "np.min", "max_axis1", "min_axis1_keepdims"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=str)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_one_zero_sign_compiles(name, dtype, shape):
    fn = REDUCERS[name]
    for signs in ("+", "-"):
        x = zeros_rows(dtype, shape, 7, signs)
        v = x if "max" in name else -x  # the zeros are the extreme: nothing to decide
        jf = run(fn, v)
        assert_compiled(jf)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=str)
def test_a_tie_of_zeros_reruns_eagerly(dtype):
    x = np.array([-1.0, 0.0] + [-2.0] * 30 + [-0.0, -3.0], dtype)
    jf = run(lambda v: np.max(v), x)
    s = jf.stats()
    assert s["compiled_calls"] == 0 and s["fp_reruns"] == 1, s
    (reason,) = s["fallback_reasons"]
    assert "test_zero_ties.py" in reason and "both -0.0 and 0.0" in reason and "[algorithm-rerun]" in reason, reason
    # ... only that call: the next data compiles.
    jf(np.array([-1.0, 0.0] + [-2.0] * 30 + [0.0, -3.0], dtype))
    assert jf.stats()["compiled_calls"] == 1


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=str)
@pytest.mark.parametrize("n", [40, 300])
def test_zeros_that_are_not_the_extreme_or_nan_compile(dtype, n):
    rng = np.random.default_rng(n)
    x = np.where(rng.random(n) < 0.5, 0.0, -0.0).astype(dtype)
    x[n // 3] = 2.5
    jf = run(lambda v: np.max(v), x)
    assert_compiled(jf)
    y = x.copy()
    y[n // 2] = np.nan
    jf = run(lambda v: np.min(v), y)
    assert_compiled(jf)
    jf = run(lambda v: v.max(axis=-1), np.stack([x, y, -x]))  # rows: 2.5, NaN, both zeros
    assert jf.stats()["fp_reruns"] == 1


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=str)
def test_data_holding_the_mark_is_still_right(dtype):
    """The mark is an ordinary number: data whose extreme it is re-runs, with NumPy's answer."""
    mark = float.fromhex("-0x1.5c2f8ep-100" if dtype == np.float32 else "-0x1.5c2f8e3a9d7b1p-700")
    x = np.full(50, -1.0, dtype)
    x[20] = mark
    jf = run(lambda v: np.max(v), x)
    assert jf(x) == dtype(mark)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=str)
@pytest.mark.parametrize("n", [1 << 20, 999_983, 3 * (1 << 18)])
def test_large_reductions_split_across_threads(dtype, n):
    """Long reductions run in chunks (ir/passes/split_reduce): a tie inside a chunk, or between
    two chunks' partial results, re-runs; one zero sign compiles."""
    for i, j in ((5, n - 3), (100, 101), (0, n // 2)):
        x = np.full(n, -1.0, dtype)
        x[i], x[j] = 0.0, -0.0
        run(lambda v: np.max(v), x)
        run(lambda v: np.min(v), -x)
        x[j] = 0.0
        assert_compiled(run(lambda v: np.max(v), x))


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=str)
@pytest.mark.parametrize("shape", [(17, 5), (40, 33), (300, 3)], ids=str)
def test_kept_last_axis_folds_rows_in_order(dtype, shape):
    for seed in range(3):
        x = zeros_rows(dtype, shape, seed, "both")
        assert_compiled(run(lambda v: v.max(axis=0), x))
        assert_compiled(run(lambda v: np.min(v, axis=0), -x))


def running_max(x):
    out = np.empty(x.shape[0], x.dtype)
    for i in range(x.shape[0]):
        out[i] = x[:i + 1].max()
    return out


@pytest.mark.parametrize("dtype, n", [(np.float64, 8), (np.float32, 16)], ids=str)
def test_windows_in_compiled_loops_take_the_later_zero(dtype, n):
    """A window reduced inside a compiled loop folds in order; a tie of zeros keeps the later
    one, as NumPy's reduction of up to one SIMD vector does (longer windows: README)."""
    rng = np.random.default_rng(n)
    for _ in range(6):
        x = np.where(rng.random(n) < 0.5, 0.0, -0.0).astype(dtype)
        x[rng.random(n) < 0.3] = -1
        jf = jit_now(running_max)
        assert_same(running_max(x), jf(x))
        assert_compiled(jf)
        assert "= loop " in tracejit.explain(jf, x)


def softmax(x):
    m = x.max(axis=1, keepdims=True)
    e = np.exp(x - m)
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=str)
def test_no_check_where_the_zeros_sign_cannot_reach_the_result(dtype):
    """exp(x - x.max()) maps -0.0 and 0.0 alike: softmax over rows whose maximum is a tie of
    zeros compiles (no check in its kernel); x - x.max() itself, returned, re-runs."""
    x = zeros_rows(dtype, (6, 40), 11, "both")
    jf = jit_now(softmax)
    assert_same(softmax(x), jf(x), rtol=1e-6 if dtype == np.float32 else 1e-14)  # exp: README's ulp table
    assert_compiled(jf)
    assert "fval = 1.0" not in tracejit.explain(jf, x)
    jf = run(lambda v: v - v.max(axis=1, keepdims=True), x)
    assert jf.stats()["fp_reruns"] == 1
    jf = run(lambda v: np.copysign(1.0, v.max(axis=1)).sum(), x)  # the sign itself
    assert jf.stats()["fp_reruns"] == 1
    with np.errstate(divide="ignore"):
        jf = run(lambda v: (1.0 / v.max(axis=1)).max(), x)  # a divisor: +-inf
    assert jf.stats()["fp_reruns"] == 1
