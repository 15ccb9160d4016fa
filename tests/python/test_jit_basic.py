"""End to end: every jitted call compared with eager NumPy (value, dtype, shape, Python type),
plus the runtime's contract: compiles when it should, recompiles with worded reasons, falls back
with file:line, keeps the wrapped function's identity."""
import math
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import tracejit
from conftest import RTOL, assert_same

F32, F64 = RTOL[np.dtype(np.float32)], RTOL[np.dtype(np.float64)]


def run_both(fn, *args, rtol=0.0, compiled=True, **kw):
    """Eager result vs jit(hot=0) result; returns the jitted wrapper for stats checks."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = fn(*args, **kw)
        j = tracejit.jit(fn, hot=0)
        got = j(*args, **kw)
        assert_same(expected, got, rtol)
        again = j(*args, **kw)  # the cached version gives the same answer
        assert_same(expected, again, rtol)
    st = j.stats()
    if compiled:
        assert st["compiled_calls"] == 2, st
    else:
        assert st["compiled_calls"] == 0, st
    return j


def rng(seed=0):
    return np.random.default_rng(seed)


# ---------------------------------------------------------------------------------------------
# The issue example


def test_issue_example_4m_float32_bit_exact():
    r = rng()
    a, b, c, d = (r.standard_normal(4_000_000, dtype=np.float32) for _ in range(4))

    @tracejit.jit
    def f(a, b, c, d):
        return a * b + c * d - a

    expected = a * b + c * d - a
    first = f(a, b, c, d)  # hot=1: eager
    assert f.stats()["compiled_calls"] == 0
    second = f(a, b, c, d)  # compiles
    assert_same(expected, first)
    assert_same(expected, second)
    st = f.stats()
    assert st["compiled_calls"] == 1 and st["compiles"] == 1 and st["fallback_calls"] == 1


# ---------------------------------------------------------------------------------------------
# NEP 50 promotion


def test_float32_times_python_float_stays_float32():
    j = run_both(lambda a: a * 2.0, np.arange(5, dtype=np.float32))
    assert j(np.ones(2, np.float32)).dtype == np.float32


@pytest.mark.parametrize(
    "da,db",
    [("int32", "int64"), ("uint8", "int8"), ("uint16", "int32"), ("uint64", "int64"),
     ("int8", "float32"), ("int64", "float32"), ("bool", "int8"), ("uint32", "float64"),
     ("float32", "float64"), ("bool", "bool")],
)
def test_array_array_promotion(da, db):
    a = (np.arange(7) * 37 % 11).astype(da)
    b = (np.arange(7)[::-1] * 13 % 5).astype(db)
    run_both(lambda a, b: a + b, a, b)
    run_both(lambda a, b: a * b, a, b)


def test_int_true_divide_is_float64():
    run_both(lambda a, b: a / b, np.arange(1, 8, dtype=np.int32), np.full(7, 3, np.int32))
    run_both(lambda a: a / 3, np.arange(8, dtype=np.int8))


def test_int8_plus_out_of_range_python_int_raises_like_numpy():
    a = np.arange(4, dtype=np.int8)
    with pytest.raises(OverflowError) as eager:
        a + 1000
    j = tracejit.jit(lambda a: a + 1000, hot=0)
    with pytest.raises(OverflowError) as jitted:
        j(a)
    assert str(jitted.value) == str(eager.value)
    assert j.stats()["compiled_calls"] == 0


@pytest.mark.parametrize("const", [1, -1, 100, 1.5, True])
@pytest.mark.parametrize("dtype", ["int8", "uint8", "int64", "uint64", "float32", "bool"])
def test_weak_python_scalar(dtype, const):
    a = np.array([0, 1, 2, 3], dtype=dtype)
    g = {}
    exec(f"def f(a):\n    return a + {const!r}, a * {const!r}\n", g)  # a constant, not a closure
    f = g["f"]

    try:
        with np.errstate(all="ignore"):
            f(a)
    except OverflowError:
        with pytest.raises(OverflowError):
            tracejit.jit(f, hot=0)(a)
        return
    run_both(f, a)


# ---------------------------------------------------------------------------------------------
# Broadcasting, 0-d, 0-size, strided


@pytest.mark.parametrize(
    "sa,sb",
    [((3, 1), (4,)), ((5,), ()), ((2, 1, 3), (4, 1)), ((1,), (6,)), ((0, 3), (3,)), ((4, 0), (1, 1))],
)
def test_broadcasting(sa, sb):
    r = rng(1)
    a = r.standard_normal(sa)
    b = r.standard_normal(sb)
    run_both(lambda a, b: a * b - b, a, b)


def test_array_times_scalar_broadcast():
    run_both(lambda a: a * 3.0 + 1, np.arange(5.0))


def test_zero_d_arrays_return_numpy_scalars():
    j = run_both(lambda a, b: a * b + 1.0, np.array(2.0), np.array(3.0, np.float32))
    assert isinstance(j(np.array(2.0), np.array(3.0, np.float32)), np.float64)


def test_zero_d_where_returns_zero_d_array():
    run_both(lambda a, b: np.where(a > b, a, b), np.array(1.0), np.array(2.0))


def test_zero_size_arrays():
    run_both(lambda a, b: np.exp(a) + b, np.ones((0,), np.float32), np.ones((0,), np.float32))
    run_both(lambda a: a * 2, np.ones((3, 0), np.int16))


def test_non_contiguous_inputs_compile_strided():
    x = np.arange(40.0)
    m = np.arange(12.0).reshape(3, 4)
    run_both(lambda a, b: a * b + 1, x[::2], x[::-2])
    run_both(lambda a, b: a - b, m.T, np.ones((4, 3)))
    run_both(lambda a: np.sqrt(a), m[:, 1:3])


# ---------------------------------------------------------------------------------------------
# Scalars as arguments and results


def test_python_float_args_do_not_recompile():
    f = tracejit.jit(lambda a, s: a * s + s, hot=0)
    a = np.arange(6, dtype=np.float32)
    for i in range(20):
        s = 0.1 + i * 0.37
        assert_same(a * s + s, f(a, s))
    st = f.stats()
    assert st["compiles"] == 1 and st["compiled_calls"] == 20


def test_python_int_args_are_specialized():
    f = tracejit.jit(lambda a, n: a * n, hot=0)
    a = np.arange(4, dtype=np.int16)
    assert_same(a * 3, f(a, 3))
    assert_same(a * 3, f(a, 3))
    assert f.stats()["compiles"] == 1
    assert_same(a * 4, f(a, 4))
    st = f.stats()
    assert st["compiles"] == 2 and st["recompiles"] == 1
    assert len(st["recompile_reasons"]) == 1
    assert "<lambda>: value of arg 'n': expected 3, got 4 (called from " in st["recompile_reasons"][0]
    assert "test_jit_basic.py:" in st["recompile_reasons"][0]


@pytest.mark.parametrize("s", [np.float32(1.5), np.float64(-2.25), np.int8(-3), np.uint16(7),
                               np.int64(2**40), np.bool_(True)])
def test_numpy_scalar_args(s):
    run_both(lambda a, s: a * s + s, np.arange(5, dtype=np.int16), s)
    run_both(lambda a, s: a - s, np.arange(5, dtype=np.float32), s)


def test_numpy_scalar_results():
    j = run_both(lambda x, y: x * y + x, np.float32(1.5), np.float32(3.0))
    assert isinstance(j(np.float32(1.5), np.float32(3.0)), np.float32)


def test_python_float_result():
    j = run_both(lambda x: x * 2.0 - x, 3.5)
    assert type(j(3.5)) is float


def test_tuple_result():
    run_both(lambda a, b: (a + b, a - b, (a * b, 2)), np.arange(4.0), np.ones(4))


def test_constant_result():
    f = tracejit.jit(lambda a: (1, "x", None), hot=0)
    assert f(np.ones(3)) == (1, "x", None)
    assert f(np.ones(3)) == (1, "x", None)


def test_return_argument_is_the_same_object():
    a = np.arange(3.0)
    f = tracejit.jit(lambda a: a, hot=0)
    assert f(a) is a
    assert f(a) is a
    assert f.stats()["compiled_calls"] == 2
    s = 2.5
    assert tracejit.jit(lambda x: x, hot=0)(s) is s


def test_unary_plus_returns_a_copy():
    a = np.arange(3.0)
    f = tracejit.jit(lambda a: +a, hot=0)
    for _ in range(2):
        r = f(a)
        assert r is not a and not np.shares_memory(r, a)
        assert_same(+a, r)
    assert f.stats()["compiled_calls"] == 2


# ---------------------------------------------------------------------------------------------
# Exact semantics at the edges


def test_nan_inf_signed_zero_in_floordiv_mod():
    a = np.array([-1.0, 1.0, -0.0, 5.0, np.inf, 3.0, -7.5, 0.0, np.nan, 1e308])
    b = np.array([np.inf, -np.inf, 3.0, -0.0, 2.0, np.nan, 2.0, 0.0, 1.0, 1e-308])
    run_both(lambda a, b: (a // b, a % b, a / b), a, b)
    with np.errstate(over="ignore"):
        a32, b32 = a.astype(np.float32), b.astype(np.float32)
    run_both(lambda a, b: (a // b, a % b), a32, b32)


def test_nan_in_maximum_minimum():
    a = np.array([np.nan, 0.0, 1.0, np.inf, -np.inf, 2.0])
    b = np.array([1.0, np.nan, np.nan, -np.inf, np.nan, 3.0])
    run_both(lambda a, b: (np.maximum(a, b), np.minimum(a, b)), a, b)


def test_signed_zero_in_maximum_minimum():
    a = np.array([0.0, -0.0])
    b = np.array([-0.0, 0.0])
    run_both(lambda a, b: (np.maximum(a, b), np.minimum(a, b)), a, b)


def test_integer_overflow_wraps():
    run_both(lambda a: a + 1, np.array([127, -128], np.int8))
    run_both(lambda a, b: a * b, np.array([2**62], np.int64), np.array([4], np.int64))
    run_both(lambda a: -a, np.array([-128, 0], np.int8))
    run_both(lambda a: abs(a), np.array([-128, -1], np.int8))
    run_both(lambda a: a - 1, np.array([0], np.uint8))


@pytest.mark.parametrize("dtype", ["int8", "int32", "int64", "uint8", "uint64"])
def test_integer_division_by_zero_gives_zero(dtype):
    a = np.array([5, 0, 7, 100], dtype)
    b = np.zeros(4, dtype)
    run_both(lambda a, b: (a // b, a % b), a, b)


def test_int_min_floordiv_minus_one():
    for dt in (np.int8, np.int32, np.int64):
        m = np.iinfo(dt).min
        run_both(lambda a, b: (a // b, a % b), np.array([m, m + 1], dt), np.array([-1, -1], dt))


def test_exact_ops_all_dtypes():
    r = rng(3)
    for dt in ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
               "float32", "float64"]:
        a = (r.standard_normal(50) * 50).astype(dt)
        b = (r.standard_normal(50) * 7).astype(dt)
        run_both(lambda a, b: (a + b, a - b, a * b, a // b, a % b, a / b), a, b)
        run_both(lambda a, b: (a < b, a <= b, a == b, a != b, a > b, a >= b), a, b)
        run_both(lambda a, b: (np.maximum(a, b), np.minimum(a, b), np.where(a > b, a, b)), a, b)


def test_bitwise_ops():
    a = np.array([0, 1, 5, -8, 127], np.int8)
    b = np.array([3, -1, 4, 8, -128], np.int8)
    run_both(lambda a, b: (a & b, a | b, a ^ b, ~a), a, b)
    run_both(lambda a, b: (a & b, a | b, ~a), a > 0, b > 0)


@pytest.mark.parametrize("dtype,rtol", [("float32", F32), ("float64", F64)])
def test_transcendentals(dtype, rtol):
    x = np.linspace(-30, 30, 2001).astype(dtype)
    run_both(lambda x: (np.exp(x), np.tanh(x), np.sin(x), np.cos(x)), x, rtol=rtol)
    run_both(lambda x: (np.log(x), np.sqrt(x)), np.abs(x) + np.array(0.5, dtype), rtol=rtol)
    run_both(lambda x: x ** 3, x, rtol=rtol)


def test_transcendental_edge_values():
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -1.0, 1e-310, 709.8, -745.2])
    run_both(lambda x: (np.exp(x), np.log(x), np.sqrt(x), np.tanh(x)), x, rtol=F64)


def test_sqrt_and_abs_exact():
    x = np.array([-0.0, 0.0, -1.0, 2.0, np.inf, -np.inf, np.nan, 1e-320])
    run_both(lambda x: (np.sqrt(x), np.abs(x), abs(x), np.absolute(x)), x)


def test_power_fast_paths_on_arrays():
    x = np.array([-0.0, -np.inf, 4.0, np.nan, 2.0, -3.0])
    run_both(lambda x: (x ** 0.5, x ** 2, x ** 2.0, x ** 1, np.power(x, 0.5)), x)
    run_both(lambda a: a ** 2, np.array([12, -3, 100], np.int8))


def test_integer_negative_power_raises_like_numpy():
    a = np.array([2, 3], np.int32)
    with pytest.raises(ValueError) as eager:
        a ** -1
    with pytest.raises(ValueError) as jitted:
        tracejit.jit(lambda a: a ** -1, hot=0)(a)
    assert str(jitted.value) == str(eager.value)


# Formerly wrong answers (found by this suite), now fixed: each stays as a regression test.

@pytest.mark.parametrize("fn", [lambda a: a > 1000, lambda a: a == 300, lambda a: a < 300])
def test_compare_with_out_of_range_python_int(fn):
    run_both(fn, np.array([44, 2], np.int8))


def test_numpy_scalar_power_half():
    run_both(lambda s: s ** 0.5, np.float64(-0.0))


def test_array_power_runtime_half():
    run_both(lambda a, e: a ** e, np.array([-0.0, -np.inf, 4.0]), np.float64(0.5))


def test_bool_array_squared_dtype():
    run_both(lambda a: a ** 2, np.array([True, False]))


def test_branch_on_mutable_global():
    f = tracejit.jit(_branch_on_flags, hot=0)
    a = np.ones(2)
    assert_same(_branch_on_flags(a), f(a))
    _FLAGS.append(1)
    try:
        assert_same(_branch_on_flags(a), f(a))
    finally:
        _FLAGS.clear()


_FLAGS = []


def _branch_on_flags(a):
    if _FLAGS:
        return a * 2.0
    return a * 3.0


# ---------------------------------------------------------------------------------------------
# Recompilation and the recompile limit


def test_new_dtype_or_shape_recompiles_with_reasons():
    f = tracejit.jit(lambda a, b: a + b, hot=0)
    f(np.ones(4), np.ones(4))
    assert_same(np.ones(8) * 2, f(np.ones(8), np.ones(8)))
    assert_same(np.ones(8, np.float32) + np.ones(8), f(np.ones(8, np.float32), np.ones(8)))
    st = f.stats()
    assert st["compiles"] == 3 and st["recompiles"] == 2
    assert "arg 'a' shape[0]: expected 4, got 8" in st["recompile_reasons"][0]
    assert "arg 'b' shape[0]: expected 4, got 8" in st["recompile_reasons"][0]
    assert "dtype of arg 'a': expected float64, got float32" in st["recompile_reasons"][1]


def test_ninth_signature_runs_eagerly_with_one_warning():
    # Twelve signatures that differ in dtype or rank (sizes alone would become one dynamic
    # version).
    f = tracejit.jit(lambda a: a * 2 + 1, hot=0)
    sigs = [(d, shape) for shape in ((5,), (5, 1))
            for d in (np.float64, np.float32, np.int8, np.int16, np.int32, np.int64)]
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        for d, shape in sigs:
            a = np.arange(5, dtype=d).reshape(shape)
            assert_same(a * 2 + 1, f(a))
            assert_same(a * 2 + 1, f(a))
    tw = [x for x in w if issubclass(x.category, tracejit.TracejitWarning)]
    assert len(tw) == 1, [str(x.message) for x in w]
    assert "recompile_limit=8" in str(tw[0].message)
    st = f.stats()
    assert st["compiles"] == 8 and st["cache_entries"] == 8
    assert st["compiled_calls"] == 16 and st["fallback_calls"] == 8
    assert any("[recompile-limit]" in r for r in st["fallback_reasons"])


def test_recompile_limit_warning_with_pytest_warns():
    f = tracejit.jit(lambda a: a - 1, hot=0, recompile_limit=2)
    f(np.ones(3))
    f(np.ones(3, np.float32))
    with pytest.warns(tracejit.TracejitWarning):
        assert_same(np.zeros(3, np.int64), f(np.ones(3, np.int64)))


def test_hot_counts_eager_calls_first():
    f = tracejit.jit(lambda a: a + 1, hot=3)
    a = np.ones(2)
    for _ in range(3):
        f(a)
    assert f.stats()["compiled_calls"] == 0
    assert_same(a + 1, f(a))
    assert f.stats()["compiled_calls"] == 1


def _long_loop(u):
    for _ in range(150):
        u = u * 0.5 + 1.0
    return u


def _nested_loops(u):
    for _ in range(12):
        for _ in range(12):
            u = u * 0.5 + 1.0
    return u


def _short_loop(u):
    for _ in range(20):
        u = u * 0.5 + 1.0
    return u


@pytest.mark.parametrize("fn, hot_loop, compiled_first", [
    (_long_loop, 100, True),      # 150 iterations in one call: hot at once
    (_nested_loops, 100, True),   # 12 * (1 + 12) iterations counted through the nest
    (_short_loop, 100, False),    # 20 iterations: counts as one call, like loop-free code
    (_short_loop, 20, True),
    (_long_loop, 0, False),       # hot_loop=0: per-loop hotness off
])
def test_hotness_per_loop(fn, hot_loop, compiled_first):
    f = tracejit.jit(fn, sync=True, hot_loop=hot_loop)
    a = np.linspace(-1.0, 1.0, 64)
    assert_same(fn(a.copy()), f(a.copy()))
    st = f.stats()
    assert st["compiled_calls"] == (1 if compiled_first else 0)
    assert st["compiles"] == (1 if compiled_first else 0)
    assert_same(fn(a.copy()), f(a.copy()))  # the second call compiles either way (hot=1)
    assert f.stats()["compiled_calls"] == (2 if compiled_first else 1)
    assert f.stats()["compiles"] == 1


def test_hotness_per_loop_rejects_negative():
    with pytest.raises(ValueError):
        tracejit.jit(_long_loop, hot_loop=-1)


# ---------------------------------------------------------------------------------------------
# Fallbacks


def _with_print(a):
    y = a * 2.0
    print("y is", y)  # PRINT-LINE
    return y + 1


def _line_of(fn, marker):
    import inspect
    lines, first = inspect.getsourcelines(fn)
    for i, l in enumerate(lines):
        if marker in l:
            return first + i
    raise AssertionError(marker)


def test_print_is_a_graph_break_with_file_line(capsys):
    # print(...) runs after the compiled graph with the real values (test_partial_graphs.py)
    a = np.arange(3.0)
    expected = _with_print(a)
    eager_out = capsys.readouterr().out
    f = tracejit.jit(_with_print, hot=0)
    assert_same(expected, f(a))
    assert capsys.readouterr().out == eager_out
    st = f.stats()
    assert st["compiled_calls"] == 1 and st["fallback_calls"] == 0 and st["graph_breaks"] == 1
    where = f"{__file__}:{_line_of(_with_print, 'PRINT-LINE')}:"
    assert any(r.startswith(where) for r in st["graph_break_reasons"]), st["graph_break_reasons"]


def _with_setcomp(a):
    s = {k * 2 for k in range(3)}  # SET-LINE (sets are not traced)
    return a + len(s)


def test_set_comprehension_falls_back_with_file_line():
    a = np.arange(3.0)
    f = tracejit.jit(_with_setcomp, hot=0)
    assert_same(_with_setcomp(a), f(a))
    st = f.stats()
    assert st["compiled_calls"] == 0
    where = f"{__file__}:{_line_of(_with_setcomp, 'SET-LINE')}:"
    assert any(r.startswith(where) for r in st["fallback_reasons"]), st["fallback_reasons"]


def test_disable_env_makes_every_call_eager():
    code = textwrap.dedent("""
        import numpy as np, tracejit
        f = tracejit.jit(lambda a: a * 2 + 1, hot=0)
        a = np.arange(4.0)
        for _ in range(3):
            assert np.array_equal(f(a), a * 2 + 1)
        s = f.stats()
        print(s["compiled_calls"], s["fallback_calls"], s["compiles"])
    """)
    env = dict(os.environ, TRACEJIT_DISABLE="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["0", "3", "0"]


@pytest.mark.parametrize("dtype", ["float16", "complex128", "complex64", "longdouble"])
def test_unsupported_dtypes_fall_back(dtype):
    a = np.arange(5).astype(dtype)
    j = run_both(lambda a: a * 2 + a, a, compiled=False)
    assert any("[unsupported-dtype]" in r for r in j.stats()["fallback_reasons"])


def test_masked_array_falls_back():
    m = np.ma.array([1.0, 2.0, 3.0], mask=[0, 1, 0])
    f = tracejit.jit(lambda a: a * 2 + 1, hot=0)
    r = f(m)
    e = m * 2 + 1
    assert type(r) is np.ma.MaskedArray
    assert np.array_equal(r.mask, e.mask) and np.array_equal(r.filled(0), e.filled(0))
    assert f.stats()["compiled_calls"] == 0


def test_matrix_falls_back():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        m = np.matrix([[1.0, 2.0], [3.0, 4.0]])
        f = tracejit.jit(lambda a: a * a, hot=0)
        r = f(m)
        assert type(r) is np.matrix and np.array_equal(r, m * m)
    assert f.stats()["compiled_calls"] == 0


def test_user_exception_propagates_with_numpys_message():
    a, b = np.ones(3), np.ones(4)
    with pytest.raises(ValueError) as eager:
        a + b
    f = tracejit.jit(lambda a, b: a + b, hot=0)
    for _ in range(2):
        with pytest.raises(ValueError) as jitted:
            f(a, b)
        assert str(jitted.value) == str(eager.value)


def test_python_exception_propagates():
    def f(a):
        return a + undefined_name  # noqa: F821

    j = tracejit.jit(f, hot=0)
    with pytest.raises(NameError):
        j(np.ones(2))


# ---------------------------------------------------------------------------------------------
# The wrapper


def _documented(a, b):
    """Adds."""
    return a + b


def test_decorator_forms_and_metadata():
    f1 = tracejit.jit(_documented)
    f2 = tracejit.jit(hot=0)(_documented)
    f3 = tracejit.jit(_documented, hot=0)
    for f in (f1, f2, f3):
        assert f.__name__ == "_documented" and f.__doc__ == "Adds."
        assert f.__wrapped__ is _documented
        assert_same(np.arange(3.0) * 2, f(np.arange(3.0), np.arange(3.0)))
    assert f3.stats()["compiled_calls"] == 1 and f1.stats()["compiled_calls"] == 0
    assert tracejit.jit(f3) is f3

    @tracejit.jit
    def g(a):
        return a - 1

    assert g.__name__ == "g"
    g(np.ones(2))
    assert_same(np.zeros(2), g(np.ones(2)))
    assert g.stats()["compiled_calls"] == 1


def test_method_binds_self():
    class M:
        def __init__(self, k):
            self.k = k

        @tracejit.jit(hot=0)
        def f(self, x):
            return x * 2.0

        @tracejit.jit(hot=0)
        def g(self, x):
            return x * self.k

    a = np.arange(3.0)
    m = M(5.0)
    for _ in range(2):
        assert_same(a * 2.0, m.f(a))
        assert_same(a * 5.0, m.g(a))
    assert_same(a * 2.0, M.f(m, a))


def test_keyword_arguments_and_defaults():
    def f(a, b=2.0, c=3):
        return a * b + c

    a = np.arange(4.0)
    j = tracejit.jit(f, hot=0)
    for args, kw in [((a,), {}), ((a,), {"c": 1}), ((a, 1.0, 2), {}), ((), {"b": 0.5, "a": a}),
                     ((a,), {"b": 4.0})]:
        assert_same(f(*args, **kw), j(*args, **kw))
    assert j.stats()["compiled_calls"] == 5
    with pytest.raises(TypeError):
        j(a, d=1)


# ---------------------------------------------------------------------------------------------
# Globals and module attributes

SCALE = 2.0
OFFSET = 1


def _uses_globals(a):
    return a * SCALE + OFFSET


def test_global_rebinding_stays_correct():
    global SCALE, OFFSET
    f = tracejit.jit(_uses_globals, hot=0)
    a = np.arange(4, dtype=np.float32)
    try:
        for scale, offset in [(2.0, 1), (3.5, 1), (3.5, 7), (np.float64(0.5), 7), (2.0, 1)]:
            SCALE, OFFSET = scale, offset
            assert_same(_uses_globals(a), f(a))
            assert_same(_uses_globals(a), f(a))
    finally:
        SCALE, OFFSET = 2.0, 1
    st = f.stats()
    assert st["compiled_calls"] == 10
    assert any("SCALE" in r for r in st["recompile_reasons"]), st["recompile_reasons"]


class _FakeNp:
    @staticmethod
    def exp(x):
        return x + 100.0


def test_np_module_rebinding():
    g = {"np": np}
    exec("def f(a):\n    return np.exp(a) * 2.0\n", g)
    f = tracejit.jit(g["f"], hot=0)
    a = np.arange(3.0)
    assert_same(np.exp(a) * 2.0, f(a), rtol=F64)
    g["np"] = _FakeNp
    assert_same((a + 100.0) * 2.0, f(a))
    g["np"] = np
    assert_same(np.exp(a) * 2.0, f(a), rtol=F64)
    assert f.stats()["compiled_calls"] >= 2


def test_module_attribute_constant():
    run_both(lambda a: a * math.pi + np.pi, np.arange(3.0))


def test_branch_on_python_values():
    def f(a, flag, mode):
        if flag:
            a = a + 1
        if mode == "double":
            return a * 2
        return a

    a = np.arange(3.0)
    j = tracejit.jit(f, hot=0)
    for flag in (True, False):
        for mode in ("double", "same"):
            r = j(a, flag, mode)
            assert_same(f(a, flag, mode), r)
    assert j.stats()["compiled_calls"] == 4


# ---------------------------------------------------------------------------------------------
# BLAS: compiled matmuls call the OpenBLAS NumPy ships (never slower than NumPy's own), and
# matrix-vector shapes go through gemv; every layout and dtype against NumPy.


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("expr", [
    lambda X, v, u: X @ v,            # gemv, no transpose
    lambda X, v, u: X.T @ u,          # gemv on the transposed view
    lambda X, v, u: u @ X,            # row vector times matrix
    lambda X, v, u: v @ X.T,
    lambda X, v, u: (X @ v[:, None]),  # one-column gemm shape
    lambda X, v, u: (u[None, :] @ X),  # one-row gemm shape
    lambda X, v, u: X[::2] @ v,       # a stepped operand (packed or strided lda)
    lambda X, v, u: X.T[:, ::3] @ u[::3],
])
def test_matrix_vector_products_match_numpy(dtype, expr):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((301, 37)).astype(dtype)
    v = rng.standard_normal(37).astype(dtype)
    u = rng.standard_normal(301).astype(dtype)
    f = tracejit.jit(expr, hot=0, sync=True)
    want, got = expr(X, v, u), f(X, v, u)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=2e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-4 if dtype == np.float32 else 1e-10)
    assert f.stats()["compiled_calls"] == 1
    assert tracejit.blas_library().startswith("numpy: "), tracejit.blas_library()
