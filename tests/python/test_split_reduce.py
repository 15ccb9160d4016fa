"""Large reductions that keep no outer axis (`x.sum()`, `x.max()`, `x.sum(axis=0)` of a tall
array) run as two stages: C chunks of axis 0 reduced in parallel, then the C partials
(ir/passes/split_reduce.h). Sizes here are above the pool threshold (256K elements), so the
split happens. Compared with eager NumPy: integer and bool results and max/min/any/all
bit-exact, float sums and means at least as accurate as NumPy's pairwise summation against an
exact reference, every call compiled."""
import math

import numpy as np
import pytest

from conftest import assert_same, jit_now, run_compiled

N = 1 << 20


def exact_sum(x):
    return math.fsum(np.asarray(x, dtype=np.float64).ravel().tolist())


def check_sum_accuracy(got, want_np, x):
    """`got` (tracejit) is as close to the exact sum as NumPy's pairwise sum is, within the
    pairwise error bound eps * sum|x| * (log2 n + 8)."""
    assert got.dtype == want_np.dtype and got.shape == want_np.shape
    eps = np.finfo(x.dtype).eps
    n = x.size
    bound = eps * float(np.abs(x.astype(np.float64)).sum()) * (math.log2(n) + 8)
    exact = exact_sum(x)
    err_np = abs(float(want_np) - exact)
    err = abs(float(got) - exact)
    assert err <= max(2 * err_np, bound), (err, err_np, bound)


SHAPES_FULL = [(N,), (300_000,), (1_000_003,), (4096, 256), (2, N // 2), (N // 4, 4), (N // 8, 1, 8), (64, 64, 64)]


@pytest.mark.parametrize("shape", SHAPES_FULL, ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_full_sum_is_as_accurate_as_numpy(shape, dtype):
    # All positive: a sequential sum's error grows with n, far beyond the pairwise bound.
    x = np.random.default_rng(1).random(shape).astype(dtype)
    got = run_compiled(lambda x: x.sum(), x)
    check_sum_accuracy(got, x.sum(), x)
    # mean(2x) * n / 2 is the sum of x again (one more rounding, far inside the bound).
    got = run_compiled(lambda x: np.mean(x * 2.0), x)
    want = np.mean(x * 2.0)
    assert got.dtype == want.dtype
    check_sum_accuracy(got * (x.size / 2), want * (x.size / 2), x)


@pytest.mark.parametrize("shape", SHAPES_FULL, ids=str)
def test_fused_chain_sum(shape):
    r = np.random.default_rng(2)
    a, b, c = (r.standard_normal(shape).astype(np.float32) for _ in range(3))
    got = run_compiled(lambda a, b, c: (a * b + c * a - b).sum(), a, b, c)
    t = (a * b + c * a - b)
    check_sum_accuracy(got, t.sum(), t)


@pytest.mark.parametrize("shape", SHAPES_FULL, ids=str)
@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint8, np.uint64, np.bool_])
def test_integer_and_bool_reductions_are_exact(shape, dtype):
    r = np.random.default_rng(3)
    if dtype == np.bool_:
        x = r.random(shape) < 0.5
    else:
        info = np.iinfo(dtype)
        x = r.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)

    def f(x):
        return x.sum(), x.max(), x.min(), np.any(x), np.all(x), x.prod()

    assert_same(f(x), run_compiled(f, x))


