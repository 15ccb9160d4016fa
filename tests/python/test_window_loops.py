"""Loop regions whose bodies update windows of runtime extent (`A[k + 1:, k] /= A[k, k]`,
`A[k + 1:, k + 1:] -= np.outer(...)`, `x[:k] += 1`): the slice's length changes with the loop
variable, so the body holds dyn_window ops with symbolic extents and each window update runs as
a native loop nest (backends/cpu/scalar_loop.cpp). Results and in-place updates of arguments
must be exactly eager NumPy's; what the nest cannot prove safe must still give eager's answer."""
import re

import numpy as np
import pytest

import tracejit


def lu_inplace(A):
    n = A.shape[0]
    for k in range(n - 1):
        A[k + 1:, k] /= A[k, k]
        A[k + 1:, k + 1:] -= np.outer(A[k + 1:, k], A[k, k + 1:])
    return A


def scale_columns(A):
    for k in range(A.shape[1]):
        A[k + 1:, k] *= 2        # extent 0 in the last iteration
    return A


def prefix_add(x):
    for k in range(x.shape[0]):
        x[:k] += 1               # extent 0 in the first iteration
    return x


def tail_store(x):
    n = x.shape[0]
    for k in range(10):
        x[k + 1:n] = x[k] * 0.5  # a scalar broadcast into a runtime window
    return x


def mirror_lower(A):
    for k in range(A.shape[0]):
        A[k, :k] = A[:k, k]      # column k (rows < k) into row k (columns < k): disjoint
    return A


def shifted_overlap(x):
    n = x.shape[0]
    for k in range(min(n - 1, 10)):
        x[k + 1:] += x[k:n - 1]  # reads elements the same update writes: staged in a temporary
    return x


def shifted_rows(A):
    n = A.shape[0]
    for k in range(n - 1):
        A[k + 1:, :] += 0.5 * A[k:n - 1, :]
    return A


def negative_extent(x):
    for k in range(9):
        x[k:6] += 1.0            # 6 - k < 0 for k > 6: NumPy gives an empty window
    return x


def forward_subst(L, b):
    n = b.shape[0]
    x = np.zeros(n, dtype=b.dtype)
    for i in range(n):
        x[i] = (b[i] - L[i, :i] @ x[:i]) / L[i, i]
    return x


def well_conditioned(n, seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, n)) + n * np.eye(n)


def run_both(fn, *args):
    want_args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    want = fn(*want_args)
    f = tracejit.jit(fn, hot=0, sync=True)
    got_args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    got = f(*got_args)
    return f, want, want_args, got, got_args


def exact(got, want):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert np.array_equal(got, want, equal_nan=True), np.max(np.abs(got - want))


@pytest.mark.parametrize("n", [2, 3, 8, 9, 50, 300])
def test_lu_inplace_compiles_and_matches(n):
    A = well_conditioned(n, n)
    f, want, want_args, got, got_args = run_both(lu_inplace, A)
    exact(got, want)
    exact(got_args[0], want_args[0])  # the argument is updated in place (MUTATES)
    again = A.copy()
    exact(f(again), want)
    exact(again, want)
    st = f.stats()
    assert st["compiled_calls"] == 2 and st["fallback_calls"] == 0, st
    if n - 1 >= 8:  # a loop region (shorter loops are unrolled into static slices)
        ir = tracejit.explain(lu_inplace, A.copy())
        assert len(re.findall(r"= loop ", ir)) == 1 and "dyn_window" in ir and "unrolled" not in ir


@pytest.mark.parametrize("fn,make", [
    (scale_columns, lambda rng: (rng.standard_normal((20, 12)),)),
    (scale_columns, lambda rng: (rng.integers(-50, 50, (12, 12)).astype(np.int32),)),
    (prefix_add, lambda rng: (rng.standard_normal(17).astype(np.float32),)),
    (tail_store, lambda rng: (rng.standard_normal(30),)),
    (mirror_lower, lambda rng: (rng.standard_normal((11, 11)),)),
])
def test_window_loops_compile_natively(fn, make):
    args = make(np.random.default_rng(1))
    f, want, want_args, got, got_args = run_both(fn, *args)
    exact(got, want)
    exact(got_args[0], want_args[0])
    st = f.stats()
    assert st["compiled_calls"] == 1 and st["fallback_calls"] == 0, st
    ir = tracejit.explain(fn, *args)
    assert len(re.findall(r"= loop ", ir)) == 1 and "unrolled" not in ir


