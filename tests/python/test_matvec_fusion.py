"""Matrix-vector products of computed matrices (ir/passes/matvec.cpp): `f(A) @ v`, `v @ f(A)` and
`f(A) @ c` with c a column become reductions fused with the matrix's producers, so the matrix is
never written. Results equal NumPy's up to summation order (BLAS's order was never NumPy's
contract either): dtype, shape, NaN/inf propagation and empty dimensions exactly; values within
a few ulp of the sum's magnitude. Large intermediates of scheduled kernels come from the block
pool and are reused across calls."""
import numpy as np
import pytest

import tracejit
from conftest import jit_now


def col(a, b, c):
    return np.exp(a * b - 1.0) @ c


def vec(a, b, v):
    return (a - b) @ v


def row(a, b, v):
    return v @ (a * b)


def nbody_like(pos, mass):
    dx = pos[:, 0:1].T - pos[:, 0:1]
    dy = pos[:, 1:2].T - pos[:, 1:2]
    inv_r3 = (dx ** 2 + dy ** 2 + 0.01) ** -1.5
    ax = 2.0 * (dx * inv_r3) @ mass
    ay = 2.0 * (dy * inv_r3) @ mass
    return np.hstack((ax, ay))


def check(fn, args, rtol):
    want = fn(*args)
    jf = jit_now(fn)
    got = jf(*args)
    assert type(got) is type(want) and got.dtype == want.dtype and got.shape == want.shape
    st = jf.stats()
    assert st["compiled_calls"] == 1 and st["fallback_calls"] == 0, st
    scale = np.max(np.abs(want)) if want.size and np.all(np.isfinite(want)) else 1.0
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale, equal_nan=True)
    return jf


@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-12), (np.float32, 2e-5)])
@pytest.mark.parametrize("n,k", [(1, 1), (3, 7), (64, 33), (300, 1000), (1000, 300)])
def test_products_match_numpy(dtype, rtol, n, k):
    rng = np.random.default_rng(n * 1000 + k)
    a = rng.standard_normal((n, k)).astype(dtype)
    b = rng.standard_normal((n, k)).astype(dtype)
    check(col, (a, b, rng.standard_normal((k, 1)).astype(dtype)), rtol)
    check(vec, (a, b, rng.standard_normal(k).astype(dtype)), rtol)
    check(row, (a, b, rng.standard_normal(n).astype(dtype)), rtol)


def test_empty_inner_dimension_gives_zeros():
    a = np.ones((4, 0))
    check(vec, (a, a, np.ones(0)), 0)
    check(row, (np.ones((0, 5)), np.ones((0, 5)), np.ones(0)), 0)


def test_nan_and_inf_propagate_as_in_blas():
    a = np.ones((4, 3))
    b = np.ones((4, 3))
    a[1, 2] = np.nan
    a[2, 0] = np.inf
    b[3, 1] = -np.inf
    v = np.array([1.0, 0.0, 2.0])  # inf * 0 is NaN, as in NumPy's matmul
    with np.errstate(invalid="ignore"):
        want = vec(a, b, v)
        got = jit_now(vec)(a, b, v)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(got[np.isfinite(want)], want[np.isfinite(want)])
    np.testing.assert_array_equal(got[np.isinf(want)], want[np.isinf(want)])


def test_non_contiguous_operands():
    rng = np.random.default_rng(5)
    a = rng.standard_normal((40, 60))[::2, ::3]
    b = rng.standard_normal((60, 40)).T[::2, ::3]
    v = rng.standard_normal(40)[::2]
    check(vec, (a, b, v), 1e-12)


def test_nbody_accelerations():
    rng = np.random.default_rng(0)
    pos = rng.standard_normal((256, 3))
    mass = np.full((256, 1), 20.0 / 256)
    jf = check(nbody_like, (pos, mass), 1e-12)
    assert "matmul" not in tracejit.explain(nbody_like, pos, mass)
    del jf


def test_large_intermediate_comes_from_the_pool():
    # (a - b) is 8 MiB of scratch feeding BLAS (a matrix product, not rewritten): its block is
    # kept after the call and reused by the next one instead of being faulted in again.
    rng = np.random.default_rng(1)
    a = rng.standard_normal((1024, 1024))
    b = rng.standard_normal((1024, 1024))
    w = rng.standard_normal((1024, 4))
    f = jit_now(lambda a, b, w: (a - b) @ w)
    np.testing.assert_allclose(f(a, b, w), (a - b) @ w, rtol=1e-10, atol=1e-10)
    before = tracejit.memory_info()
    if before["limit_bytes"] == 0:
        pytest.skip("TRACEJIT_POOL_MB=0: no pool")
    np.testing.assert_allclose(f(a, b, w), (a - b) @ w, rtol=1e-10, atol=1e-10)
    after = tracejit.memory_info()
    assert after["pool_hits"] > before["pool_hits"], (before, after)
    assert after["cached_bytes"] >= 8 << 20, after
