"""np.isclose / np.allclose compile to NumPy 2's own formula (numpy/_core/numeric.py):
y made inexact (result_type(y, 1.0); a Python int becomes a float), then
less_equal(abs(x - y), atol + rtol * abs(y)) & isfinite(y) | (x == y), | isnan(x) & isnan(y)
with equal_nan; a 0-d result is a NumPy bool, allclose a Python bool. Compared with eager NumPy
over every dtype pair kind, broadcasting, shapes with 0- and 1-sized dimensions, strided
inputs, infinities and NaN (which compile without a spurious re-run: NumPy ignores the invalid
flag there), Python-number operands and tolerances (float32 tolerances round in float32 as
NumPy's weak Python floats do); each call must have compiled."""
import numpy as np
import pytest

from conftest import assert_same, check_compiled, jit_now, record

DTYPES = [np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
          np.float32, np.float64]
SPECIAL = np.array([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 1e-8, 2e-8, 1e308, -1e308, 5e-324,
                    1.00001, 0.99999, 1e-300, 3.0])
def close_pair(shape, dtype, seed):
    """x and a y of which about half the elements are within the default tolerances."""
    r = np.random.default_rng(seed)
    if dtype == np.bool_:
        return r.random(shape) < 0.5, r.random(shape) < 0.5
    if np.issubdtype(dtype, np.integer):
        lo = 0 if np.issubdtype(dtype, np.unsignedinteger) else -100
        x = r.integers(lo, 100, shape).astype(dtype)
        return x, np.where(r.random(shape) < 0.5, x, r.integers(lo, 100, shape)).astype(dtype)
    x = r.standard_normal(shape) * 10.0 ** r.integers(-9, 9, shape)
    rel = np.where(r.random(shape) < 0.5, 1e-6, 1e-4) * r.choice([-1, 1], shape)
    return x.astype(dtype), (x * (1 + rel)).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", [(), (0,), (1,), (50,), (4, 0), (1, 7), (6, 9)], ids=str)
def test_matches_numpy(shape, dtype):
    x, y = close_pair(shape, dtype, hash((shape, np.dtype(dtype).name)) % 1000)
    check_compiled(lambda x, y: np.isclose(x, y), x, y)
    check_compiled(lambda x, y: np.isclose(y, x, rtol=1e-3, atol=0.0), x, y)
    check_compiled(lambda x, y: np.isclose(x, y, 1e-6, 1e-3, True), x, y)  # positional rtol, atol, equal_nan
    check_compiled(lambda x, y: np.allclose(x, y), x, y)
    check_compiled(lambda x, y: np.allclose(x, x, rtol=0, atol=0), x, y)