@pytest.mark.parametrize("fn,x", [
    (shifted_overlap, np.arange(20, dtype=np.float64)),
    (shifted_rows, np.arange(99, dtype=np.float64).reshape(11, 9) % 7),
])
def test_overlapping_window_update_is_staged(fn, x):
    # The right-hand side overlaps the written window: NumPy evaluates it first, so the nest
    # computes the whole value into a temporary before writing.
    f, want, want_args, got, got_args = run_both(fn, x)
    exact(got, want)
    exact(got_args[0], want_args[0])
    st = f.stats()
    assert st["compiled_calls"] == 1 and st["fallback_calls"] == 0, st
    ir = tracejit.explain(fn, x.copy())
    assert len(re.findall(r"= loop ", ir)) == 1 and "unrolled" not in ir


def test_overlapping_window_update_of_large_array_is_refused_with_eager_answer():
    x = np.linspace(0.0, 1.0, 20_000)  # 160 KB: above the stack temporary's bound
    f, want, want_args, got, got_args = run_both(shifted_overlap, x)
    exact(got, want)
    exact(got_args[0], want_args[0])
    st = f.stats()
    assert st["compiled_calls"] == 0 and st["fallback_calls"] == 1, st
    assert any("neither the element being written nor provably disjoint" in r for r in st["fallback_reasons"]), st


def test_negative_extent_is_not_a_window():
    x = np.zeros(10)
    f, want, want_args, got, got_args = run_both(negative_extent, x)
    exact(got, want)
    exact(got_args[0], want_args[0])
    ir = tracejit.explain(negative_extent, np.zeros(10))
    assert "extent goes negative" in ir  # the region is refused (the loop is unrolled)


@pytest.mark.parametrize("n,dtype", [(12, np.float64), (200, np.float64), (40, np.float32)])
def test_forward_substitution_dot_of_windows_compiles(n, dtype):
    # L[i, :i] @ x[:i]: a sum over a window of runtime extent (0 at i = 0), summed in order
    # inside the native nest (BLAS sums in another order: close, not bit-identical).
    rng = np.random.default_rng(3)
    L = (np.tril(rng.standard_normal((n, n))) + n * np.eye(n)).astype(dtype)
    b = rng.standard_normal(n).astype(dtype)
    f, want, _, got, _ = run_both(forward_subst, L, b)
    assert got.dtype == want.dtype == dtype
    np.testing.assert_allclose(got, want, rtol=1e-12 if dtype == np.float64 else 1e-5)
    st = f.stats()
    assert st["compiled_calls"] == 1 and st["fallback_calls"] == 0, st
    ir = tracejit.explain(forward_subst, L, b)
    assert "reduce_sum" in ir and "dyn_window" in ir and "unrolled" not in ir


def test_dot_of_windows_with_different_extents_is_not_compiled_as_a_sum():
    def bad(x, y):
        s = 0.0
        for k in range(9):
            s += x[k:] @ y[:k]   # lengths 10 - k and k: NumPy raises
        return s
    with pytest.raises(ValueError) as eager:
        bad(np.ones(10), np.ones(10))
    f = tracejit.jit(bad, hot=0, sync=True)
    with pytest.raises(ValueError) as jitted:
        f(np.ones(10), np.ones(10))
    assert str(jitted.value) == str(eager.value)


def test_mismatched_runtime_extents_raise_like_numpy():
    def bad(x):
        for k in range(9):
            x[k + 1:] += x[:k]
        return x
    with pytest.raises(ValueError) as eager:
        bad(np.zeros(10))
    f = tracejit.jit(bad, hot=0, sync=True)
    with pytest.raises(ValueError) as jitted:
        f(np.zeros(10))
    assert str(jitted.value) == str(eager.value)
