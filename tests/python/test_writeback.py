"""In-place updates of large arguments: the kernel's final value is copied back into the caller's
array with streaming stores split over the thread pool when both are C-contiguous with one dtype
and shape (jit/runtime.cpp, write_back); anything else goes through NumPy's copy. Every case
compares the argument and the return with the eager run, bit for bit."""
import numpy as np
import pytest

from conftest import assert_same, jit_now


def sgd(w, g, lr):
    w -= lr * g
    return w


def interior(u, v):
    u[1:-1, 1:-1] = v[1:-1, 1:-1] + 0.25 * (v[:-2, 1:-1] + v[2:, 1:-1] + v[1:-1, :-2] + v[1:-1, 2:])
    return u[0, 0] + u[-1, -1]


def run_both(fn, make):
    """fn on fresh arguments eagerly and compiled (twice, so the cached call is checked too)."""
    eager_args = make()
    want = fn(*eager_args)
    jf = jit_now(fn)
    for _ in range(2):
        args = make()
        got = jf(*args)
    assert jf.stats()["compiled_calls"] == 2, jf.stats()
    for e, g in zip(eager_args, args):
        if isinstance(e, np.ndarray):
            assert_same(e, g)
    return want, got, args


# Sizes around the 1 MiB threshold and ones that leave partial 64 KiB units and 16-byte heads.
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.int16])
@pytest.mark.parametrize("n", [1000, (1 << 20) // 8 - 1, (1 << 20) // 2 + 3, 3_000_001])
def test_update_of_a_contiguous_argument(dtype, n):
    def make():
        r = np.random.default_rng(n)
        w = (r.standard_normal(n) * 100).astype(dtype)
        g = (r.standard_normal(n) * 10).astype(dtype)
        return w, g, dtype(3)

    want, got, args = run_both(sgd, make)
    assert got is args[0]
    assert_same(want, got)


@pytest.mark.parametrize("offset", [1, 2, 3])
def test_update_of_an_unaligned_argument(offset):
    """A view starting a few elements into its base: the copy's 16-byte head is not aligned."""
    def make():
        base = np.arange(2_000_000 + 8, dtype=np.float32)
        return base[offset:offset + 2_000_000], np.full(2_000_000, 0.5, np.float32), np.float32(2)

    want, got, args = run_both(sgd, make)
    assert_same(want, got)
    assert args[0].base is not None


@pytest.mark.parametrize("layout", ["F", "strided", "negative"])
def test_update_of_a_non_contiguous_argument(layout):
    """Fortran order, a stepped slice, a reversed view: NumPy's copy, same answer."""
    def make():
        r = np.random.default_rng(1)
        if layout == "F":
            w = np.asfortranarray(r.standard_normal((700, 600)))
        elif layout == "strided":
            w = r.standard_normal((700, 1200))[:, ::2]
        else:
            w = r.standard_normal((700, 600))[::-1]
        return w, r.standard_normal((700, 600)), 0.25

    want, got, args = run_both(sgd, make)
    assert_same(want, got)


def test_interior_update_of_a_grid():
    def make():
        r = np.random.default_rng(2)
        return r.standard_normal((1024, 1024)), r.standard_normal((1024, 1024))

    want, got, _ = run_both(interior, make)
    assert_same(want, got)


def test_cast_on_write_back():
    """A float32 argument updated by a float64 expression: NumPy casts on the in-place op (same
    kind), and the copy back must cast too."""
    def upd(w, g):
        w += g * 0.1
        return w

    def make():
        return np.ones(600_000, np.float32), np.linspace(0, 1, 600_000)

    want, got, _ = run_both(upd, make)
    assert got.dtype == np.float32
    assert_same(want, got)
