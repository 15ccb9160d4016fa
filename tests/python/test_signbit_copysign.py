"""np.signbit and np.copysign compile to the signbit / copysign IR ops (the float's sign bit
itself; C's copysign, a bit operation): bit-exact with NumPy, -0.0 and the sign bits of NaN
included, and no floating-point flags. signbit of integers and bools (NumPy's float16/32/64
loops) is x < 0; copysign takes NumPy's float loop (float16 for 8-bit integers and bools,
which runs eagerly at a graph break). Compared with eager NumPy over every dtype,
broadcasting, shapes with 0- and 1-sized dimensions, strided inputs and Python numbers; each
call must have compiled."""
import warnings

import numpy as np
import pytest

from conftest import assert_compiled, jit_now, record

DTYPES = [np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
          np.float32, np.float64]
NEG_NAN64 = np.array([0xFFF8000000000000, 0xFFF0000000000001, 0x7FF0000000000123], np.uint64).view(np.float64)
SPECIAL = np.concatenate([[0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 5e-324, -5e-324, 1e308, -1e308, 3.0],
                          NEG_NAN64])

def bits_equal(want, got):
    assert type(got) is type(want)
    w, g = np.asarray(want), np.asarray(got)
    assert g.dtype == w.dtype and g.shape == w.shape
    flat = lambda a: np.ascontiguousarray(a).reshape(-1).view(np.uint8)  # noqa: E731
    assert np.array_equal(flat(w), flat(g)), (w, g)


def check(fn, *args):
    jf = jit_now(fn)
    want, got = record(fn, *args), record(jf, *args)
    bits_equal(want[0], got[0])
    assert want[2] == got[2] == []
    assert_compiled(jf)
    return got[0]


def make(shape, dtype, seed):
    r = np.random.default_rng(seed)
    if dtype == np.bool_:
        return r.random(shape) < 0.5
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return r.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)
    with np.errstate(all="ignore"):  # inf * 0, 1e308 * 3, float32 casts of 1e308
        x = r.choice(SPECIAL, shape) * np.where(r.random(shape) < 0.5, 1.0, r.standard_normal(shape))
        return x.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", [(), (0,), (1,), (40,), (3, 0), (1, 5), (6, 7)], ids=str)
def test_signbit_every_dtype(shape, dtype):
    x = make(shape, dtype, hash((shape, np.dtype(dtype).name)) % 1000)
    got = check(lambda x: np.signbit(x), x)
    assert np.asarray(got).dtype == np.bool_


def test_signbit_of_nan_and_zero_signs():
    for dt in (np.float64, np.float32):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            x = SPECIAL.astype(dt)
        got = check(lambda x: np.signbit(x), x)
        assert list(got[:2]) == [False, True]
        assert np.array_equal(got, (x.view(np.uint64 if dt == np.float64 else np.uint32) >> (63 if dt == np.float64 else 31)) == 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16, np.int32, np.int64, np.uint32, np.uint64],
                         ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", [(), (0,), (1,), (40,), (3, 0), (6, 7)], ids=str)
def test_copysign_every_dtype(shape, dtype):
    x = make(shape, dtype, 1)
    y = make(shape, dtype, 2)
    check(lambda x, y: np.copysign(x, y), x, y)


def test_copysign_all_special_pairs_bit_exact():
    for dt in (np.float64, np.float32):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            s = SPECIAL.astype(dt)
        check(lambda x, y: np.copysign(x, y), s[:, None], s[None, :])  # broadcasting both ways


def test_mixed_dtypes_python_numbers_and_scalars():
    x = make((5, 4), np.float32, 3)
    check(lambda x: np.copysign(x, -1.0), x)           # a weak Python float: float32
    check(lambda x: np.copysign(2, x), x)
    check(lambda x: np.copysign(x, x.astype(np.float64)), x)  # float64 loop
    check(lambda x: np.copysign(x[0, 0], -0.0), x)     # a NumPy scalar result
    check(lambda x: np.signbit(x[1, 1]), x)            # a NumPy bool
    check(lambda x: np.copysign(x, np.int32(-3)), x)   # float64 loop
    check(lambda x, s: np.copysign(x, s), x, -2.5)     # a runtime Python float
    check(lambda x: np.signbit(x - 0.5) | np.signbit(-x), x)


@pytest.mark.parametrize("view", ["T", "step", "neg"])
def test_non_contiguous_inputs(view):
    b = make((30, 12), np.float64, 4)
    v = {"T": lambda a: a.T, "step": lambda a: a[::3, ::2], "neg": lambda a: a[::-1, ::-1]}[view]
    check(lambda x: np.signbit(x), v(b))
    check(lambda x, y: np.copysign(x, y), v(b), v(b[::-1]))


def test_small_integer_copysign_uses_float16_and_stays_a_graph_break():
    x = np.arange(-3, 3, dtype=np.int8)
    jf = jit_now(lambda x: np.copysign(x, -1) * 2)
    want = np.copysign(x, -1) * 2
    got = jf(x)
    assert got.dtype == want.dtype and np.array_equal(got, want)
    s = jf.stats()
    assert s["compiled_calls"] == 0 or s["graph_breaks"], s
