"""Automatic dynamic shapes for whole array programs: graphs with reductions, matmul and views
(the scheduled CPU path) called with many batch sizes compile a static version, then one with a
runtime batch size; sizes 0 and 1 keep versions of their own. Every result is compared with
eager NumPy (type, dtype, shape, values: bit-exact where NumPy's own kernel order is followed,
else within a few ulp-scaled tolerances: sums are blocked-pairwise and matmul is BLAS)."""
import numpy as np
import pytest

import tracejit

# 40 distinct batch sizes: 0, 1, 2, small primes, powers of two and their neighbours, and sizes
# whose work is above the thread-pool threshold (the runtime decides to split them).
SIZES = [37, 0, 1, 2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 32, 33, 63, 64, 65, 97, 100, 127, 128,
         129, 255, 256, 257, 511, 512, 1000, 1009, 2048, 4093, 4099, 8191, 9001, 16384, 20011, 3, 2]
assert len(set(SIZES)) == 38 and len(SIZES) == 40


def close(expected, got):
    """Same Python type, dtype and shape as eager; values within a small tolerance."""
    assert type(got) is type(expected), f"type {type(got).__name__} != {type(expected).__name__}"
    if isinstance(expected, tuple):
        assert len(got) == len(expected)
        for e, g in zip(expected, got):
            close(e, g)
        return
    assert got.dtype == expected.dtype, f"dtype {got.dtype} != {expected.dtype}"
    assert got.shape == expected.shape, f"shape {got.shape} != {expected.shape}"
    if expected.dtype.kind == "f":
        tol = 2e-5 if expected.dtype == np.float32 else 1e-11
        np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)
    else:
        assert np.array_equal(got, expected)


def run_sizes(fn, make, sizes=SIZES, **jit_kwargs):
    f = tracejit.jit(fn, hot=0, sync=True, **jit_kwargs)
    rng = np.random.default_rng(1)
    for n in sizes:
        args = make(rng, n)
        close(fn(*args), f(*args))
    stats = dict(f.stats())
    stats["sizes"] = list(sizes)
    return stats


def assert_dynamic(stats):
    sizes = stats["sizes"]
    # One static version for the first size, one with a runtime batch size for every size >= 2,
    # and one each for sizes 0 and 1 (specialized: a runtime size is >= 2).
    special = len({n for n in sizes if n < 2})
    assert stats["compiles"] <= 2 + special, stats
    assert stats["compiled_calls"] == len(sizes), stats
    assert stats["fallback_calls"] == 0, stats


W1 = np.random.default_rng(7).standard_normal((64, 48)).astype(np.float32)
B1 = np.random.default_rng(8).standard_normal(48).astype(np.float32)


def mlp_layer(x):
    return np.maximum(x @ W1 + B1, 0)


def row_softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def layernorm(x, g, b):
    m = x.mean(axis=-1, keepdims=True)
    v = x.var(axis=-1, keepdims=True)
    return (x - m) / np.sqrt(v + 1e-5) * g + b


def test_mlp_layer_forty_batch_sizes():
    s = run_sizes(mlp_layer, lambda r, n: (r.standard_normal((n, 64)).astype(np.float32),))
    assert_dynamic(s)


def test_mlp_layer_without_zero_and_one_compiles_twice():
    sizes = [n for n in SIZES if n >= 2]
    s = run_sizes(mlp_layer, lambda r, n: (r.standard_normal((n, 64)).astype(np.float32),), sizes)
    assert s["compiles"] <= 2, s
    assert s["compiled_calls"] == len(sizes), s


def test_row_softmax():
    assert_dynamic(run_sizes(row_softmax, lambda r, n: (r.standard_normal((n, 50)),)))
    assert_dynamic(run_sizes(row_softmax, lambda r, n: (r.standard_normal((n, 33)).astype(np.float32),)))


def test_layernorm():
    g = np.linspace(0.5, 1.5, 40).astype(np.float32)
    b = np.linspace(-1, 1, 40).astype(np.float32)
    assert_dynamic(run_sizes(layernorm, lambda r, n: (r.standard_normal((n, 40)).astype(np.float32), g, b)))


