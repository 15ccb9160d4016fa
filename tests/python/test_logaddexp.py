"""np.logaddexp / np.logaddexp2 compile to NumPy's npy_logaddexp(2) branches as selects over
existing ops: x + ln2 (x + 1) where x == y, else max + log1p(exp(-|x - y|)) (exp2, and
log1p * log2(e)), x - y itself where that is NaN. Bit-exact where the branches decide alone
(x == y, infinities, NaN, differences so large that exp underflows); elsewhere exp and log1p
are tracejit's, not glibc's. Measured on 2M random pairs per case (seeded below):
|jit - NumPy| <= 2 ulp of max(|x|, |y|, |result|) everywhere (both are within 2.0-2.45 such
ulps of the exact value; NumPy's own error is as large), and within 4 ulps of the result
(8 for float32 logaddexp2) wherever |result| >= |max(x, y)| / 2; where x and y are close to
-ln2 (-1 for logaddexp2) the result is a cancellation and its ulps say little (NumPy's
formula has the same absolute error there). The tests assert 3 and 8 ulps."""
import numpy as np
import pytest

from conftest import assert_same, jit_now, record

SPECIAL = [0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, -np.nan, 1e308, -1e308, 5e-324, 700.0, -700.0,
           -745.2, 1e5, -1e5, 0.6931471805599453, -0.6931471805599453, 88.7, -103.9, 3.4e38, -3.4e38]
UFUNCS = [np.logaddexp, np.logaddexp2]


def compiled(jf, calls=1):
    s = jf.stats()
    assert s["compiled_calls"] == calls and not s["graph_breaks"] and not s["fallback_reasons"], s


def ulps(a, b):
    """Distance in representable values (NaN == NaN, -0.0 == +0.0)."""
    it = np.int64 if a.dtype == np.float64 else np.int32
    ai, bi = a.view(it).astype(np.int64), b.view(it).astype(np.int64)
    m = np.iinfo(it).min
    ai, bi = np.where(ai < 0, m - ai, ai), np.where(bi < 0, m - bi, bi)
    d = np.abs(ai - bi)
    d[np.isnan(a) & np.isnan(b)] = 0
    return d


def pairs(dtype, n, seed):
    r = np.random.default_rng(seed)
    x = (r.standard_normal(n) * 10.0 ** r.integers(-5, 3, n)).astype(dtype)
    y = (x + r.standard_normal(n) * 10.0 ** r.integers(-8, 3, n)).astype(dtype)
    return x, y


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("u", UFUNCS, ids=lambda u: u.__name__)
def test_accuracy_against_numpy(u, dtype):
    x, y = pairs(dtype, 2_000_000, 0)
    jf = jit_now(lambda x, y: u(x, y))
    want, got = u(x, y), jf(x, y)
    assert got.dtype == want.dtype and got.shape == want.shape
    compiled(jf)
    scale = np.maximum(np.maximum(np.abs(x), np.abs(y)), np.abs(want))
    assert np.all(np.abs(got.astype(np.float64) - want) <= 3 * np.spacing(scale).astype(np.float64))
    d = ulps(want, got)
    nocancel = np.abs(want) >= np.abs(np.maximum(x, y)) / 2
    assert d[nocancel].max() <= 8
    assert (d == 0).mean() > 0.95  # most results are NumPy's bits


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("u", UFUNCS, ids=lambda u: u.__name__)
def test_special_values_bit_exact(u, dtype):
    with np.errstate(over="ignore", invalid="ignore"):  # casts to float32, +-1e308, NaN (below)
        s = np.array(SPECIAL).astype(dtype)
        x, y = s[:, None], s[None, :]
        jf = jit_now(lambda x, y: u(x, y))
        want, got = u(x, y), jf(x, y)
    # bit for bit, NaN signs included: the branches and exp(-huge) == 0 decide these alone,
    # except where both are finite and moderate (there: the accuracy bound)
    with np.errstate(all="ignore"):
        decided = (x == y) | ~np.isfinite(x) | ~np.isfinite(y) | (np.abs(x.astype(np.float64) - y) > 800)
    decided = np.broadcast_to(decided, want.shape)
    assert np.array_equal(want[decided].view(np.uint8), got[decided].view(np.uint8))
    assert np.all(ulps(want, got) <= 8)
    compiled(jf)


@pytest.mark.parametrize("u", UFUNCS, ids=lambda u: u.__name__)
def test_infinities_compile_without_a_rerun(u):
    # inf == inf takes x + ln2 in NumPy without computing inf - inf: no flag, no re-run here.
    x = np.array([np.inf, -np.inf, np.inf, -np.inf, 1.0, -np.inf, 0.0, 1e300])
    y = np.array([np.inf, -np.inf, -np.inf, np.inf, -np.inf, 5.0, -0.0, -1e300])
    jf = jit_now(lambda x, y: u(x, y))
    want, got = record(lambda x, y: u(x, y), x, y), record(jf, x, y)
    assert not want[2] and not got[2]
    assert np.array_equal(want[0].view(np.uint64), got[0].view(np.uint64))
    compiled(jf)
    assert jf.stats()["fp_reruns"] == 0


