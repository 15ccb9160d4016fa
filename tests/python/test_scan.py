"""np.cumsum / np.cumprod and the ndarray methods compile to one scan along an axis (the
scan_sum / scan_prod IR ops, a loop in order carrying the running value): NumPy's
add/multiply.accumulate step by step, so float results are bit-exact; integers and bools
accumulate in NumPy's own dtype (int64, uint64 for unsigned, or dtype=). Compared with eager
NumPy over every dtype, shapes with 0- and 1-sized dimensions, every axis form (None, ints,
negative ints), strided, transposed and reversed inputs, NaN and infinities; each call must
have compiled. out= stays a graph break with its reason; bad axes raise NumPy's exceptions."""
import warnings

import numpy as np
import pytest

from conftest import assert_compiled, assert_same, check_compiled, jit_now, record

DTYPES = [np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
          np.float32, np.float64]
SHAPES = [(), (0,), (1,), (9,), (4, 0), (1, 6), (5, 7), (3, 1, 4), (2, 3, 5)]


def make(shape, dtype, seed, prod=False):
    r = np.random.default_rng(seed)
    if dtype == np.bool_:
        return r.random(shape) < 0.6
    if np.issubdtype(dtype, np.integer):
        lo = 0 if np.issubdtype(dtype, np.unsignedinteger) else (-3 if prod else -100)
        return r.integers(lo, 4 if prod else 100, shape).astype(dtype)
    if prod:  # near 1: products neither overflow nor underflow
        return r.uniform(0.5, 1.5, shape).astype(dtype) * np.where(r.random(shape) < 0.2, -1, 1).astype(dtype)
    return (r.standard_normal(shape) * 10.0 ** r.integers(-3, 4, shape)).astype(dtype)


def axes_for(ndim):
    forms = [None, 0, -1]
    if ndim >= 2:
        forms += [1, -2]
    if ndim >= 3:
        forms += [2, -3]
    return forms


# The methods, spelled out (getattr is not traced).
METHOD = {"cumsum": (lambda x: x.cumsum(), lambda x, a: x.cumsum(a), lambda x, d: x.cumsum(dtype=d)),
          "cumprod": (lambda x: x.cumprod(), lambda x, a: x.cumprod(a), lambda x, d: x.cumprod(dtype=d))}
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("op", ["cumsum", "cumprod"])
def test_matches_numpy(op, shape, dtype):
    x = make(shape, dtype, hash((op, shape, np.dtype(dtype).name)) % 1000, prod=op == "cumprod")
    f = getattr(np, op)
    for axis in axes_for(len(shape)):
        if axis is None:
            check_compiled(lambda x: f(x), x)
            check_compiled(METHOD[op][0], x)
        else:
            check_compiled(lambda x, a=axis: f(x, axis=a), x)
            check_compiled(lambda x, a=axis, m=METHOD[op][1]: m(x, a), x)  # positional axis, the method