def test_sums_along_and_across_the_batch_axis():
    def f(x):
        return x.sum(axis=0), x.sum(axis=1), x.sum(axis=(0, 1), keepdims=True), x.max(axis=0), x.argmax(axis=1)

    assert_dynamic(run_sizes(f, lambda r, n: (r.standard_normal((n, 8)),), [n for n in SIZES if n > 0]))

    def g(x):  # the batch axis innermost: blocked pairwise sums and lane max over a runtime length
        return x.sum(axis=1), x.min(axis=-1), x.sum()

    assert_dynamic(run_sizes(g, lambda r, n: (r.standard_normal((4, n)).astype(np.float32),), [n for n in SIZES if n > 0]))

    def h(x):  # integer sums (int64 accumulation) are exact
        return x.sum(axis=0), x.sum(axis=1), x.prod(axis=1)

    assert_dynamic(run_sizes(h, lambda r, n: (r.integers(-3, 4, (n, 5)).astype(np.int32),)))


def test_transposed_matmul():
    def f(x, y):
        return x.T @ y

    assert_dynamic(run_sizes(f, lambda r, n: (r.standard_normal((n, 5)), r.standard_normal((n, 3)))))

    def g(x, w):  # batched matmul with a runtime batch dim; a swapaxes view reduced
        return x @ w, np.swapaxes(x, 1, 2).sum(axis=-1)

    w = np.random.default_rng(3).standard_normal((4, 6))
    assert_dynamic(run_sizes(g, lambda r, n: (r.standard_normal((n, 3, 4)), w), [n for n in SIZES if n <= 4099]))


def test_mean_var_std():
    def f(x):
        return x.mean(axis=0), x.var(axis=0), x.std(axis=0, ddof=1), x.mean(), x.var()

    assert_dynamic(run_sizes(f, lambda r, n: (r.standard_normal((n, 6)).astype(np.float32),), [n for n in SIZES if n >= 2]))

    def g(x):  # integer input: float64 mean, NumPy's count division
        return x.mean(axis=0), x.mean(axis=1)

    assert_dynamic(run_sizes(g, lambda r, n: (r.integers(0, 100, (n, 7)),), [n for n in SIZES if n >= 2]))


def test_reshape_with_inferred_batch_dim():
    def f(x):
        return x.reshape(-1, 12).sum(axis=1), np.transpose(x, (0, 2, 1)).reshape(-1, 12) * 2.0

    assert_dynamic(run_sizes(f, lambda r, n: (r.standard_normal((n, 3, 4)),), [n for n in SIZES if n <= 4099]))


def test_short_time_loop():
    W = np.random.default_rng(5).standard_normal((16, 16)) * 0.3

    def step(h, x):
        for _ in range(5):  # a short loop: unrolled, every step a matmul and a tanh
            h = np.tanh(h @ W + x)
        return h

    assert_dynamic(run_sizes(step, lambda r, n: (r.standard_normal((n, 16)), r.standard_normal((n, 16)))))


def test_loop_region_with_runtime_batch_size():
    # A loop region (>= 8 iterations, static trip count): the body is compiled once with the
    # runtime batch size; carried buffers are sized per call.
    W = np.random.default_rng(6).standard_normal((16, 16)) * 0.3

    def rnn(h, x):
        for _ in range(12):
            h = np.tanh(h @ W + x)
        return h, h.sum(axis=0)

    assert_dynamic(run_sizes(rnn, lambda r, n: (r.standard_normal((n, 16)), r.standard_normal((n, 16)))))

    def diffuse(u):  # np.roll along the static axis, 20 steps
        for _ in range(20):
            u = u + 0.1 * (np.roll(u, 1, axis=1) - 2 * u + np.roll(u, -1, axis=1))
        return u.mean(axis=1)

    assert_dynamic(run_sizes(diffuse, lambda r, n: (r.standard_normal((n, 32)).astype(np.float32),)))


def test_loop_whose_body_needs_the_runtime_count():
    # A mean over the runtime axis inside the body: the count enters the region as a
    # loop-invariant input; 300 steps (too long to unroll) stay one compiled region.
    def f(h):
        for _ in range(300):
            h = np.tanh(h - h.mean(axis=0))
        return h

    assert_dynamic(run_sizes(f, lambda r, n: (r.standard_normal((n, 8)),), [n for n in SIZES if n >= 2][:12]))


