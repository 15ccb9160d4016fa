"""np.nanmax / np.nanmin and np.fmax / np.fmin.reduce (tracer/nan_reductions.cpp) against eager
NumPy: the extreme of the numbers, NaN only for a slice with none (eagerly, with NumPy's
"All-NaN slice encountered" warning for nanmax/nanmin), every dtype, axes, keepdims; signed
zeros bit for bit; data with NaN compiles."""
import warnings

import numpy as np
import pytest

from conftest import assert_compiled, assert_same, check_same_outcome, jit_now

CASES = {
    "nanmax": lambda x: np.nanmax(x),
    "nanmin": lambda x: np.nanmin(x),
    "nanmax_axis1": lambda x: np.nanmax(x, axis=1),
    "nanmin_axis-1_keepdims": lambda x: np.nanmin(x, axis=-1, keepdims=True),
    "nanmax_axis0": lambda x: np.nanmax(x, 0),
    "nanmin_axes": lambda x: np.nanmin(x, axis=(0, 1), keepdims=True),
    "fmax.reduce": lambda x: np.fmax.reduce(x),
    "fmin.reduce_none": lambda x: np.fmin.reduce(x, axis=None),
    "fmax.reduce_axis1": lambda x: np.fmax.reduce(x, axis=1, keepdims=True),
}
SHAPES = [(3, 5), (4, 17), (2, 40), (7, 300)]


def data(dtype, shape, kind, seed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 10).astype(dtype)
    if kind == "nan":
        x[rng.random(shape) < 0.3] = np.nan
        x[:, 0] = 1.5  # every row and column holds a number
        x[0, :] = -2.5
    elif kind == "all-nan row":
        x[1, :] = np.nan
    elif kind == "zeros":  # ties of signed zeros, NaN around them
        x = np.where(rng.random(shape) < 0.5, 0.0, -0.0).astype(dtype)
        x[rng.random(shape) < 0.3] = -1
        x[rng.random(shape) < 0.2] = np.nan
    elif kind == "inf":
        x[0, :] = -np.inf
        x[-1, :] = np.inf
    return x


def outcome(fn, x):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        r = fn(x)
    return r, [(type(m.message), str(m.message)) for m in w]


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=str)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("kind", ["plain", "nan", "all-nan row", "zeros", "inf"])
def test_floats_match_numpy(name, dtype, shape, kind):
    fn = CASES[name]
    for seed in range(2):
        x = data(dtype, shape, kind, seed)
        want, want_warn = outcome(fn, x)
        jf = jit_now(fn)
        got, got_warn = outcome(jf, x)
        assert_same(want, got)
        assert got_warn == want_warn
        if kind in ("plain", "nan"):
            assert_compiled(jf)


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("dtype", [np.int64, np.int8, np.uint16, np.bool_], ids=str)
def test_other_dtypes_are_max_and_min(name, dtype):
    x = (np.random.default_rng(3).standard_normal((4, 17)) * 50).astype(dtype)
    jf = jit_now(CASES[name])
    assert_same(CASES[name](x), jf(x))
    assert_compiled(jf)


def test_all_nan_slice_warns_at_the_users_line():
    fn = CASES["nanmax_axis1"]
    x = data(np.float64, (3, 5), "all-nan row", 0)
    jf = jit_now(fn)
    with pytest.warns(RuntimeWarning, match="All-NaN slice encountered"):
        r = jf(x)
    assert np.isnan(r[1]) and not np.isnan(r[0])
    (reason,) = jf.stats()["fallback_reasons"]
    assert "test_nan_extremes.py" in reason and "[warning-rerun]" in reason, reason


@pytest.mark.parametrize("fn", [lambda x: np.nanmax(x), lambda x: np.fmin.reduce(x, axis=0)])
def test_empty_raises_as_numpy(fn):
    x = np.zeros((0, 3))
    with pytest.raises(ValueError):
        fn(x)
    with pytest.raises(ValueError):
        jit_now(fn)(x)


def test_fuses_with_its_producer():
    """nanmax of a computed array: one compiled call, NumPy's answer."""
    def fn(x, y):
        return np.nanmax(np.log(x) - y, axis=1)
    rng = np.random.default_rng(5)
    x = rng.random((64, 200)) + 0.01
    x[rng.random(x.shape) < 0.1] = np.nan
    y = rng.standard_normal(200)
    jf = jit_now(fn)
    assert_same(fn(x, y), jf(x, y))
    assert_compiled(jf)


OUT = np.empty(4)


@pytest.mark.parametrize("fn,why", [
    (lambda x: np.nanmax(x, 1, OUT), "np.nanmax() with 'out'"),
    (lambda x: np.nanargmin(x, 1, out=OUT), "np.nanargmin() with 'out'"),
    (lambda x: np.nanargmax(x, 1, None, False), "np.nanargmax() with 'these arguments'"),  # NumPy: TypeError
    (lambda x: np.nanmin(x, where=x > 0, initial=9.0), "np.nanmin() with 'where'"),
])
def test_untraced_arguments_run_eagerly_and_say_which(fn, why):
    """Arguments tracing does not take: the call runs eagerly (NumPy's result or exception) and
    the graph-break reason names them."""
    x = np.random.default_rng(2).random((4, 6))
    check_same_outcome(fn, x)
    jf = jit_now(fn)
    try:
        jf(x)
    except TypeError:
        pass
    reasons = jf.stats()["graph_break_reasons"] + jf.stats()["fallback_reasons"]
    assert any(why + " is not traced yet" in r for r in reasons), reasons


ARG_CASES = {
    "nanargmax": lambda x: np.nanargmax(x),
    "nanargmin_axis1": lambda x: np.nanargmin(x, axis=1),
    "nanargmax_axis0_keepdims": lambda x: np.nanargmax(x, axis=0, keepdims=True),
    "nanargmin_axis-1": lambda x: np.nanargmin(x, -1),
}


@pytest.mark.parametrize("name", list(ARG_CASES))
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int16, np.uint8], ids=str)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("kind", ["plain", "nan", "all-nan row", "zeros", "inf"])
def test_nanargmax_nanargmin(name, dtype, shape, kind):
    """NumPy's index (the first extreme, NaNs skipped); a slice of NaNs only raises ValueError."""
    fn = ARG_CASES[name]
    if not np.issubdtype(dtype, np.floating) and kind != "plain":
        return
    for seed in range(2):
        jf = check_same_outcome(fn, data(dtype, shape, kind, seed))  # None: NumPy raised ValueError
        if jf is not None and kind in ("plain", "nan", "zeros", "inf"):
            assert_compiled(jf)
