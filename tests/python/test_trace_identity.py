"""np.trace(a, offset, dtype=) of 2-d arrays and np.identity(n, dtype): trace compiles as
add.reduce of the diagonal (a slice of the flattened matrix) with NumPy's sum dtype rules, so
integer and bool results are bit-exact and float ones (float inputs or dtype=float) within n ulps of sum(|diagonal|) of the
exact sum (the summation order is tracejit's, not NumPy's pairwise one); identity as np.eye.
np.diag(v, k) of a 1-d v compiles as a select of v (padded, broadcast) on col - row == k: a new
array, bit-exact. Compared with eager NumPy over every dtype, 0- and 1-sized dims, non-contiguous
inputs and every offset form; each call compiled. np.diag / np.diagonal / a.diagonal of a 2-d
array is NumPy's read-only view of the diagonal (a slice of the flattened matrix): compiled when
read, eager when returned or written through (NumPy's view, NumPy's ValueError); trace's
axis1/axis2/out and arrays of other ranks run eagerly with NumPy's result or error."""
import numpy as np
import pytest

from conftest import assert_compiled, assert_same, jit_now

DTYPES = [np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
          np.float32, np.float64]
SHAPES = [(4, 6), (6, 4), (5, 5), (1, 1), (1, 5), (0, 3), (3, 0), (0, 0), (40, 33)]
INPUTS = {
    "contiguous": lambda a: a,
    "transposed": lambda a: a.T,
    "stepped": lambda a: a[::2, ::3],
    "negative": lambda a: a[::-1, ::-2],
}


def make(shape, dtype, seed=0):
    r = np.random.default_rng(seed)
    if dtype == np.bool_:
        return r.random(shape) < 0.5
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return r.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)
    return (r.standard_normal(shape) * 3).astype(dtype)


def function_of(exprs):
    ns = {"np": np}
    exec("def f(x):\n    return (" + "".join(e + ", " for e in exprs) + ")\n", ns)
    return ns["f"]

def offsets(shape):
    return sorted({0, 1, -1, 2, -3, shape[1] - 1, -(shape[0] - 1), shape[1], -shape[0], 50, -50})


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_trace_matches_numpy(shape, dtype):
    base = make(shape, dtype, hash((shape, np.dtype(dtype).name)) % 1000)
    for inp in INPUTS.values():
        x = inp(base)
        exprs = ["np.trace(x)", "np.trace(a=x)"]
        for k in offsets(x.shape):
            exprs += [f"np.trace(x, {k})", f"np.trace(x, offset={k})", f"np.trace(x, {k}, dtype=np.float64)",
                      f"np.trace(x, {k}, dtype=np.int8)" if dtype != np.uint64 else f"np.trace(x, {k}, dtype=np.uint8)"]
        f = function_of(exprs)
        want = f(x)
        jf = jit_now(f)
        got = jf(x)
        assert_compiled(jf)
        assert type(got) is tuple and len(got) == len(want)
        for e, g, src in zip(want, got, exprs):
            assert type(g) is type(e) and g.dtype == e.dtype, src
            if e.dtype.kind == "f":
                # Within len(diagonal) ulps of sum(|diagonal|) of the exact sum.
                k = int(src.split(",")[1].split("=")[-1].rstrip(")")) if "," in src else 0
                d = np.diagonal(x, k).astype(e.dtype).astype(np.longdouble)
                ref = d.sum()
                eps = np.finfo(e.dtype).eps
                bound = max(len(d), 1) * eps * np.abs(d).sum()
                assert abs(np.longdouble(g) - ref) <= bound and abs(np.longdouble(e) - ref) <= bound, src
            else:
                assert_same(e, g)


def test_trace_nan_and_inf():
    x = np.arange(16.0).reshape(4, 4)
    for v in (np.nan, np.inf, -np.inf):
        y = x.copy()
        y[2, 2] = v
        f = lambda y: np.trace(y)  # noqa: E731
        jf = jit_now(f)
        assert_same(f(y), jf(y))
        assert_compiled(jf)


def test_trace_in_expression():
    def f(a, b):
        return np.trace(a @ b) / np.trace(a, 1) + np.trace(b.T, -1)

    a = np.random.default_rng(1).standard_normal((6, 6))
    b = np.random.default_rng(2).standard_normal((6, 6))
    jf = jit_now(f)
    np.testing.assert_allclose(jf(a, b), f(a, b), rtol=1e-12)
    assert_compiled(jf)


