"""argmax/argmin along the last axis: compiled as integer-key block reductions (vectorized, no
floating-point flag on NaN data). NumPy's answer bit for bit: the first occurrence of the
extreme, a NaN (of either sign) counts as the extreme and its first occurrence wins, -0.0 and
+0.0 compare equal; every dtype; lengths around the 512-element block; fused operands; every
call compiled (no eager re-run)."""
import numpy as np
import pytest

from conftest import assert_same, run_compiled

DTYPES = [np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
          np.float32, np.float64]
LENGTHS = [1, 2, 15, 16, 17, 511, 512, 513, 1024, 1500, 4099]

def arrays(n, dtype, seed):
    r = np.random.default_rng(seed)
    if dtype == np.bool_:
        yield r.random(n) < 0.5
        yield np.zeros(n, bool)
        yield np.ones(n, bool)
        return
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        yield r.integers(info.min, info.max, n, dtype=dtype, endpoint=True)
        yield r.integers(0, 3, n).astype(dtype)  # many ties
        yield np.full(n, info.min, dtype)
        yield np.full(n, info.max, dtype)
        return
    x = r.standard_normal(n).astype(dtype)
    yield x
    yield np.where(r.random(n) < 0.5, 0.0, -0.0).astype(dtype)  # ties of signed zeros
    y = x.copy()
    y[r.integers(0, n, 2)] = np.inf
    y[r.integers(0, n, 2)] = -np.inf
    yield y
    z = x.copy()
    z[r.integers(0, n, 3)] = np.nan
    yield z
    w = x.copy()
    w[r.integers(0, n)] = -np.nan  # a NaN with the sign bit set is still NaN
    yield w
    yield np.full(n, -np.inf, dtype)
    yield np.full(n, np.finfo(dtype).tiny / 4, dtype)  # denormals


@pytest.mark.parametrize("n", LENGTHS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_1d_matches_numpy(n, dtype):
    f = lambda x: (np.argmax(x), np.argmin(x), x.argmax(), x.argmin(axis=-1))
    for x in arrays(n, dtype, n):
        assert_same(f(x), run_compiled(f, x))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.uint8])
@pytest.mark.parametrize("shape", [(3, 513), (64, 1024), (2, 3, 600), (5, 1)], ids=str)
def test_rows_match_numpy(shape, dtype):
    r = np.random.default_rng(1)
    x = (r.standard_normal(shape) * 50).astype(dtype)
    if np.dtype(dtype).kind == "f":
        x[..., -1] = np.nan  # the last element of every row
        x.reshape(-1)[::7] = -0.0
    f = lambda x: (x.argmax(axis=-1), x.argmin(axis=-1), np.argmax(x, axis=-1, keepdims=True))
    assert_same(f(x), run_compiled(f, x))


@pytest.mark.parametrize("view", ["stepped", "transposed", "reversed"])
def test_non_contiguous_and_fused_operands(view):
    base = np.random.default_rng(2).standard_normal((600, 700)).astype(np.float32)
    x = {"stepped": base[:, ::3], "transposed": base.T, "reversed": base[:, ::-1]}[view]
    f = lambda x: (np.argmax(x * x - 1.0, axis=1), np.argmin(np.abs(x - 0.5), axis=1), np.argmax(x[0] + 2))
    assert_same(f(x), run_compiled(f, x))


def test_large_vector_max_position():
    n = 1 << 21
    x = np.zeros(n, np.float32)
    for pos in [0, 511, 512, n // 2 + 3, n - 1]:
        x[:] = 0
        x[pos] = 1
        x[-1 if pos != n - 1 else 0] = 0.5
        assert_same((x.argmax(), (-x).argmin()), run_compiled(lambda x: (x.argmax(), (-x).argmin()), x))
