"""NumPy's floating-point error state (np.errstate / np.seterr) under jit: a compiled call gives
exactly the warnings or FloatingPointError eager NumPy gives. Compiled code's flags are read
after each run; flags NumPy acts on drop the compiled result and re-run the call eagerly
(stats()['fp_reruns']), so messages, categories, order and the user's line are NumPy's own.
Every case is compared with the eager call, and clean calls are asserted to stay compiled."""

import numpy as np
import pytest

import tracejit

from conftest import assert_same, record, eager_sort


def warm(jf, *args):
    """Two clean calls: the second one compiled (asserted)."""
    with np.errstate(all="ignore"):
        jf(*args)
        jf(*args)
    s = jf.stats()
    assert s["compiled_calls"] == 1 and s["fp_reruns"] == 0, s
    assert not s["fallback_reasons"], s["fallback_reasons"]


def compare(fn, clean, bad, reruns=1):
    """jit(fn) warmed on `clean`, then called on `bad`: result, exception and warnings equal the
    eager call's, with `reruns` eager re-runs; a clean call afterwards runs compiled again."""
    jf = tracejit.jit(fn, sync=True)
    warm(jf, *clean)
    eager = record(fn, *bad)
    got = record(jf, *bad)
    assert got[1] == eager[1]
    assert got[2] == eager[2]
    if eager[1] is None:
        assert_same(eager[0], got[0])
    s = jf.stats()
    assert s["fp_reruns"] == reruns, s
    if reruns:
        assert any("[fp-rerun]" in r and "floating-point error flags" in r for r in s["fallback_reasons"])
    before = s["compiled_calls"]
    with np.errstate(all="ignore"):
        jf(*clean)
    assert jf.stats()["compiled_calls"] == before + 1
    return eager


def divide(a, b):
    return a / b + 1


def log_of(a):
    return np.log(a) * 2.0


def exp_of(a):
    return np.exp(a) - 1.0


def log1p_of(a):
    return np.log1p(a) + 0.5


def arctanh_of(a):
    return np.arctanh(a) * 3.0


def recip_power(a):
    return a ** -1.0


def power(a, b):
    return a ** b + 1


def floordiv(a, b):
    return a // b + 1


def remainder(a, b):
    return a % b + 1


def to_int(a):
    return (a * 2.0).astype(np.int64)


def to_int32(a):
    return (a * 2.0).astype(np.int32)


def mul(a, b):
    return a * b


def f64(*vals):
    return np.array(vals, dtype=np.float64)


