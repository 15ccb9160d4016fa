"""Elementwise results that read an operand through a transpose (`x.T + 1`, `np.exp(x.T)`,
`a.transpose(0, 2, 1) * b`): the CPU backend walks the last two axes in tiles of one cache line
by one cache line, transposing each tile in registers (backends/cpu/schedule.cpp, emit_eval),
with the edges element by element. Compared with eager NumPy: same values (integers and
arithmetic bit-exact), dtype and shape, every call compiled."""
import numpy as np
import pytest

from conftest import assert_same, random_array, run_compiled

# From 1 MiB the tiled path: whole tiles only, ragged edges on both axes, one ragged axis;
# below it, rows as before.
SHAPES = [(2048, 2048), (1000, 300), (257, 1029), (4096, 80), (64, 64), (333, 17), (1000, 15)]


def data(dtype, shape, seed=5):
    return random_array(dtype, shape, seed)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64, np.uint32])
def test_transposed_plus_constant(dtype, shape):
    x = data(dtype, shape)
    fn = lambda a: a.T + 3  # noqa: E731
    assert_same(fn(x), run_compiled(fn, x))


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transposed_math_and_broadcasts(dtype, shape):
    x = data(dtype, shape)
    w = data(dtype, shape[0], seed=6)  # along the result's last axis (x.T's columns)
    v = data(dtype, (shape[1], 1), seed=7)  # along the result's rows
    tol = 1e-6 if dtype == np.float32 else 1e-14  # a few ulp of the inputs: sums cancel
    for fn in (lambda a, b, c: np.exp(a.T) * b, lambda a, b, c: np.tanh(a.T - c) + b, lambda a, b, c: (a.T * 2 - c) / (b * b + 1)):
        want, got = fn(x, w, v), run_compiled(fn, x, w, v)
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * float(np.abs(want).max()))


@pytest.mark.parametrize("shape", [(64, 64), (600, 500), (1024, 520)], ids=str)
def test_transposed_and_straight_operands_together(shape):
    x = data(np.float32, shape)
    y = data(np.float32, shape[::-1], seed=8)
    assert_same(x.T - y, run_compiled(lambda a, b: a.T - b, x, y))
    sq = data(np.float64, (shape[0], shape[0]))
    assert_same(sq.T * sq + sq, run_compiled(lambda a: a.T * a + a, sq))


@pytest.mark.parametrize("shape", [(3, 64, 80), (5, 260, 300), (2, 3, 130, 700), (7, 16, 16)], ids=str)
def test_batched_transpose_of_the_last_two_axes(shape):
    x = data(np.float32, shape)
    axes = list(range(len(shape)))
    axes[-2:] = axes[-1], axes[-2]
    fn = lambda a: np.sqrt(np.abs(a.transpose(axes))) + 1  # noqa: E731
    assert_same(fn(x), run_compiled(fn, x), rtol=4e-7)


def test_transposed_slices_and_nan():
    x = data(np.float64, (600, 900))
    x[5, 7] = np.nan
    x[299, 0] = -np.inf
    fn = lambda a: np.maximum(a[::2, 1:].T, 0.5) * 2  # noqa: E731
    assert_same(fn(x), run_compiled(fn, x))


def test_transposed_input_param_views():
    # The caller hands in a transposed view itself (an F-ordered array).
    x = np.asfortranarray(data(np.float32, (1025, 260)))
    fn = lambda a: a * 2 + 1  # noqa: E731
    assert_same(fn(x), run_compiled(fn, x))
    assert_same(fn(x.T), run_compiled(fn, x.T))


# ---- reductions of transposed operands reduce the untransposed array (ir/passes/transpose_reduce.h) ----

@pytest.mark.parametrize("shape", [(2048, 2048), (1000, 300), (37, 5)], ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64])
def test_reductions_of_transposes(dtype, shape):
    x = data(dtype, shape)
    w = data(dtype, shape[0], seed=9)
    for fn in (lambda a, b: a.T.sum(axis=1), lambda a, b: a.T.max(axis=1), lambda a, b: (a.T * b).sum(axis=1),
               lambda a, b: (a.T - b).min(axis=1, keepdims=True), lambda a, b: a.T.sum(axis=0), lambda a, b: (a.T > b).any(axis=1), lambda a, b: (a.T // 1 + 0 * b).max(axis=1)):
        want = fn(x, w)
        got = run_compiled(fn, x, w)
        if np.issubdtype(dtype, np.floating) and want.dtype == dtype:
            # Sums: within a few ulp of the terms' magnitude (the order of additions differs)
            assert got.dtype == want.dtype and got.shape == want.shape
            scale = max(shape) * float(np.abs(x).max()) * max(1.0, float(np.abs(w).max()))
            np.testing.assert_allclose(got, want, rtol=0, atol=4 * np.finfo(dtype).eps * scale)
        else:
            assert_same(want, got)


def test_transposed_reductions_of_nan_and_means():
    x = data(np.float64, (700, 900))
    x[3, 4] = np.nan
    assert_same(x.T.max(axis=1), run_compiled(lambda a: a.T.max(axis=1), x))
    y = data(np.float32, (512, 384))
    got = run_compiled(lambda a: np.mean(a.T * a.T, axis=1), y)
    np.testing.assert_allclose(got, np.mean(y.T * y.T, axis=1), rtol=1e-5)
    z = data(np.float32, (4, 64, 96))
    fn = lambda a: a.transpose(0, 2, 1).sum(axis=2)  # noqa: E731
    np.testing.assert_allclose(run_compiled(fn, z), fn(z), rtol=0, atol=1e-4)
    fn = lambda a: np.abs(a.transpose(2, 0, 1)).sum(axis=(1, 2))  # noqa: E731
    np.testing.assert_allclose(run_compiled(fn, z), fn(z), rtol=1e-5)  # all terms positive
