"""np.deg2rad / radians / rad2deg / degrees compile to x * c with NumPy's own constant (read from
NumPy as u(1) and checked on probe values at trace time): results bit-exact with NumPy over every
binade, special values and the overflow warning included; integer inputs take NumPy's float
loop (int8/uint8/int16 compute in float16, which runs eagerly). The haversine distance, a
classic NumPy benchmark, compiles whole."""
import warnings

import numpy as np
import pytest

import tracejit
from conftest import assert_same, record

FUNCS = [np.deg2rad, np.radians, np.rad2deg, np.degrees]


def compiled(jf, calls=1):
    s = jf.stats()
    assert s["compiled_calls"] == calls and not s["fallback_reasons"] and not s["graph_breaks"], s


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("f", FUNCS, ids=lambda f: f.__name__)
def test_bit_exact_over_every_binade(f, dtype):
    rng = np.random.default_rng(7)
    info = np.finfo(dtype)
    x = (rng.standard_normal(200_000) * 10.0 ** rng.integers(info.minexp // 4, info.maxexp // 4, 200_000))
    x = np.concatenate([x, [0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, 180.0, -90.0, info.tiny, info.smallest_subnormal]])
    x = x.astype(dtype)
    jf = tracejit.jit(lambda x: f(x), sync=True, hot=0)
    with np.errstate(over="ignore"):
        want = f(x)
        got = jf(x)
    assert got.dtype == want.dtype and np.array_equal(got.view(np.uint8), want.view(np.uint8))
    compiled(jf)


@pytest.mark.parametrize("f", FUNCS, ids=lambda f: f.__name__)
def test_overflow_warns_as_numpy(f):
    x = np.array([1e38, 2.0, -3e38], np.float32)
    jf = tracejit.jit(lambda x: f(x), sync=True, hot=0)
    want, got = record(lambda x: f(x), x), record(jf, x)
    assert [m for _, m, _ in got[2]] == [m for _, m, _ in want[2]]
    assert_same(want[0], got[0])


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint16, np.bool_, np.int8])
def test_integer_inputs_use_numpys_loop(dtype):
    x = np.arange(-5, 7).astype(dtype)
    for f in FUNCS:
        fn = lambda x, f=f: f(x) * 2  # noqa: E731
        jf = tracejit.jit(fn, sync=True, hot=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want, got = fn(x), jf(x)
        assert_same(want, got)
        if np.dtype(dtype).itemsize >= 4:
            compiled(jf)


def test_broadcasting_views_and_empty():
    a = np.random.default_rng(1).standard_normal((6, 5))
    for x in (a.T, a[::2, ::-1], a[:0], a[0], a[None, :, :1]):
        for f in FUNCS:
            jf = tracejit.jit(lambda x, f=f: f(x) + x, sync=True, hot=0)
            assert_same(f(x) + x, jf(x))
            compiled(jf)


def haversine(lat1, lon1, lat2, lon2):
    lat1, lon1, lat2, lon2 = np.radians(lat1), np.radians(lon1), np.radians(lat2), np.radians(lon2)
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 6371.0 * 2 * np.arcsin(np.sqrt(a))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_haversine_compiles_whole(dtype):
    rng = np.random.default_rng(2)
    args = [(rng.random(10_000) * 180 - 90).astype(dtype) for _ in range(4)]
    jf = tracejit.jit(haversine, sync=True, hot=0)
    want, got = haversine(*args), jf(*args)
    assert got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-12 if dtype == np.float64 else 2e-5, atol=1e-9 if dtype == np.float64 else 2e-2)
    compiled(jf)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int32, np.int64])
def test_heaviside_bit_exact(dtype):
    """np.heaviside(x, h0) as npy_heaviside's branches: NaN for NaN, h0 at +-0, 0 below, 1 above;
    h0 a scalar, NaN or an array (broadcast), dtypes from NumPy's loops; no flags on NaN."""
    x = np.array([-2.0, -0.0, 0.0, 3.0, np.nan, -np.inf, np.inf, 1e-310, -1e-40, 7.0])
    x = x.astype(dtype) if np.issubdtype(dtype, np.floating) else np.arange(-5, 5).astype(dtype)
    for h in (0.5, np.nan, np.float32(2.0), np.linspace(-1, 1, 10), 0):
        fn = lambda x, h: np.heaviside(x, h) * 3  # noqa: E731
        jf = tracejit.jit(fn, sync=True, hot=0)
        with np.errstate(all="raise"):
            want, got = fn(x, h), jf(x, h)
        assert got.dtype == want.dtype and np.array_equal(got.view(np.uint8), want.view(np.uint8)), (h, want, got)
        compiled(jf)
