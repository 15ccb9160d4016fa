"""NumPy scalar integer arithmetic reports overflow (`np.int64(a) + b`, `-s`, `abs(s)` wrap with
"overflow encountered in scalar add", or FloatingPointError under np.errstate(over="raise")),
where array arithmetic and ufunc calls (np.add) wrap silently. Compiled code notes the flag
(ir::checks_scalar_overflow) and re-runs eagerly when NumPy would warn or raise: the same
values, warnings and exceptions as eager."""
import warnings

import numpy as np
import pytest

from conftest import assert_same, jit_now


def scalar_ops(x, i, j):
    return x[i] + x[j], x[i] * 4, -x[j], abs(x[j]), x[i] - x[j], x[i] + 1


def ufunc_and_array_ops(x, i, j):
    return np.add(x[i], x[j]), x + x, -x  # never warn


def loop_sum(x):
    s = x[0]
    for k in range(1, x.shape[0]):
        s = s + x[k]
    return s


def run(fn, *args):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn(*args)
    return out, [(w.category, str(w.message)) for w in caught]


DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]


@pytest.mark.parametrize("dtype", DTYPES)
def test_warnings_and_values_match(dtype):
    info = np.iinfo(dtype)
    x = np.array([info.max, info.min, 5, info.max // 3], dtype=dtype)
    jf = jit_now(scalar_ops)
    for i, j in [(0, 1), (0, 0), (1, 1), (2, 2), (2, 3), (3, 3)]:
        want, want_w = run(scalar_ops, x, i, j)
        got, got_w = run(jf, x, i, j)
        assert_same(want, got)
        assert got_w == want_w, (i, j, got_w, want_w)
    assert jf.stats()["compiled_calls"] > 0  # the calls that do not overflow stay compiled


def test_no_overflow_stays_compiled():
    x = np.array([1, 2, 3], dtype=np.int64)
    jf = jit_now(scalar_ops)
    for _ in range(3):
        jf(x, 0, 1)
    st = jf.stats()
    assert st["compiled_calls"] == 3 and st["fp_reruns"] == 0, st


def test_ufuncs_and_arrays_wrap_silently():
    x = np.array([2**62, -2**63], dtype=np.int64)
    want, want_w = run(ufunc_and_array_ops, x, 0, 0)
    jf = jit_now(ufunc_and_array_ops)
    got, got_w = run(jf, x, 0, 0)
    assert_same(want, got)
    assert want_w == got_w == []
    assert jf.stats()["fp_reruns"] == 0


def test_errstate_raise_and_loops():
    x = np.array([2**62, 2**62, 1], dtype=np.int64)
    for fn, args in [(scalar_ops, (x, 0, 0)), (loop_sum, (x,))]:
        with np.errstate(over="raise"):
            with pytest.raises(FloatingPointError) as want:
                fn(*args)
            with pytest.raises(FloatingPointError) as got:
                jit_now(fn)(*args)
        assert str(got.value) == str(want.value)
    small = np.arange(50, dtype=np.int64)
    jf = jit_now(loop_sum)
    assert_same(loop_sum(small), jf(small))
    assert jf.stats()["fp_reruns"] == 0
