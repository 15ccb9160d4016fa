"""<< and >> (np.left_shift / np.right_shift) compiled, against eager NumPy: every integer dtype,
counts at and past the width (C's shift is undefined there; NumPy gives 0, or -1 for a right
shift of a negative value), negative counts (out of range as unsigned), broadcasting, NumPy and
Python scalar operands, in-place forms, and the TypeError NumPy raises for floats."""
import numpy as np
import pytest

from conftest import assert_same, jit_now

INTS = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]


def shifts(x, c):
    return x << c, x >> c, np.left_shift(x, c), np.right_shift(x, c)


def compiled_same(fn, *args):
    jf = jit_now(fn)
    copies = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    want = fn(*args)
    got = jf(*copies)
    assert_same(want, got)
    for a, b in zip(args, copies):
        if isinstance(a, np.ndarray):
            assert_same(a, b)
    s = jf.stats()
    assert s["compiled_calls"] == 1 and not s["fallback_reasons"] and not s["graph_break_reasons"], s
    return got


@pytest.mark.parametrize("dt", INTS)
def test_counts_in_and_out_of_range(dt):
    bits = np.dtype(dt).itemsize * 8
    info = np.iinfo(dt)
    x = np.array([0, 1, 5, info.max, info.min, info.max // 3, 7, 2, 3], dtype=dt)
    counts = [0, 1, bits - 1, bits, bits + 1, 63, 64, 65, min(info.max, 200)]
    if info.min < 0:
        counts[-1] = -1  # a negative count: out of range as unsigned
    c = np.array(counts, dtype=np.int64).astype(dt)
    compiled_same(shifts, x, c)
    # every value against every count (broadcast)
    compiled_same(shifts, x[:, None], c[None, :])


@pytest.mark.parametrize("dt", [np.int8, np.uint8, np.int32, np.int64, np.uint64])
def test_scalar_counts_and_in_place(dt):
    def f(x, s, t):
        a = x << 3
        b = x >> s
        c = t << x
        x <<= 1
        x >>= s
        return a, b, c, x

    rng = np.random.default_rng(3)
    x = rng.integers(0, 9, 20).astype(dt)
    compiled_same(f, x, 2, dt(5))
    compiled_same(f, x, dt(2), dt(5))


def test_bool_operands_shift_as_int8():
    a = np.array([True, False, True])
    compiled_same(lambda x, y: np.left_shift(x, y) + np.right_shift(x, y), a, a)


def test_float_operands_raise_numpys_type_error():
    def f(x):
        return x << 1

    jf = jit_now(f)
    with pytest.raises(TypeError) as want:
        f(np.ones(3))
    with pytest.raises(TypeError) as got:
        jf(np.ones(3))
    assert str(got.value) == str(want.value)
