"""np.diff(a, n=1, axis=-1, prepend=, append=) compiles to NumPy's own steps
(numpy/lib/_function_base_impl.py): the parts concatenated in their result_type (a 0-d
prepend/append broadcast to one slice along the axis), then n times a[1:] - a[:-1] along the
axis (not_equal for bool). Compared with eager NumPy over every dtype (integer wraparound
included), shapes with 0- and 1-sized dimensions, n from 0 to past the axis length, every axis
form, strided/transposed/reversed inputs, NaN and infinities; each call must have compiled.
Bad n / axis / 0-d inputs raise NumPy's exceptions."""
import warnings

import numpy as np
import pytest

from conftest import assert_compiled, assert_same, jit_now, record

DTYPES = [np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
          np.float32, np.float64]
SHAPES = [(0,), (1,), (2,), (9,), (4, 0), (0, 3), (1, 6), (5, 7), (3, 1, 4), (2, 3, 5)]


def make(shape, dtype, seed):
    r = np.random.default_rng(seed)
    if dtype == np.bool_:
        return r.random(shape) < 0.5
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return r.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)  # wraps in subtract
    x = r.standard_normal(shape) * 10.0 ** r.integers(-3, 4, shape)
    return x.astype(dtype)

def check(fn, *args):
    jf = jit_now(fn)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # inf - inf in the float data
        want, got = fn(*args), jf(*args)
    assert_same(want, got)
    assert_compiled(jf)
    return got


def axes_for(ndim):
    return [-1, 0] + ([1, -2] if ndim >= 2 else []) + ([2, -3] if ndim >= 3 else [])


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_matches_numpy(shape, dtype):
    x = make(shape, dtype, hash((shape, np.dtype(dtype).name)) % 1000)
    check(lambda x: np.diff(x), x)
    for axis in axes_for(len(shape)):
        for n in (1, 2, 3):
            check(lambda x, n=n, a=axis: np.diff(x, n=n, axis=a), x)
    check(lambda x: np.diff(x, 2, 0), x)  # positional n and axis


@pytest.mark.parametrize("n", [4, 9, 12])
def test_n_at_and_past_the_axis_length(n):
    x = make((3, 9), np.float64, 1)
    check(lambda x: np.diff(x, n=n), x)
    check(lambda x: np.diff(x, n=n, axis=0), x)
    check(lambda x: np.diff(x > 0, n=n), x)


def test_n_zero_returns_the_input_itself():
    x = make((4, 5), np.int32, 2)
    jf = jit_now(lambda x: np.diff(x, n=0))
    assert jf(x) is x
    assert np.diff(x, n=0) is x


@pytest.mark.parametrize("view", ["T", "step", "neg", "both"])
def test_non_contiguous_inputs(view):
    base = make((30, 12), np.float64, 3)
    x = {"T": base.T, "step": base[::3, ::2], "neg": base[::-1], "both": base[::-2, ::-3].T}[view]
    for axis in (0, 1, -1):
        check(lambda x, a=axis: np.diff(x, axis=a), x)
        check(lambda x, a=axis: np.diff(x, n=2, axis=a), x)


def test_special_values():
    x = np.array([1.0, np.nan, 2.0, np.inf, np.inf, -np.inf, -0.0, 0.0, 5e-324, -1e308, 1e308])
    with np.errstate(all="ignore"):  # NumPy's invalid (inf - inf) and overflow flags: ignored
        check(lambda x: np.diff(x), x)
        check(lambda x: np.diff(x, n=3), x)
        check(lambda x: np.diff(x.astype(np.float32)), x)


def test_flags_warn_as_numpy():
    # inf - inf and an overflowing difference warn in NumPy: the compiled call sees the flags
    # and runs eagerly again, so the same warnings come out.
    x = np.array([np.inf, np.inf, 1.0, -1e308, 1e308])
    f = lambda x: np.diff(x)  # noqa: E731
    want, got = record(f, x), record(jit_now(f), x)
    assert [m for _, m, _ in got[2]] == [m for _, m, _ in want[2]] and len(want[2]) == 2
    assert_same(want[0], got[0])


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.float32, np.float64, np.bool_, np.int64])
def test_prepend_append(dtype):
    x = make((4, 6), dtype, 5)
    check(lambda x: np.diff(x, prepend=0), x)                    # Python int: an int64 0-d array
    check(lambda x: np.diff(x, append=1.5, axis=0), x)           # Python float: float64
    check(lambda x: np.diff(x, prepend=True, append=False), x)
    check(lambda x: np.diff(x, n=2, prepend=x[:, :1], append=x[:, -2:]), x)
    check(lambda x: np.diff(x, axis=0, prepend=x[:1].astype(np.float32)), x)
    check(lambda x: np.diff(x, prepend=x[0, 0]), x)              # a NumPy scalar: its own dtype


def test_fused_in_a_larger_expression():
    def f(t, y):
        return np.diff(y) / np.diff(t), np.abs(np.diff(y, n=2, axis=0)).max()

    r = np.random.default_rng(4)
    check(f, np.sort(r.random(50)) + np.arange(50), r.standard_normal((7, 50)))


@pytest.mark.parametrize("case", ["n<0", "0-d", "axis", "axis tuple", "n float"])
def test_errors_as_numpy(case):
    x = np.arange(6.0).reshape(2, 3)
    f = {"n<0": lambda x: np.diff(x, n=-1), "0-d": lambda x: np.diff(x[0, 0]),
         "axis": lambda x: np.diff(x, axis=2), "axis tuple": lambda x: np.diff(x, axis=(0,)),
         "n float": lambda x: np.diff(x, n=1.0)}[case]
    with pytest.raises(Exception) as want:
        f(x)
    jf = jit_now(f)
    with pytest.raises(type(want.value)) as got:
        jf(x)
    assert str(got.value) == str(want.value)