@pytest.mark.parametrize("op", ["cumsum", "cumprod"])
@pytest.mark.parametrize("dtype", [np.int8, np.uint16, np.int32, np.float32, np.float64, np.bool_, np.uint64])
def test_dtype_keyword(op, dtype):
    x = make((6, 5), np.int16, 4, prod=True)
    f = getattr(np, op)
    check_compiled(lambda x: f(x, axis=1, dtype=dtype), x)
    check_compiled(lambda x, m=METHOD[op][2]: m(x, dtype), x)
    check_compiled(lambda x: f(x, None, dtype), x)  # positional dtype
    xf = make((6, 5), np.float64, 5, prod=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # float -> int casts of the values NumPy makes too
        check_compiled(lambda x: f(x, 0, dtype=dtype), xf)


@pytest.mark.parametrize("op", ["cumsum", "cumprod"])
@pytest.mark.parametrize("view", ["T", "step", "neg", "both"])
def test_non_contiguous_inputs(op, view):
    base = make((30, 12), np.float64, 3, prod=True)
    x = {"T": base.T, "step": base[::3, ::2], "neg": base[::-1], "both": base[::-2, ::-3].T}[view]
    f = getattr(np, op)
    for axis in (None, 0, 1, -1):
        check_compiled(lambda x, a=axis: f(x, axis=a), x)


def test_bool_accumulates_in_int64_and_or_with_dtype_bool():
    x = np.array([[True, False, True], [False, False, True]])
    assert check_compiled(lambda x: np.cumsum(x, axis=1), x).dtype == np.int64
    check_compiled(lambda x: np.cumsum(x, axis=0, dtype=bool), x)   # logical or
    check_compiled(lambda x: np.cumprod(x, axis=1, dtype=bool), x)  # logical and


def test_special_values_bit_exact():
    x = np.array([1.0, np.nan, 2.0, np.inf, -np.inf, -0.0, 0.0, 5e-324, -1e308, -1e308, 3.0])
    for op in (np.cumsum, np.cumprod):
        with np.errstate(all="ignore"):
            check_compiled(lambda x, f=op: f(x), x)
            check_compiled(lambda x, f=op: f(x[::-1]), x)
    z = np.array([-0.0, -0.0, -0.0])  # -0.0 + -0.0 stays -0.0: the scan starts from x[0], not 0
    got = check_compiled(lambda x: np.cumsum(x), z)
    assert np.signbit(got).all()
    check_compiled(lambda x: np.cumprod(x), z)


def test_long_float32_scan_is_sequential_not_pairwise():
    # A long float32 sum is where pairwise and sequential summation differ: bit-exact here.
    x = np.random.default_rng(1).random(100_000).astype(np.float32)
    got = check_compiled(lambda x: np.cumsum(x), x)
    assert got[-1] != np.float32(x.sum())  # NumPy's sum is pairwise: the scan must not be
    check_compiled(lambda x: np.cumsum(x.reshape(100, 1000), axis=0), x)
    check_compiled(lambda x: np.cumsum(x.reshape(100, 1000), axis=1), x)


def test_integer_wraparound_as_numpy():
    x = np.arange(1, 60, dtype=np.int64)
    check_compiled(lambda x: np.cumprod(x), x)
    u = np.full(10, 2**63, dtype=np.uint64)
    check_compiled(lambda x: np.cumsum(x), u)
    i8 = np.full(10, 127, dtype=np.int8)
    check_compiled(lambda x: np.cumsum(x, dtype=np.int8), i8)


def test_fused_with_elementwise_producers_and_consumers():
    def f(x, y):
        c = np.cumsum(x * 2.0 + y, axis=1)
        return c / (np.arange(1, x.shape[1] + 1)), np.cumprod(1.0 + 0.01 * x, axis=0)[-1] * 3.0

    r = np.random.default_rng(2)
    check_compiled(f, r.standard_normal((50, 40)), r.standard_normal(40))


def test_numpy_scalar_and_zero_d_inputs():
    check_compiled(lambda x: np.cumsum(x), np.array(5.5))
    check_compiled(lambda x: np.cumsum(x[0]), np.arange(3, dtype=np.int32))   # a NumPy scalar
    check_compiled(lambda x: np.cumprod(x, axis=-1), np.array(3, np.uint8))


@pytest.mark.parametrize("axis", [2, -3, (0,), 1.0, True])
def test_bad_axis_raises_as_numpy(axis):
    x = np.ones((2, 3))
    f = lambda x: np.cumsum(x, axis=axis)  # noqa: E731
    with pytest.raises(Exception) as want:
        f(x)
    jf = jit_now(f)
    with pytest.raises(type(want.value)) as got:
        jf(x)
    assert str(got.value) == str(want.value)


def test_out_keyword_is_a_graph_break_with_reason():
    def f(x, o):
        np.cumsum(x, out=o)
        return o * 2

    x = np.arange(5.0)
    want = f(x, np.empty(5))
    jf = jit_now(f)
    assert_same(want, jf(x, np.empty(5)))
    s = jf.stats()
    assert s["compiled_calls"] == 0 or s["graph_breaks"], s
    reasons = " ".join(str(r) for r in list(s["fallback_reasons"]) + list(s.get("graph_break_reasons", [])))
    assert "out=" in reasons, s


def test_overflow_warns_as_numpy():
    x = np.array([3e38, 3e38, 1.0], np.float32)
    f = lambda x: np.cumsum(x)  # noqa: E731
    jf = jit_now(f)
    want, got = record(f, x), record(jf, x)
    assert [m for _, m, _ in got[2]] == [m for _, m, _ in want[2]]
    assert_same(want[0], got[0])


def test_repeated_calls_reuse_the_kernel():
    jf = jit_now(lambda x: x.cumsum(axis=0) - x.cumprod(axis=1))
    for k in range(3):
        x = make((8, 6), np.float64, k, prod=True)
        assert_same((lambda x: x.cumsum(axis=0) - x.cumprod(axis=1))(x), jf(x))
    assert_compiled(jf, 3)