def test_indexing_keeps_the_runtime_axis_whole():
    def f(x):
        return x[:, 1:-1] * 2.0, x[:, None, 0] + 1.0, x[..., ::2].sum(axis=1), np.roll(x, 2, axis=1)

    assert_dynamic(run_sizes(f, lambda r, n: (r.standard_normal((n, 7)),)))


def test_concatenate_and_stack_off_the_runtime_axis():
    def f(x, y):
        return np.concatenate([x, y * 2.0], axis=1), np.stack([x, x + 1.0], axis=1).sum(axis=2), np.hstack([x, y])

    assert_dynamic(run_sizes(f, lambda r, n: (r.standard_normal((n, 3)), r.standard_normal((n, 2)))))


def test_shape_as_python_int_specializes_only_that_dimension():
    # x.shape[0] is a Python int of this call: x's first dim is retraced static (guarded by
    # value), y's stays a runtime size.
    def f(x, y):
        n = x.shape[0]
        return x.sum(axis=0) / n + y.mean(axis=0)

    g = tracejit.jit(f, hot=0, sync=True)
    rng = np.random.default_rng(9)
    x = rng.standard_normal((6, 3))
    for m in (5, 8, 13, 40, 2):
        y = rng.standard_normal((m, 3))
        close(f(x, y), g(x, y))
    assert g.stats()["compiles"] <= 2, g.stats()
    x2 = rng.standard_normal((9, 3))
    close(f(x2, y), g(x2, y))  # a new size of x: a new static version, right answer


def test_partial_slice_of_the_runtime_axis_is_traced_static():
    def f(x):
        return x[1:].sum(axis=0)

    sizes = [5, 9, 13]
    s = run_sizes(f, lambda r, n: (r.standard_normal((n, 4)),), sizes)
    assert s["compiles"] == len(sizes), s


def test_mark_dynamic_compiles_dynamic_from_the_start():
    f = tracejit.jit(mlp_layer, hot=0, sync=True)
    rng = np.random.default_rng(2)
    for n in (5, 9, 300, 17):
        x = rng.standard_normal((n, 64)).astype(np.float32)
        tracejit.mark_dynamic(x, 0)
        close(mlp_layer(x), f(x))
    assert f.stats()["compiles"] == 1, f.stats()


def test_dynamic_false_stays_static():
    s = run_sizes(row_softmax, lambda r, n: (r.standard_normal((n, 10)),), [3, 4, 5, 6], dynamic=False)
    assert s["compiles"] == 4, s


def test_dynamic_true_compiles_once():
    sizes = [n for n in SIZES if n >= 2][:12]
    s = run_sizes(mlp_layer, lambda r, n: (r.standard_normal((n, 64)).astype(np.float32),), sizes, dynamic=True)
    assert s["compiles"] == 1, s


def test_symbolic_dim_shared_between_arguments_is_guarded():
    # x and y change their first dim together: one runtime size, guarded equal. A call where they
    # differ raises NumPy's error, exactly as eager.
    def f(x, y):
        return x.T @ y

    g = tracejit.jit(f, hot=0, sync=True)
    rng = np.random.default_rng(4)
    for n in (3, 4, 10, 77):
        x, y = rng.standard_normal((n, 5)), rng.standard_normal((n, 2))
        close(f(x, y), g(x, y))
    assert g.stats()["compiles"] <= 2
    with pytest.raises(ValueError):
        g(rng.standard_normal((6, 5)), rng.standard_normal((7, 2)))


def test_symbolic_dim_meeting_a_static_dim_in_broadcasting():
    # x's first dim becomes dynamic; y's stays 8: where they meet in broadcasting the function is
    # traced static (a recorded reason), answers stay eager's, and mismatches raise as eager.
    def f(x, y):
        return (x + y).sum(axis=1)

    g = tracejit.jit(f, hot=0, sync=True)
    y = np.arange(32.0).reshape(8, 4)
    for n in (8, 1, 8, 1):
        x = np.full((n, 4), 0.5)
        close(f(x, y), g(x, y))
    with pytest.raises(ValueError):
        g(np.ones((3, 4)), y)
    x = np.ones((8, 4))
    close(f(x, y), g(x, y))
