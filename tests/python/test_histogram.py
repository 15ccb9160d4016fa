"""np.histogram with an int bins= compiles (NumPy's equal-bins algorithm in NumPy's dtypes):
every count and every edge equal to NumPy's, NumPy's ValueErrors, and the forms that run
eagerly say why."""
import warnings

import numpy as np
import pytest

from conftest import assert_compiled, check_same_outcome, jit_now

DTYPES = [np.float32, np.float64, np.int8, np.uint8, np.int32, np.int64, np.uint64]
SHAPES = [(0,), (1,), (7,), (300,), (6, 11), (70000,)]
KINDS = ["normal", "equal", "on edges", "ints", "wide"]

FORMS = {
    "default": lambda x: np.histogram(x),
    "bins=7": lambda x: np.histogram(x, 7),
    "range floats": lambda x: np.histogram(x, 5, range=(-1.0, 2.5)),
    "range ints": lambda x: np.histogram(x, bins=4, range=(0, 3)),
    "range equal": lambda x: np.histogram(x, 3, (1, 1)),
    "range 0.7": lambda x: np.histogram(x, 6, (0.7, 0.9)),
    "density False": lambda x: np.histogram(x, 1000, density=False),
}


def data(dtype, shape, kind, seed):
    rng = np.random.default_rng(seed)
    if np.issubdtype(dtype, np.floating):
        x = (rng.standard_normal(shape) * 3).astype(dtype)
    else:
        x = rng.integers(0, 5, shape).astype(dtype)
    if kind == "equal":
        x[...] = 1
    elif kind == "on edges" and x.size:  # values on the edges of the 'range floats' bins
        x.flat[: x.size // 2] = np.linspace(-1, 2.5, 6).astype(dtype)[np.arange(x.size // 2) % 6]
    elif kind == "ints":
        x = rng.integers(-3, 4, shape).astype(dtype) if np.issubdtype(dtype, np.signedinteger) or \
            np.issubdtype(dtype, np.floating) else x
    elif kind == "wide":
        if np.issubdtype(dtype, np.floating):
            x = (rng.standard_normal(shape) * 1e30).astype(dtype)
        else:
            info = np.iinfo(dtype)
            x = rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)
    return x


def same(want, got):
    assert type(got) is tuple and len(got) == 2
    for w, g in zip(want, got):
        assert g.dtype == w.dtype and g.shape == w.shape, (g.dtype, w.dtype, g.shape, w.shape)
        assert np.array_equal(g, w), (w, g)
        assert np.array_equal(np.signbit(g), np.signbit(w))


@pytest.mark.parametrize("form", list(FORMS))
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("kind", KINDS)
def test_counts_and_edges_match_numpy(form, dtype, shape, kind):
    fn = FORMS[form]
    for seed in range(2):  # new data, the same compiled code
        x = data(dtype, shape, kind, seed)
        jf = jit_now(fn)
        try:
            want = fn(x)
        except ValueError:  # too many bins for a range narrower than the dtype tells apart
            with pytest.raises(ValueError):
                jf(x)
            continue
        same(want, jf(x))
        assert_compiled(jf)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.uint8], ids=lambda d: d.__name__)
def test_runtime_range(dtype):
    """range= of Python floats passed in (runtime values: a new range does not recompile)."""
    def fn(x, lo, hi):
        return np.histogram(x, 9, range=(lo, hi))
    x = data(dtype, (500,), "normal", 3)
    jf = jit_now(fn)
    ranges = [(-1.5, 2.0), (0.0, 4.0), (1.0, 1.0), (-0.3, 0.7), (2.0, 2.0 + 1e-4)]
    for lo, hi in ranges:
        same(fn(x, lo, hi), jf(x, lo, hi))
    assert_compiled(jf, calls=len(ranges))
    assert jf.stats()["compiles"] == 1