@pytest.mark.parametrize("dtype", DTYPES + [None, float, int, bool, "float32"])
def test_identity_matches_numpy(dtype):
    exprs = []
    for n in (0, 1, 5):
        spelled = (repr(dtype) if isinstance(dtype, str) or dtype is None else dtype.__name__
                   if dtype in (float, int, bool) else f"np.{dtype.__name__}")
        exprs += [f"np.identity({n})", f"np.identity({n}, dtype={spelled})", f"np.identity({n}, {spelled})"]
    exprs.append("np.identity(x.shape[0]) * x")
    f = function_of(exprs)
    x = np.arange(3.0)
    want = f(x)
    jf = jit_now(f)
    assert_same(want, jf(x))
    assert_compiled(jf)


@pytest.mark.parametrize("src", [
    "np.trace(x[0])", "np.trace(x.reshape(2, 2, 2))", "np.trace(x, 0, 1, 0)", "np.trace(x, axis1=1, axis2=0)",
    "np.trace(x, 0.5)", "np.identity(-1)", "np.identity(2.5)", "np.identity(3, k=1)", "np.diag(x)",
    "np.diag(x, 1)", "np.diag(x[0, 0])", "np.diag(x.reshape(2, 2, 2))", "np.diag(x[0], 0.5)",
])
def test_errors_and_eager_forms_match_numpy(src):
    x = np.arange(8.0).reshape(4, 2)
    ns = {"np": np}
    exec(f"def f(x):\n    return {src}\n", ns)
    f = ns["f"]
    try:
        want = f(x)
    except Exception as e:  # noqa: BLE001
        with pytest.raises(type(e)) as got:
            jit_now(f)(x)
        assert str(got.value) == str(e)
        return
    assert_same(want, jit_now(f)(x))


@pytest.mark.parametrize("dtype", DTYPES)
def test_diag_of_vector_matches_numpy(dtype):
    base = make((9,), dtype, 5)
    if base.dtype.kind == "f":
        base[:4] = [np.nan, np.inf, -np.inf, -0.0]
    for v in (base, base[:0], base[:1], base[::2], base[::-3]):
        exprs = ["np.diag(v)", "np.diag(v=v)"]
        for k in (0, 1, -1, 3, -4, 12):
            exprs += [f"np.diag(v, {k})", f"np.diag(v, k={k})"]
        exprs.append("np.diag(v, 2) == np.diag(v, 2).T")
        ns = {"np": np}
        exec("def f(v):\n    return (" + "".join(e + ", " for e in exprs) + ")\n", ns)
        f = ns["f"]
        want = f(v)
        jf = jit_now(f)
        got = jf(v)
        assert_compiled(jf)
        assert_same(want, got)
        assert all(not np.shares_memory(g, v) for g in got)


def test_diag_in_expression():
    def f(v, m):
        return m @ np.diag(v) - np.diag(v, -1)[1:, :5]

    v = np.random.default_rng(3).standard_normal(5)
    m = np.random.default_rng(4).standard_normal((5, 5))
    jf = jit_now(f)
    np.testing.assert_allclose(jf(v, m), f(v, m), rtol=1e-13)
    assert_compiled(jf)


def test_diag_of_matrix_is_numpys_read_only_view():
    x = np.arange(12.0).reshape(3, 4)
    for f in (lambda x: np.diag(x), lambda x: np.diag(x, 1), lambda x: np.diag(x, -2)):
        want, got = f(x), jit_now(f)(x)
        assert_same(want, got)
        assert not got.flags.writeable and np.shares_memory(got, x)


@pytest.mark.parametrize("dtype", [np.bool_, np.int8, np.uint64, np.float32, np.float64], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("layout", list(INPUTS))
def test_diagonal_of_matrix_read_compiled(dtype, layout):
    for shape in [(4, 6), (5, 5), (40, 33)]:
        x = INPUTS[layout](make(shape if layout != "stepped" else (2 * shape[0], 3 * shape[1]), dtype))
        n, m = x.shape
        for k in sorted({0, 2, -1, m - 1}):
            if (min(n, m - k) if k >= 0 else min(n + k, m)) <= 0:
                continue

            def f(a):
                return np.diag(a, k) * 1, np.diagonal(a, k).copy(), np.maximum(a.diagonal(k)[::-1], a.diagonal(k))

            jf = jit_now(f)
            assert_same(f(x), jf(x))
            assert_compiled(jf)


def test_diagonal_writes_raise_numpys_error():
    def write_through(a):
        d = a.diagonal()
        d[0] = 5.0
        return a

    def write_base(a):
        d = np.diag(a)
        a[0, 0] = 7.0
        return d.sum()

    x = np.arange(12.0).reshape(3, 4)
    with pytest.raises(ValueError, match="read-only") as want:
        write_through(x.copy())
    with pytest.raises(ValueError, match="read-only") as got:
        jit_now(write_through)(x.copy())
    assert str(got.value) == str(want.value)
    want_x, got_x = x.copy(), x.copy()
    assert_same(write_base(want_x), jit_now(write_base)(got_x))
    assert_same(want_x, got_x)