# (function, clean args, args eager NumPy warns for)
CASES = {
    "divide": (divide, (f64(1, 2, 3, 4, 5), f64(1, 1, 1, 1, 1)), (f64(1, 2, 3, 4, 5), f64(1, 0, 1, 0, 1))),
    "zero_by_zero": (divide, (f64(1, 2, 3), f64(1, 1, 1)), (f64(0, 2, 3), f64(0, 1, 1))),
    "log_zero": (log_of, (f64(1, 2, 3, 4),), (f64(1, 0, 3, 4),)),
    "log_negative": (log_of, (f64(1, 2, 3, 4),), (f64(1, -2, 3, 4),)),
    "log_both": (log_of, (f64(1, 2, 3, 4),), (f64(0, -2, 3, -np.inf),)),
    "log_float32": (log_of, (np.ones(9, np.float32),), (np.array([1, 0, -1, 2, 3, 4, 5, 6, 7], np.float32),)),
    "exp_overflow": (exp_of, (f64(1, 2, 3),), (f64(1, 1000, 3),)),
    "log1p": (log1p_of, (f64(1, 2, 3),), (f64(-1, -2, 3),)),
    "arctanh": (arctanh_of, (f64(0.1, 0.2, 0.3),), (f64(1.0, 2.0, 0.3),)),
    "power": (recip_power, (f64(1, 2, 3),), (f64(1, 0, 3),)),
    # a finite negative base to a finite non-integer power: NaN and "invalid value" (C's pow)
    "negative_base_fractional_power": (power, (f64(2, 3, 4), f64(0.5, 1.5, -2)), (f64(2, -3, -4), f64(0.5, 1.5, -2))),
    "negative_base_fractional_power_f32": (power, (np.float32([2, 3]), np.float32([0.5, 2.5])),
                                           (np.float32([2, -3]), np.float32([0.5, 2.5]))),
    "int_floordiv_by_zero": (floordiv, (np.arange(1, 9), np.full(8, 3)), (np.arange(1, 9), np.array([3, 0, 3, 3, 3, 3, 0, 3]))),
    "int_remainder_by_zero": (remainder, (np.arange(1, 9), np.full(8, 3)), (np.arange(1, 9), np.array([3, 0, 3, 3, 3, 3, 3, 3]))),
    "int_min_floordiv_minus_one": (floordiv, (np.arange(1, 9), np.full(8, 3)),
                                   (np.array([np.iinfo(np.int64).min] + [1] * 7), np.array([-1] * 8))),
    "int8_floordiv": (floordiv, (np.arange(1, 9, dtype=np.int8), np.full(8, 3, np.int8)),
                      (np.array([-128, 1, 2, 3, 4, 5, 6, 7], np.int8), np.array([-1, 0, 1, 1, 1, 1, 1, 1], np.int8))),
    "uint8_floordiv": (floordiv, (np.arange(1, 9, dtype=np.uint8), np.full(8, 3, np.uint8)),
                       (np.arange(1, 9, dtype=np.uint8), np.array([0, 1, 1, 1, 1, 1, 1, 1], np.uint8))),
    "cast_nan_to_int": (to_int, (f64(1, 2, 3),), (f64(1, np.nan, 3),)),
    "cast_huge_to_int": (to_int, (f64(1, 2, 3),), (f64(1, 1e300, 3),)),
    "cast_huge_to_int32": (to_int32, (f64(1, 2, 3),), (f64(1, 3e9, 3),)),
    "multiply_overflow": (mul, (f64(1, 2), f64(1, 2)), (f64(1e200, 2), f64(1e200, 2))),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_default_errstate_warns_as_eager(case):
    fn, clean, bad = CASES[case]
    eager = compare(fn, clean, bad)
    assert eager[2], "eager NumPy warns for this case"
    assert all(c is RuntimeWarning for c, _, _ in eager[2])


@pytest.mark.parametrize("category, fn, clean, bad, message", [
    ("divide", divide, (f64(1, 2), f64(1, 1)), (f64(1, 2), f64(0, 1)), "divide by zero encountered in divide"),
    ("over", exp_of, (f64(1, 2),), (f64(1, 1e3),), "overflow encountered in exp"),
    ("invalid", log_of, (f64(1, 2),), (f64(1, -1),), "invalid value encountered in log"),
    ("divide", floordiv, (np.arange(1, 5), np.full(4, 2)), (np.arange(1, 5), np.array([2, 0, 2, 2])),
     "divide by zero encountered in floor_divide"),
    ("invalid", to_int, (f64(1, 2),), (f64(1, np.nan),), "invalid value encountered in cast"),
    ("invalid", power, (f64(1, 2), f64(0.5, 3)), (f64(1, -2), f64(0.5, 0.5)), "invalid value encountered in power"),
])
@pytest.mark.parametrize("how", ["seterr", "errstate"])
def test_raise_gives_eagers_floating_point_error(category, fn, clean, bad, message, how):
    jf = tracejit.jit(fn, sync=True)
    warm(jf, *clean)
    if how == "seterr":
        old = np.seterr(**{category: "raise"})
        try:
            eager, got = record(fn, *bad), record(jf, *bad)
        finally:
            np.seterr(**old)
    else:
        with np.errstate(**{category: "raise"}):
            eager, got = record(fn, *bad), record(jf, *bad)
    assert eager[1] == (FloatingPointError, message)
    assert got[1] == eager[1]
    assert got[2] == eager[2]
    assert jf.stats()["fp_reruns"] == 1
    # A clean call under the same raising state stays compiled.
    with np.errstate(**{category: "raise"}):
        assert_same(fn(*clean), jf(*clean))
    assert jf.stats()["compiled_calls"] == 2


def test_errstate_ignore_is_silent_and_stays_compiled():
    a, z = f64(1, 2, 3), f64(0, 1, 0)
    jf = tracejit.jit(divide, sync=True)
    warm(jf, a, f64(1, 1, 1))
    with np.errstate(divide="ignore"):
        eager, got = record(divide, a, z), record(jf, a, z)
    assert eager[2] == [] and got[2] == []
    assert_same(eager[0], got[0])
    s = jf.stats()
    assert s["fp_reruns"] == 0 and s["compiled_calls"] == 2, s
    # 0/0 is 'invalid', not ignored there: eager warns, so the compiled call re-runs.
    with np.errstate(divide="ignore"):
        eager, got = record(divide, f64(0.0), f64(0.0)), record(jf, f64(0.0), f64(0.0))
    # (a new shape: this call ran eagerly; the point is the warnings)
    assert eager[2] and got[2] == eager[2]


def test_errstate_context_manager_around_the_call_and_inside_a_caller():
    jf = tracejit.jit(divide, sync=True)
    a, ones, zeros = f64(1, 2), f64(1, 1), f64(0, 0)
    warm(jf, a, ones)

    def caller(x, y):
        with np.errstate(divide="raise"):
            return jf(x, y)

    with pytest.raises(FloatingPointError, match="divide by zero encountered in divide"):
        caller(a, zeros)
    with np.errstate(all="ignore"):
        assert_same(divide(a, zeros), jf(a, zeros))
    # Back to the default: a warning.
    got = record(jf, a, zeros)
    assert [(c, m) for c, m, _ in got[2]] == [(RuntimeWarning, "divide by zero encountered in divide")]


def test_underflow_is_ignored_by_default_and_raises_when_asked():
    a, tiny = f64(1.5, 2.0), f64(1e-200, 1e-300)
    jf = tracejit.jit(mul, sync=True)
    warm(jf, a, a)
    eager, got = record(mul, tiny, tiny), record(jf, tiny, tiny)
    assert eager[2] == [] and got[2] == []
    assert_same(eager[0], got[0])
    assert jf.stats()["fp_reruns"] == 0  # under='ignore': the flag is not acted on
    with np.errstate(under="raise"):
        eager, got = record(mul, tiny, tiny), record(jf, tiny, tiny)
        denormal = record(mul, f64(1e-160, 1.0), f64(1e-160, 1.0)), record(jf, f64(1e-160, 1.0), f64(1e-160, 1.0))
    assert eager[1] == (FloatingPointError, "underflow encountered in multiply") == got[1]
    assert denormal[0][1] == denormal[1][1] == (FloatingPointError, "underflow encountered in multiply")
    with np.errstate(under="warn"):
        eager, got = record(mul, tiny, tiny), record(jf, tiny, tiny)
    assert eager[2] and got[2] == eager[2]


@pytest.mark.parametrize("fn, bad", [
    (lambda a: np.tanh(a) * 2.0, f64(1000.0, -1000.0, 30.0, 1e-300)),
    (lambda a: np.exp(a) + 1.0, f64(-np.inf, np.inf, np.nan, -1000.0)),
    (lambda a: np.sin(a) + np.cos(a), f64(1e300, -1e300, 3.0, 0.0)),
    (lambda a: np.maximum(a, 0.5) + np.minimum(a, 0.5), f64(np.nan, 1.0, np.inf, -np.inf)),
    (lambda a: np.where(a > 1.0, a, -a), f64(np.nan, 2.0, -np.nan, 0.0)),
    (lambda a: (a < 2.0) | (a >= 3.0), f64(np.nan, 2.0, 3.0, np.inf)),
])
def test_internal_flags_never_warn_where_eager_does_not(fn, bad):
    """Compiled math may raise flags eager NumPy does not report (an overflowing intermediate of
    tanh, exp(-inf)): that costs a re-run at most, never a warning eager would not give."""
    jf = tracejit.jit(fn, sync=True)
    warm(jf, f64(0.5, 1.5, 2.5, 3.5))
    eager, got = record(fn, bad), record(jf, bad)
    assert eager[2] == [] and got[2] == []
    assert_same(eager[0], got[0], rtol=1e-14)
    with np.errstate(divide="raise", over="raise", invalid="raise"):
        assert record(jf, bad)[1] is None
    with np.errstate(all="raise"):  # exp(-1000) underflows: NumPy raises that
        assert record(jf, bad)[1] == record(fn, bad)[1]


@pytest.mark.parametrize("fn", [
    lambda a: np.maximum(a, 0.5) + np.minimum(a, 0.5),
    lambda a: np.where(a > 1.0, a, -a),
    lambda a: np.sign(a) + np.isfinite(a),
    lambda a: a.max() + a.min(),
])
def test_nan_data_stays_compiled(fn):
    """NaN compares raise no flag (quiet compares): NaN data does not cost a re-run."""
    jf = tracejit.jit(fn, sync=True)
    x = f64(np.nan, 1.0, 2.0, -3.0, np.inf, 0.0, -0.0, 7.0)
    warm(jf, x)
    eager, got = record(fn, x), record(jf, x)
    assert got[2] == eager[2] == []
    assert_same(eager[0], got[0])
    s = jf.stats()
    assert s["fp_reruns"] == 0 and s["compiled_calls"] == 2, s


def update_in_place(x, y):
    x += 1.0 / y
    return x


@pytest.mark.parametrize("mode", ["raise", "warn"])
def test_in_place_update_of_an_argument(mode):
    jf = tracejit.jit(update_in_place, sync=True)
    warm(jf, f64(1, 2, 3), f64(1, 1, 1))
    xe, xc, y = f64(1, 2, 3), f64(1, 2, 3), f64(1, 0, 1)
    with np.errstate(divide=mode):
        eager, got = record(update_in_place, xe, y), record(jf, xc, y)
    assert got[1] == eager[1] and got[2] == eager[2]
    assert_same(xe, xc)  # raise: untouched, as eagerly; warn: updated once
    if mode == "raise":
        assert np.array_equal(xc, f64(1, 2, 3))
    else:
        assert got[0] is xc
    assert jf.stats()["fp_reruns"] == 1


def prints_then_divides(x, y):
    z = x / y
    print("value", float(z.sum()))
    return z


def test_deferred_effects_run_once(capsys):
    jf = tracejit.jit(prints_then_divides, sync=True)
    warm(jf, f64(1, 2), f64(1, 1))
    capsys.readouterr()
    eager = record(prints_then_divides, f64(1, 2), f64(0, 1))
    out_eager = capsys.readouterr().out
    got = record(jf, f64(1, 2), f64(0, 1))
    out_got = capsys.readouterr().out
    assert out_got == out_eager == "value inf\n"
    assert got[2] == eager[2]
    assert_same(eager[0], got[0])
    with np.errstate(divide="raise"):
        eager, got = record(prints_then_divides, f64(1, 2), f64(0, 1)), record(jf, f64(1, 2), f64(0, 1))
    assert got[1] == eager[1] == (FloatingPointError, "divide by zero encountered in divide")
    assert capsys.readouterr().out == ""
    assert jf.stats()["fp_reruns"] == 2


def loop_region(x, y):
    for i in range(12):
        x = x / y + 1.0
    return x


def test_loop_region():
    jf = tracejit.jit(loop_region, sync=True)
    warm(jf, f64(1, 2, 3), f64(2, 2, 2))
    assert jf.cache_info()[0]["loops"]["regions"] == 1
    eager = compare(loop_region, (f64(1, 2, 3), f64(2, 2, 2)), (f64(1, 2, 3), f64(2, 0, 2)))
    assert len(eager[2]) == 1  # the first iteration only: inf / 0 raises nothing
    with np.errstate(divide="raise"):
        e, g = record(loop_region, f64(1, 2, 3), f64(2, 0, 2)), record(jf, f64(1, 2, 3), f64(2, 0, 2))
    assert g[1] == e[1] == (FloatingPointError, "divide by zero encountered in divide")


def loop_with_effects(x, y, out):
    for i in range(10):
        x = x / y
        out.append(float(x[0]))
    return x


def test_loop_with_effects_recorded_or_before_the_first_one():
    # The flags are raised before the loop's first effect: nothing was performed, so the call
    # re-runs eagerly (warn), and under 'raise' the effects are recorded, never performed live.
    jf = tracejit.jit(loop_with_effects, sync=True)
    warm(jf, f64(1, 2), f64(1, 1), [])
    out_e, out_c = [], []
    eager = record(loop_with_effects, f64(1, 2), f64(1, 0), out_e)
    got = record(jf, f64(1, 2), f64(1, 0), out_c)
    assert got[2] == eager[2] and len(eager[2]) == 1
    assert_same(eager[0], got[0])
    assert out_c == out_e and len(out_e) == 10
    out_e, out_c = [], []
    with np.errstate(divide="raise"):
        eager = record(loop_with_effects, f64(1, 2), f64(1, 0), out_e)
        got = record(jf, f64(1, 2), f64(1, 0), out_c)
    assert got[1] == eager[1] == (FloatingPointError, "divide by zero encountered in divide")
    assert out_c == out_e == []
    assert jf.stats()["fp_reruns"] == 2


def test_loop_with_effects_flags_after_an_effect_was_performed():
    # Flags first raised in a later iteration, after live effects were performed: the call
    # cannot re-run. Under 'warn' tracejit warns itself (this message differs from NumPy's,
    # which names the ufunc and comes once per iteration); under 'raise' the effects are
    # recorded instead of performed live, so the call re-runs eagerly and raises as NumPy.
    jf = tracejit.jit(loop_with_effects, sync=True)
    warm(jf, f64(1, 2), f64(1, 1), [])
    x, y = f64(1e285, 1.0), f64(1e-10, 1.0)  # overflows in the third iteration
    out_e, out_c = [], []
    eager = record(loop_with_effects, x, y, out_e)
    got = record(jf, x, y, out_c)
    assert eager[2] and all(m == "overflow encountered in divide" for _, m, _ in eager[2])
    assert out_c == out_e
    assert_same(eager[0], got[0])
    assert [c for c, _, _ in got[2]] == [RuntimeWarning]
    assert got[2][0][1].startswith("overflow encountered in compiled code (")
    out_e, out_c = [], []
    with np.errstate(over="raise"):
        eager = record(loop_with_effects, x, y, out_e)
        got = record(jf, x, y, out_c)
    assert got[1] == eager[1] == (FloatingPointError, "overflow encountered in divide")
    assert out_c == out_e and len(out_e) == 2


def break_then_divide(x, y):
    z = x * 2.0
    s = eager_sort(z)  # a graph break: the rest is a continuation
    return s / y + z


def test_continuation_reruns_its_own_part():
    jf = tracejit.jit(break_then_divide, sync=True)
    x, ones = f64(3, 1, 2), f64(1, 1, 1)
    with np.errstate(all="ignore"):
        for _ in range(4):
            jf(x, ones)
    s0 = jf.stats()
    assert s0["continuation_calls"] >= 1 and s0["fp_reruns"] == 0, s0
    eager, got = record(break_then_divide, x, f64(1, 0, 1)), record(jf, x, f64(1, 0, 1))
    assert got[2] == eager[2] and eager[2]
    assert_same(eager[0], got[0])
    s = jf.stats()
    assert s["fp_reruns"] == 1
    assert any("continuation at" in r and "[fp-rerun]" in r for r in s["fallback_reasons"]), s["fallback_reasons"]


def test_a_version_that_keeps_raising_runs_eagerly_and_stays_exact():
    jf = tracejit.jit(divide, sync=True)
    a, z = f64(1, 2), f64(0, 1)
    warm(jf, a, f64(1, 1))
    for _ in range(20):
        eager, got = record(divide, a, z), record(jf, a, z)
        assert got[2] == eager[2] and eager[2]
    s = jf.stats()
    assert 8 <= s["fp_reruns"] < 20, s  # past the streak the call goes eagerly directly
    with np.errstate(all="ignore"):
        jf(a, f64(1, 1))  # clean data: compiled code is tried again later, results stay exact
        assert_same(divide(a, f64(1, 1)), jf(a, f64(1, 1)))


def test_dead_division_under_raise_runs_eagerly():
    def dead(a, b):
        t = a / b  # noqa: F841  (dead: the compiled code does not compute it)
        return a + 1.0

    jf = tracejit.jit(dead, sync=True)
    warm(jf, f64(1, 2), f64(1, 1))
    with np.errstate(divide="raise"):
        eager, got = record(dead, f64(1, 2), f64(0, 1)), record(jf, f64(1, 2), f64(0, 1))
    assert got[1] == eager[1] == (FloatingPointError, "divide by zero encountered in divide")
    assert any("[fp-errstate]" in r for r in jf.stats()["fallback_reasons"])


def test_large_arrays_split_across_threads():
    n = 1 << 20
    a = np.linspace(1.0, 2.0, n)
    y = np.ones(n)
    jf = tracejit.jit(divide, sync=True)
    warm(jf, a, y)
    for where in (0, n // 2, n - 1):
        z = y.copy()
        z[where] = 0.0
        eager, got = record(divide, a, z), record(jf, a, z)
        assert got[2] == eager[2] and eager[2]
        assert_same(eager[0], got[0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_short_arrays_raise_no_flags_of_their_own(dtype):
    """Short static loops vectorize into partial vectors (<2 x float>, <3 x double>) that x86
    widens with zero lanes, and into masked tails whose masked-off lanes are undefined: 0/0 or
    0 * inf in such a lane raised "invalid" and re-ran every call on 2, 3, 6, 7, 15 elements
    eagerly. Clean data must run compiled with no re-run, at every length."""
    fns = [lambda x: x / x, lambda x: x * np.inf, lambda x: (x / x).astype(np.int32),
           lambda x: 1 / (x[1:] - x[:-1]), lambda x: np.sqrt(x - 1) / (x - 1)]
    for fn in fns:
        for n in range(1, 41):
            x = np.arange(2, n + 2, dtype=dtype)
            jf = tracejit.jit(fn, sync=True, hot=0)
            with np.errstate(all="raise"):
                want = fn(x)
                assert_same(want, jf(x))
                assert_same(want, jf(x))
            s = jf.stats()
            assert s["fp_reruns"] == 0 and s["compiled_calls"] == 2, (n, s)


def test_python_float_beyond_float32_warns_once_per_call():
    """x * 1e300 on float32: NumPy converts 1e300 (a weak Python float) to float32 and warns
    "overflow encountered in cast" once. The trace-time probe of the ufunc used to warn as well
    (two warnings on the first call)."""
    def f(x):
        return x * 1e300

    jf = tracejit.jit(f, sync=True, hot=0)
    x = np.float32([1, 2])
    for _ in range(3):
        want, got = record(f, x), record(jf, x)
        assert got[1:] == want[1:] and [m for _, m, _ in want[2]] == ["overflow encountered in cast"]
        assert_same(want[0], got[0])
    with np.errstate(over="ignore"):  # nothing to warn about: compiled
        g = tracejit.jit(f, sync=True, hot=0)
        assert_same(f(x), g(x))
    assert g.stats()["compiled_calls"] == 1


@pytest.mark.parametrize("expr", ["np.reciprocal(0.5 ** n)", "np.float64(1e300) * np.float64(10.0) ** n",
                                  "np.float32(3.0) ** n", "np.sqrt(np.float64(-n))", "np.int8(100) * np.int8(n)"])
def test_constants_that_warn_warn_on_every_call(expr):
    """An operation on constants (n is value-guarded) is computed at trace time; when NumPy
    warns on it (divide by zero, overflow, invalid), folding it would warn only while tracing.
    Such an operation runs eagerly instead: every call warns, as NumPy does; under 'raise' every
    call raises; with the error ignored it is folded and the call compiles."""
    f = eval(f"lambda x, n: x + 0 * ({expr})", {"np": np})
    x = np.arange(3.0)
    n = 2000 if "0.5" in expr else 1000 if "**" in expr else 2
    for mode in ("warn", "raise"):
        jf = tracejit.jit(f, sync=True, hot=0)
        with np.errstate(all=mode, under="ignore"):
            for _ in range(3):
                want, got = record(f, x, n), record(jf, x, n)
                assert want[1:] == got[1:] and (want[2] or want[1]), (mode, want, got)
                if want[1] is None:
                    assert_same(want[0], got[0])
    with np.errstate(all="ignore"):
        jf = tracejit.jit(f, sync=True, hot=0)
        for _ in range(2):
            assert_same(f(x, n), jf(x, n))
    s = jf.stats()
    assert s["compiled_calls"] == 2 and not s["graph_break_reasons"] and not s["fallback_reasons"], s


NOTED = [  # ops whose NumPy flags the compiled code raises from the special-case selects
    ("np.log1p(x - 2.0)", np.array([1.0, 0.5, 3.0, -4.0])),
    ("np.arctanh(x - 2.0)", np.array([3.0, 1.0, 2.5, 0.0])),
    ("np.arccosh(x)", np.array([0.5, 1.0, 2.0, 3.0])),
    ("np.log2(x - 1.0)", np.array([1.0, 0.5, 3.0, 2.0])),
    ("x ** -1.0", np.array([0.0, 1.0, 2.0, 4.0])),
    ("(x * 10).astype(np.int32) // (x > 1).astype(np.int32)", np.array([0.5, 1.5, 2.0, 0.1])),
]


@pytest.mark.parametrize("expr,x", NOTED, ids=[e for e, _ in NOTED])
@pytest.mark.parametrize("around", ["alone", "concat", "reduce", "matmul"])
def test_noted_flags_in_every_kernel_shape(expr, x, around):
    """The flags NumPy's loops raise where the compiled code computes the special value with a
    select (log1p(-1), arctanh(1), arccosh(x < 1), 0 ** -1, integer // 0) are raised whichever
    way the kernel is scheduled: a plain elementwise kernel, or next to a concatenation, a
    reduction or a matmul (the scheduled path used to lose them for log1p, arctanh, arccosh)."""
    body = {"alone": "{e}", "concat": "np.concatenate([x, x]), {e}", "reduce": "x.sum(), {e}",
            "matmul": "x[:, None] @ x[None, :], {e}"}[around].format(e=expr)  # (x @ x of vectors is a reduction)
    fn = eval(f"lambda x: ({body},)", {"np": np})
    clean = np.full_like(x, 5.0)
    for mode in ("warn", "raise"):
        jf = tracejit.jit(fn, sync=True, hot=0)
        with np.errstate(all="ignore"):
            jf(clean)
        with np.errstate(all=mode):
            want, got = record(fn, x), record(jf, x)
        assert want[1:] == got[1:] and (want[1] or want[2]), (mode, want[1:], got[1:])
        if want[1] is None:
            for a, b in zip(want[0], got[0]):
                assert_same(a, b)
        assert jf.stats()["fp_reruns"] == 1, jf.stats()


@pytest.mark.parametrize("name", ["log", "log2", "log10"])
def test_float32_log_special_lanes_raise_no_flags(name):
    """The float32 log kernels take +-0, +inf, NaN and denormals through vgetexpps/vgetmantps and
    the arithmetic after them (backends/cpu/vmath32_log.cpp): such data must run compiled with no
    re-run and NumPy's special values, at every length (full vectors, partial ones, the scalar
    remainder); zeros and negatives warn as eager does, after exactly one re-run."""
    fn = getattr(np, name)
    pool = np.array([np.nan, np.inf, 1e-45, 3e-39, 1.17e-38, 0.75, 1.5, 1.0, 3.4e38, 2.0, 10.0, -np.nan, 0.999,
                     7.0, 1e-20], dtype=np.float32)
    for n in (1, 2, 3, 7, 15, 16, 17, 31, 33, 64, 100):
        x = np.resize(pool, n)
        jf = tracejit.jit(lambda a: fn(a), sync=True, hot=0)
        with np.errstate(all="raise"):
            want = fn(x)
            got = jf(x)
            jf(x)
        s = jf.stats()
        assert s["fp_reruns"] == 0 and s["compiled_calls"] == 2, (n, s)
        assert got.dtype == np.float32
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        special = ~np.isnan(want) & (np.isinf(want) | (want == 0))
        np.testing.assert_array_equal(got[special], want[special])
        np.testing.assert_allclose(got[~special], want[~special], rtol=4e-7, atol=0)
    bad = np.array([1, 0, -1, 2, -0.0, 4, -np.inf, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, -2], np.float32)
    eager = compare(lambda a: fn(a) + np.float32(1), (np.resize(pool[1:], 19),), (bad,))
    assert eager[2], "eager NumPy warns for zeros and negatives"
