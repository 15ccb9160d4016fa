"""np.tile and np.repeat / ndarray.repeat with static integer counts: compiled as a reshape, a
broadcast and a reshape (pure data movement, so bit-exact), always a new array as NumPy's. Every
case compares with NumPy (values, dtype, shape, no memory shared with the input) and asserts the
call compiled; per-element repeat counts and NumPy's errors go through the eager run."""
import numpy as np
import pytest

import tracejit

from conftest import jit_now

DTYPES = [np.float64, np.float32, np.int64, np.int8, np.uint16, np.bool_]
INPUTS = {
    "1d": lambda a: a.ravel()[:5],
    "2d": lambda a: a,
    "transposed": lambda a: a.T,
    "stepped": lambda a: a[::2, ::-1],
    "empty": lambda a: a[:0],
    "ones": lambda a: a[:1, :1],
}
CALLS = {
    "tile 2": lambda x: np.tile(x, 2),
    "tile (2, 3)": lambda x: np.tile(x, (2, 3)),
    "tile (2, 1, 3)": lambda x: np.tile(x, (2, 1, 3)),
    "tile 0": lambda x: np.tile(x, 0),
    "tile [1, 1]": lambda x: np.tile(x, [1, 1]),
    "repeat 3": lambda x: np.repeat(x, 3),
    "repeat axis 0": lambda x: np.repeat(x, 2, axis=0),
    "repeat axis -1": lambda x: np.repeat(x, 3, axis=-1),
    "repeat 0": lambda x: np.repeat(x, 0, axis=0),
    "method": lambda x: x.repeat(2, 0) + 1 if x.dtype != np.bool_ else x.repeat(2, 0),
    "method flat": lambda x: x.repeat(4),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("inp", sorted(INPUTS))
@pytest.mark.parametrize("call", sorted(CALLS))
def test_matches_numpy(call, inp, dtype):
    fn = CALLS[call]
    base = (np.random.default_rng(0).standard_normal((4, 6)) * 5).astype(dtype)
    x = INPUTS[inp](base)
    want = fn(x)
    jf = jit_now(fn)
    got = jf(x)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert np.array_equal(got, want)
    assert not np.shares_memory(got, base)
    st = jf.stats()
    assert st["compiled_calls"] == 1 and st["graph_breaks"] == 0, st


@pytest.mark.parametrize("src", [
    "np.tile(x, -1)", "np.repeat(x, -2)", "np.repeat(x, 2, axis=2)", "np.repeat(x, np.array([1, 2, 0, 1]), axis=0)",
    "np.repeat(x, [1, 2, 0, 1], axis=0)",
])
def test_errors_and_eager_forms_match_numpy(src):
    x = np.arange(8.0).reshape(4, 2)
    ns = {"np": np}
    exec(f"def f(x):\n    return {src}\n", ns)
    f = ns["f"]
    try:
        want, err = f(x), None
    except Exception as e:
        want, err = None, e
    jf = tracejit.jit(f, hot=0, sync=True)
    if err is not None:
        with pytest.raises(type(err)):
            jf(x)
    else:
        assert np.array_equal(jf(x), want)