@pytest.mark.parametrize("dx", [np.int8, np.uint64, np.float32, np.bool_, np.int64], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("dy", [np.int16, np.float32, np.float64, np.bool_, np.uint8], ids=lambda d: np.dtype(d).name)
def test_mixed_dtypes_and_broadcasting(dx, dy):
    x, _ = close_pair((5, 1, 4), dx, 1)
    _, y = close_pair((3, 4), dy, 2)
    check_compiled(lambda x, y: np.isclose(x, y), x, y)
    check_compiled(lambda x, y: np.isclose(x, y, equal_nan=True), x, y)
    check_compiled(lambda x, y: np.allclose(x, y, atol=2), x, y)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("equal_nan", [False, True])
def test_special_values_all_pairs(dtype, equal_nan):
    with np.errstate(over="ignore"):  # 1e308 - -1e308 overflows in NumPy too (it warns: below)
        x = SPECIAL.astype(dtype)[:, None]
        y = SPECIAL.astype(dtype)[None, :]
        _special_pairs(x, y, equal_nan)


def _special_pairs(x, y, equal_nan):
    check_compiled(lambda x, y: np.isclose(x, y, equal_nan=equal_nan), x, y)
    check_compiled(lambda x, y: np.isclose(x, y, rtol=0.5, atol=0, equal_nan=equal_nan), x, y)
    check_compiled(lambda x, y: np.allclose(x, y, equal_nan=equal_nan), x, y)
    check_compiled(lambda x, y: np.allclose(x, x, equal_nan=equal_nan), x, y)


def test_tolerance_that_overflows_to_inf_warns_as_numpy():
    # rtol * |y| overflows: NumPy warns (only invalid is ignored) and inf <= inf holds.
    x, y = np.array([np.inf, 1.0, 0.0]), np.array([1e308, 1e308, 1e308])
    f = lambda x, y: np.isclose(x, y, rtol=10.0)  # noqa: E731
    want, got = record(f, x, y), record(jit_now(f), x, y)
    assert [m for _, m, _ in got[2]] == [m for _, m, _ in want[2]] and want[2]
    assert_same(want[0], got[0])


def test_python_numbers_and_scalars():
    x = np.array([1.0, 1.000001, np.nan, np.inf, 0.0], np.float32)
    check_compiled(lambda x: np.isclose(x, 1.0), x)            # a weak Python float: float32 math
    check_compiled(lambda x: np.isclose(x, 1), x)              # a Python int becomes a float
    check_compiled(lambda x: np.isclose(1.0, x), x)
    check_compiled(lambda x: np.isclose(x, np.inf), x)
    check_compiled(lambda x: np.isclose(x, float("nan"), equal_nan=True), x)
    check_compiled(lambda x: np.isclose(x, 1.0, rtol=1, atol=1), x)  # integer tolerances
    check_compiled(lambda x: np.isclose(x[0], x[1]), x)        # NumPy scalars: a NumPy bool
    check_compiled(lambda x: np.isclose(x[0], 1.0), x)
    check_compiled(lambda x: np.allclose(x[:2], 1.0, rtol=1e-5), x)
    check_compiled(lambda x: np.allclose(x[0], x[1]), x)
    check_compiled(lambda x, t: np.isclose(x, t), x, 1.0000001)  # a runtime Python float argument
    check_compiled(lambda x, t: np.isclose(x, t), x, 3)           # a Python int argument


def test_integer_inputs_use_float64():
    x = np.array([np.iinfo(np.int64).min, -5, 0, 7, np.iinfo(np.int64).max], np.int64)
    check_compiled(lambda x: np.isclose(x, x), x)
    check_compiled(lambda x: np.isclose(x, x[::-1]), x)
    check_compiled(lambda x: np.isclose(x, x + 1), x)
    u = np.array([0, 1, 2**63, 2**64 - 1], np.uint64)
    check_compiled(lambda u: np.isclose(u, u[::-1], rtol=0), u)


@pytest.mark.parametrize("view", ["T", "step", "neg"])
def test_non_contiguous_inputs(view):
    bx, by = close_pair((30, 12), np.float64, 3)
    v = {"T": lambda a: a.T, "step": lambda a: a[::3, ::2], "neg": lambda a: a[::-1]}[view]
    check_compiled(lambda x, y: np.isclose(x, y), v(bx), v(by))
    check_compiled(lambda x, y: np.allclose(x, y, rtol=1e-3), v(bx), v(bx))


def test_in_a_branch_and_returned_as_python_bool():
    def f(x, y):
        s = 2.0 if np.allclose(x, y) else 3.0  # a branch on the runtime bool: if-converted
        return x * s

    x, y = close_pair((8,), np.float64, 9)
    check_compiled(f, x, x + 1e-12)
    check_compiled(f, x, y)
    got = check_compiled(lambda x, y: np.allclose(x, y), x, x)
    assert got is True


def test_fused_with_other_work():
    def f(a, b):
        close = np.isclose(a @ b, (a @ b).T, atol=1e-6)
        return close.sum(), np.where(close, 0.0, a)

    r = np.random.default_rng(5)
    a = r.standard_normal((6, 6))
    check_compiled(f, a, a.T.copy())
