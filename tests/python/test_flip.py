"""np.flip(m, axis), np.fliplr, np.flipud: compiled as the basic indexing NumPy writes them as
(a ::-1 slice on each flipped axis), so the result is a view of the input exactly as NumPy's.
Pure data movement, so every comparison is bit-exact. Compared with eager NumPy over every
dtype, shapes with 0- and 1-sized dimensions, non-contiguous inputs and every axis form; the
calls compile (a flipped array that is returned as it is stays NumPy's view: that runs eagerly,
as any returned view does). NumPy's errors come from the eager run."""
import numpy as np
import pytest

from conftest import assert_same, check_compiled, jit_now

DTYPES = [np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
          np.float32, np.float64]
SHAPES = [(), (7,), (0,), (1,), (4, 6), (1, 5), (0, 3), (3, 4, 5), (2, 1, 0)]
INPUTS = {
    "contiguous": lambda a: a,
    "transposed": lambda a: a.T,
    "stepped": lambda a: a[tuple(slice(None, None, 2) for _ in a.shape)],
    "negative": lambda a: a[tuple(slice(None, None, -1) for _ in a.shape)],
}


def make(shape, dtype, seed=0):
    r = np.random.default_rng(seed)
    if dtype == np.bool_:
        return r.random(shape) < 0.5
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return r.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)
    x = (r.standard_normal(shape) * 3).astype(dtype)
    if x.size >= 4:
        x.flat[:4] = [np.nan, np.inf, -np.inf, -0.0]
    return x


def axis_forms(ndim):
    forms = [None, ()]
    for k in range(ndim):
        forms += [k, k - ndim, (k,)]
    if ndim >= 2:
        forms += [(0, 1), (-1, 0), [1, 0]]
    if ndim >= 3:
        forms += [(0, 2), (2, 0, 1)]
    return forms

def function_of(exprs):
    """One function returning every expression (one compile per input, not per axis form)."""
    ns = {"np": np}
    exec("def f(x):\n    return (" + "".join(e + ", " for e in exprs) + ")\n", ns)
    return ns["f"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_flip_matches_numpy(shape, dtype):
    base = make(shape, dtype, hash((shape, np.dtype(dtype).name)) % 1000)
    for inp in INPUTS.values():
        x = inp(base)
        if x.ndim == 0:
            # np.flip of a 0-d array is m[()]: an element, as the jitted call returns it.
            check_compiled(function_of(["np.flip(x)", "np.flip(x, None)", "np.flip(x, ())"]), x)
            continue
        exprs = ["np.flip(x).copy()"]
        for axis in axis_forms(x.ndim):
            exprs.append(f"np.flip(x, {axis!r}).copy()")
            exprs.append(f"np.flip(x, axis={axis!r}).copy()")
            # Inside an expression (the flipped operand read through negative strides).
            exprs.append(f"np.not_equal(np.flip(x, {axis!r}), x)")
        check_compiled(function_of(exprs), x)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [s for s in SHAPES if len(s) >= 1])
def test_fliplr_flipud_match_numpy(shape, dtype):
    base = make(shape, dtype, 7)
    for inp in INPUTS.values():
        x = inp(base)
        exprs = ["np.flipud(x).copy()", "np.flipud(x) == x", "np.flipud(m=x).copy()"]
        if x.ndim >= 2:
            exprs += ["np.fliplr(x).copy()", "np.fliplr(np.flipud(x)) != np.flip(x, (0, 1))"]
        check_compiled(function_of(exprs), x)


def test_flip_in_arithmetic():
    # Finite values: an invalid flag (inf - inf) would send the call to NumPy for its warning.
    x = np.random.default_rng(3).standard_normal((5, 8))
    y = np.random.default_rng(4).standard_normal(8).astype(np.float32)

    def f(x, y):
        return np.flip(x, 1) * y + np.fliplr(x) - np.flipud(x)[::2].sum(axis=0)

    jf = jit_now(f)
    assert_same(f(x, y), jf(x, y))
    assert jf.stats()["compiled_calls"] == 1 and not jf.stats()["graph_breaks"]


def test_returned_flip_is_numpys_view():
    x = np.arange(12.0).reshape(3, 4)
    for fn in (lambda x: np.flip(x), lambda x: np.flip(x, 1), lambda x: np.fliplr(x), lambda x: np.flipud(x)):
        want, got = fn(x), jit_now(fn)(x)
        assert_same(want, got)
        assert np.shares_memory(got, x) and got.base is not None and got.strides == want.strides


def test_write_through_flipped_view():
    def f(x):
        y = np.flip(x, 0)
        y[0] = -1.0
        return x * 2

    x1, x2 = np.arange(12.0).reshape(4, 3), np.arange(12.0).reshape(4, 3)
    assert_same(f(x1), jit_now(f)(x2))
    assert_same(x1, x2)


@pytest.mark.parametrize("src", [
    "np.flip(x, 2)", "np.flip(x, -3)", "np.flip(x, (0, 0))", "np.flip(x, (0, 5, 0))", "np.fliplr(x[0])",
    "np.flipud(x[0, 0])", "np.flip(x, 0.5)",
])
def test_errors_match_numpy(src):
    x = np.arange(8.0).reshape(4, 2)
    ns = {"np": np}
    exec(f"def f(x):\n    return {src}\n", ns)
    f = ns["f"]
    with pytest.raises(Exception) as want:
        f(x)
    with pytest.raises(type(want.value)) as got:
        jit_now(f)(x)
    assert str(got.value) == str(want.value)