@pytest.mark.parametrize("lo,hi", [(2.0, 1.0), (0.0, float("inf")), (float("nan"), 1.0)])
def test_runtime_range_errors(lo, hi):
    """NumPy's ValueError for a decreasing or non-finite range: the call re-runs eagerly."""
    def fn(x, lo, hi):
        return np.histogram(x, 4, range=(lo, hi))
    x = np.arange(10.0)
    jf = jit_now(fn)
    same(fn(x, 0.0, 5.0), jf(x, 0.0, 5.0))
    with pytest.raises(ValueError):
        fn(x, lo, hi)
    with pytest.raises(ValueError):
        jf(x, lo, hi)
    # the re-run's reason: the range check, or the floating-point flags the kernel raised on
    # the way (an inf bound makes NaN edges), whichever the runtime met first
    assert any("[error-rerun]" in r or "[fp-rerun]" in r for r in jf.stats()["fallback_reasons"])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: d.__name__)
def test_autodetected_range_not_finite_raises(bad, dtype):
    x = np.arange(20, dtype=dtype)
    x[7] = bad
    check_same_outcome(lambda x: np.histogram(x, 5), x)
    jf = jit_now(lambda x: np.histogram(x, 5))
    with pytest.raises(ValueError):
        jf(x)
    (reason,) = jf.stats()["fallback_reasons"]  # the check, or the flags the NaN/inf raised first
    assert "test_histogram.py" in reason and ("NaN or an inf" in reason or "[fp-rerun]" in reason), reason


def test_too_many_bins_raises():
    """Bins narrower than the dtype can tell apart: NumPy's ValueError."""
    x = np.array([1.0, 1.0 + 2 ** -20], dtype=np.float32)
    fn = lambda x: np.histogram(x, 100)  # noqa: E731
    check_same_outcome(fn, x)
    jf = jit_now(fn)
    with pytest.raises(ValueError):
        jf(x)
    assert any("too narrow" in r for r in jf.stats()["fallback_reasons"])


def test_signed_zero_minimum():
    """A minimum that is a zero of both signs: NumPy's edge (which zero depends on its SIMD
    order), by re-running eagerly."""
    x = np.array([0.0, -0.0, 1.0, 2.0] * 20)
    fn = lambda x: np.histogram(x, 4)  # noqa: E731
    same(fn(x), jit_now(fn)(x))


def test_fused_with_its_producer():
    def fn(x, y):
        return np.histogram(np.log(x) * y, 20, range=(-3.0, 3.0))
    rng = np.random.default_rng(5)
    x = rng.random(5000) + 0.01
    y = rng.standard_normal(5000)
    jf = jit_now(fn)
    same(fn(x, y), jf(x, y))
    assert_compiled(jf)


@pytest.mark.parametrize("fn,why", [
    (lambda x: np.histogram(x, [0.0, 1.0, 2.5]), "bins= other than an int"),
    (lambda x: np.histogram(x, "auto"), "bins= other than an int"),
    (lambda x: np.histogram(x, 5, weights=x), "weights="),
    (lambda x: np.histogram(x, 5, density=True), "density= other than False"),
    (lambda x: np.histogram(x > 1, 3), "of bool data"),
    (lambda x: np.histogram(x, 0), "bins=0 runs eagerly"),
    (lambda x: np.histogram(x, 3, range=(2, 1)), "runs eagerly (NumPy raises ValueError)"),
])
def test_other_forms_run_eagerly_and_say_why(fn, why):
    x = np.random.default_rng(2).random(40) * 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # bool data: NumPy's conversion warning
        check_same_outcome(fn, x)
        jf = jit_now(fn)
        try:
            jf(x)
        except ValueError:
            pass
    st = jf.stats()
    reasons = st["graph_break_reasons"] + st["fallback_reasons"]
    assert any(why in r for r in reasons), reasons


def test_float16_runs_eagerly():
    x = (np.random.default_rng(4).random(50) * 3).astype(np.float16)
    fn = lambda x: np.histogram(x, 3)  # noqa: E731
    check_same_outcome(fn, x)
    jf = jit_now(fn)
    jf(x)
    st = jf.stats()
    assert st["compiled_calls"] == 0 and any("[unsupported-dtype]" in r for r in st["fallback_reasons"]), st