@pytest.mark.parametrize("u", UFUNCS, ids=lambda u: u.__name__)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_nan_warns_invalid_as_numpy(u, dtype):
    # NumPy's `tmp > 0` on a NaN is a signaling compare: "invalid value encountered in ...".
    x = np.array([np.nan, 1.0, np.nan, -np.nan, 2.0], dtype)
    y = np.array([1.0, np.nan, np.nan, 3.0, 2.0], dtype)
    f = lambda x, y: u(x, y)  # noqa: E731
    want, got = record(f, x, y), record(jit_now(f), x, y)
    assert [m for _, m, _ in got[2]] == [m for _, m, _ in want[2]] and want[2]
    assert np.array_equal(want[0].view(np.uint8), got[0].view(np.uint8))
    with np.errstate(invalid="ignore"):  # ignored: the compiled result stands, NaN bits NumPy's
        jf = jit_now(f)
        assert np.array_equal(f(x, y).view(np.uint8), jf(x, y).view(np.uint8))
    compiled(jf)


@pytest.mark.parametrize("u", UFUNCS, ids=lambda u: u.__name__)
def test_overflowing_difference_warns_as_numpy(u):
    x, y = np.array([1e308, 1.0]), np.array([-1e308, 2.0])
    f = lambda x, y: u(x, y)  # noqa: E731
    want, got = record(f, x, y), record(jit_now(f), x, y)
    assert [m for _, m, _ in got[2]] == [m for _, m, _ in want[2]]
    assert_same(want[0], got[0])


@pytest.mark.parametrize("u", UFUNCS, ids=lambda u: u.__name__)
def test_dtypes_shapes_and_broadcasting(u):
    r = np.random.default_rng(3)

    def close(want, got):
        assert type(got) is type(want)
        assert np.asarray(got).dtype == np.asarray(want).dtype and np.shape(got) == np.shape(want)
        w, g = np.asarray(want), np.asarray(got)
        scale = np.maximum(np.abs(w), 1.0)
        assert np.all(np.abs(g.astype(np.float64) - w) <= 3 * np.spacing(scale.astype(w.dtype)))

    cases = [
        (r.standard_normal((4, 1, 3)), r.standard_normal((5, 3))),
        (r.standard_normal((0, 3)), r.standard_normal(3)),
        (r.standard_normal((1, 6)).astype(np.float32), r.standard_normal((2, 1)).astype(np.float32)),
        (r.standard_normal((3, 4)).astype(np.float32), r.standard_normal((3, 4))),  # -> float64
        (r.integers(-5, 5, (3, 4)).astype(np.int32), r.integers(-5, 5, 4).astype(np.int64)),  # float64 loop
        (r.integers(0, 9, 7).astype(np.uint64), r.standard_normal(7)),
        (r.standard_normal((30, 12)).T, r.standard_normal((90, 24))[::-3, ::-2].T),
    ]
    for a, b in cases:
        jf = jit_now(lambda a, b: u(a, b))
        close(u(a, b), jf(a, b))
        compiled(jf)
    x = r.standard_normal(5).astype(np.float32)
    for fn in (lambda x: u(x, 2.5), lambda x: u(-1, x), lambda x: u(x[0], x[1]), lambda x: u(x[0], 0.5)):
        jf = jit_now(fn)
        close(fn(x), jf(x))  # Python numbers are weak: float32 math; NumPy scalars give NumPy scalars
        compiled(jf)


def test_small_integers_use_float16_and_stay_a_graph_break():
    x = np.arange(5, dtype=np.int8)
    jf = jit_now(lambda x: np.logaddexp(x, x) * 2)
    assert_same(np.logaddexp(x, x) * 2, jf(x))
    s = jf.stats()
    assert s["compiled_calls"] == 0 or s["graph_breaks"], s


def test_fused_softplus_and_log_sum_exp():
    def f(x, w):
        return np.logaddexp(0.0, x @ w).sum(axis=1), np.logaddexp2(x[:, 0], x[:, 1])

    r = np.random.default_rng(4)
    x, w = r.standard_normal((64, 8)), r.standard_normal((8, 5))
    jf = jit_now(f)
    want, got = f(x, w), jf(x, w)
    for a, b in zip(want, got):
        np.testing.assert_allclose(b, a, rtol=1e-13, atol=1e-15)
    compiled(jf)
