"""np.float_power: NumPy's float64 loops (float32 and integer inputs promoted), npy_pow for every
exponent (no sqrt shortcut for 0.5: -0.0 ** 0.5 is +0.0 and -inf ** 0.5 is +inf, where np.power
gives -0.0 and nan), compared with eager NumPy."""
import warnings

import numpy as np
import pytest

from conftest import assert_compiled, assert_same, jit_now, random_array

SPECIAL = np.array([-0.0, 0.0, -np.inf, np.inf, 0.5, 2.0, 3.0, np.nan, 1e300, 1e-310, 7.5])


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64, np.int32, np.uint8, np.bool_], ids=str)
def test_float_power(dtype):
    base = np.abs(random_array(dtype, (5, 7), seed=1)) if np.dtype(dtype).kind != "b" else random_array(dtype, (5, 7))
    expo = random_array(np.float64, (7,), seed=2)
    cases = [(lambda a, e: np.float_power(a, e), (base, expo)), (lambda a, e: np.float_power(a, 0.5), (base, expo)),
             (lambda a, e: np.float_power(a, 2), (base, expo)), (lambda a, e: np.float_power(2, a) + e, (base, expo))]
    for fn, args in cases:
        with np.errstate(all="ignore"):
            want = fn(*args)
            jf = jit_now(fn)
            got = jf(*args)
        assert want.dtype == np.float64
        assert_same(want, got, rtol=2e-16)
        assert_compiled(jf)


def test_float_power_special_values():
    x = SPECIAL
    for fn in (lambda a: np.float_power(a, 0.5), lambda a: np.float_power(a, 2.0), lambda a: np.float_power(a, -1.5),
               lambda a: np.float_power(a.astype(np.float32), 0.5)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = fn(x)
            got = jit_now(fn)(x)
        assert_same(want, got)