@pytest.mark.parametrize("shape", SHAPES_FULL, ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_min_with_nan_inf_and_signed_zeros(shape, dtype):
    x = np.random.default_rng(4).standard_normal(shape).astype(dtype)
    f = lambda x: (x.max(), x.min(), np.max(x, keepdims=True), np.min(-x, keepdims=True))
    assert_same(f(x), run_compiled(f, x))
    flat = x.reshape(-1)
    flat[len(flat) * 3 // 4] = np.inf
    flat[len(flat) // 5] = -np.inf
    assert_same(f(x), run_compiled(f, x))
    flat[len(flat) - 7] = np.nan  # in the last chunk
    # (A NaN sets the invalid flag in the compiled compare: that call re-runs eagerly.)
    assert_same(f(x), jit_now(f)(x))
    z = np.zeros(shape, dtype)
    z.reshape(-1)[::3] = -0.0
    # Both zeros: which one is the extreme is NumPy's order's, an eager re-run (test_zero_ties.py).
    assert_same(f(z), jit_now(f)(z))
    assert_same(f(np.abs(z)), run_compiled(f, np.abs(z)))  # one zero sign: compiled


def test_prod_near_one_and_overflow():
    x = (1 + np.random.default_rng(5).standard_normal(N) * 1e-4).astype(np.float64)
    got = run_compiled(lambda x: x.prod(), x)
    np.testing.assert_allclose(got, x.prod(), rtol=1e-9)
    big = np.full(N, 2.0)
    with np.errstate(over="ignore"):
        # Overflow sets a flag: the call re-runs eagerly (NumPy's warning); same inf either way.
        assert_same(big.prod(), jit_now(lambda x: x.prod())(big))


@pytest.mark.parametrize("shape", [(N // 4, 4), (N // 16, 3), (N // 8, 1, 8), (N // 2, 2)], ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64])
def test_axis0_reductions_of_tall_arrays(shape, dtype):
    r = np.random.default_rng(6)
    x = r.random(shape).astype(dtype) if np.dtype(dtype).kind == "f" else r.integers(-1000, 1000, shape, dtype=dtype)

    def f(x):
        return x.sum(axis=0), x.max(axis=0), x.min(axis=0, keepdims=True), x.mean(axis=0)

    got = run_compiled(f, x)
    want = f(x)
    if np.dtype(dtype).kind == "f":
        for g, w in zip(got, want):
            assert g.dtype == w.dtype and g.shape == w.shape
        assert_same(want[1:3], got[1:3])
        # NumPy adds the rows one by one here; C chunk sums are closer to the exact sums.
        cols = x.reshape(x.shape[0], -1)
        ex = np.array([math.fsum(cols[:, j].astype(np.float64).tolist()) for j in range(cols.shape[1])])
        err_np = np.abs(want[0].reshape(-1) - ex)
        bound = np.finfo(dtype).eps * np.abs(cols.astype(np.float64)).sum(axis=0) * 8
        assert np.all(np.abs(got[0].reshape(-1) - ex) <= np.maximum(err_np, bound))
        np.testing.assert_allclose(got[3], want[3], rtol=np.finfo(dtype).eps * 512)
    else:
        assert_same(want, got)


@pytest.mark.parametrize("view", ["stepped", "transposed", "reversed"])
def test_non_contiguous_operands(view):
    base = np.random.default_rng(7).random((2048, 1024)).astype(np.float32)
    x = {"stepped": base[::2], "transposed": base.T, "reversed": base.reshape(-1)[::-1]}[view]
    got = run_compiled(lambda x: (x.sum(), x.max(), np.var(x)), x)
    want = (x.sum(), x.max(), np.var(x))
    check_sum_accuracy(got[0], want[0], x)
    assert_same(want[1], got[1])
    np.testing.assert_allclose(got[2], want[2], rtol=1e-5)


def test_std_var_and_softmax_of_a_long_vector():
    x = np.random.default_rng(8).standard_normal(N).astype(np.float64)

    def f(x):
        e = np.exp(x - x.max())
        return e / e.sum(), x.std(), x.var(ddof=1)

    got = run_compiled(f, x)
    want = f(x)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-13)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-13)
    np.testing.assert_allclose(got[2], want[2], rtol=1e-13)


def test_same_result_on_every_call():
    # Chunks are fixed by the shape, not by the threads that take them: calls agree bit for bit.
    x = np.random.default_rng(9).random(N).astype(np.float32)
    jf = jit_now(lambda x: x.sum())
    first = jf(x)
    for _ in range(5):
        assert_same(first, jf(x))


@pytest.mark.parametrize("n", [1, 7, 1000, 300_000, N + 16])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_vector_inner_products(n, dtype):
    # np.dot / @ / np.inner of two vectors: a sum of products (matvec pass), split when large.
    r = np.random.default_rng(10)
    x, y = r.random(n).astype(dtype), r.random(n).astype(dtype)
    f = lambda x, y: (np.dot(x, y), x @ y, np.inner(x, y), np.dot(x[::-1], y))
    got = run_compiled(f, x, y)
    want = f(x, y)
    products = [x * y] * 3 + [x[::-1] * y]  # the sums of rounded products are the reference
    for g, w, p in zip(got, want, products):
        check_sum_accuracy(g, w, p)


def test_integer_inner_product_is_exact():
    x = np.random.default_rng(11).integers(-50, 50, N, dtype=np.int64)
    assert_same(np.dot(x, x), run_compiled(lambda x: np.dot(x, x), x))


def test_inner_product_under_errstate_raise():
    # The rewritten product raises its flags from the sum: it still compiles under 'raise', and
    # an overflow re-runs eagerly for NumPy's own exception.
    x = np.random.default_rng(12).random(1000)
    jf = jit_now(lambda x, y: np.dot(x, y))
    with np.errstate(all="raise"):
        got = jf(x, x)
        assert jf.stats()["compiled_calls"] == 1, jf.stats()
        check_sum_accuracy(got, np.dot(x, x), x * x)
        big = np.full(1000, 1e200)
        with pytest.raises(FloatingPointError, match="overflow encountered in dot"):
            jf(big, big)
