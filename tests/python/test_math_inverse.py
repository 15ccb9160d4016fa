"""cbrt, tan, arcsin, arccos, arctan, arctan2, arcsinh, arccosh, arctanh, hypot compiled by tracejit
(inline vector code, backends/cpu/vmath.cpp) against NumPy: NaN, infinities and zeros (with their
signs) exactly where NumPy has them, and bounded ulp errors over wide random and edge inputs.

Bounds: ours is <= 1 ulp from exact (float64: measured <= 0.89 against long double in
tests/cpp/backends/test_vmath.cpp and below; float32: the float64 algorithm rounded once, <= 0.5 +
2^-20). NumPy's own loops for these (SVML on AVX-512 machines, else the C library) are documented
at up to 4 ulp, so against NumPy the bound is 1 + 4. Against the exact reference (long double for
float64, float64 for float32) the bound is 1 and 0.501."""
import numpy as np
import pytest

import tracejit

UNARY = {
    "cbrt": np.cbrt, "tan": np.tan, "arcsin": np.arcsin, "arccos": np.arccos, "arctan": np.arctan,
    "arcsinh": np.arcsinh, "arccosh": np.arccosh, "arctanh": np.arctanh,
}
BINARY = {"arctan2": np.arctan2, "hypot": np.hypot}
VS_NUMPY = 5.0
VS_EXACT = {np.float32: 0.501, np.float64: 1.0}
# float32 cbrt, tan, arcsin, arccos, arctan, arctan2, arcsinh, arccosh, arctanh are native
# single-precision kernels, not a double algorithm rounded once: their bounds are the maxima over
# every float32 input (arctan2: 2^28 random pairs) measured by tests/python/float32_exhaustive.py,
# rounded up (tan: below 2^20; above, the double algorithm rounded once, 0.501).
F32_NATIVE = {"cbrt": 0.52, "tan": 0.89, "arcsin": 0.64, "arccos": 0.61, "arctan": 0.67, "arctan2": 0.76,
              "arcsinh": 0.71, "arccosh": 0.67, "arctanh": 0.73}


def exact_bound(name, dt):
    return F32_NATIVE.get(name, VS_EXACT[dt]) if dt == np.float32 else VS_EXACT[dt]
# Where long double has no more precision than double (not x86), the float64 rows compare
# against NumPy only.
HAVE_LD = np.finfo(np.longdouble).nmant > 52


def edges(dt):
    fi = np.finfo(dt)
    one_minus, one_plus = np.nextafter(dt(1), dt(0)), np.nextafter(dt(1), dt(2))
    vals = [0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, fi.tiny, -fi.tiny,
            fi.smallest_subnormal, -fi.smallest_subnormal, 3 * fi.smallest_subnormal, fi.max, -fi.max,
            one_minus, -one_minus, one_plus, -one_plus, 0.975, -0.975, 0.4375, 0.6875, 1.1875, 2.4375,
            2.0 ** 28, 2.0 ** -28, 2.0 ** -27, 2.0 ** 30, 1e22, -1e22, 1e30, 27.0, -8.0, 1e-8, -1e-8, 0.1,
            1.5707963267948966, -1.5707963267948966, 3.141592653589793, 0.6744, 100.0, 1e300, -1e300, 1e-300,
            1e-310, -1e-310]
    with np.errstate(over="ignore"):
        return np.array(vals, dtype=dt)


def unary_inputs(name, dt):
    rng = np.random.default_rng(4321)
    n = 200_000
    fi = np.finfo(dt)
    mag = dt(2.0) ** rng.uniform(fi.minexp - fi.nmant, fi.maxexp, n).astype(dt)
    wide = mag * rng.choice([-1, 1], n).astype(dt)
    near1 = (1 - dt(2.0) ** rng.uniform(-fi.nmant - 1, -1, n).astype(dt)).astype(dt)
    dense = {"cbrt": (-30, 30), "tan": (-50, 50), "arcsin": (-1, 1), "arccos": (-1, 1), "arctan": (-5, 5),
             "arcsinh": (-5, 5), "arccosh": (1, 5), "arctanh": (-1, 1)}[name]
    parts = [edges(dt), wide, rng.uniform(*dense, n).astype(dt)]
    if name in ("arcsin", "arccos", "arctanh"):
        parts += [near1, -near1]
    if name == "arccosh":
        parts.append((2 - near1).astype(dt))
    return np.concatenate(parts)


def binary_inputs(dt):
    fi = np.finfo(dt)
    with np.errstate(over="ignore"):
        sp = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 3.0, -4.0, fi.smallest_subnormal,
                       -fi.smallest_subnormal, fi.tiny, fi.max, -fi.max, 1e-30, 1e30, 0.5], dtype=dt)
    gy, gx = np.meshgrid(sp, sp)
    rng = np.random.default_rng(77)
    n = 200_000
    ex = rng.uniform(fi.minexp - fi.nmant, fi.maxexp, n)
    ey = np.clip(ex + rng.uniform(-60, 60, n), fi.minexp - fi.nmant, fi.maxexp - 1)
    sx, sy = rng.choice([-1, 1], n), rng.choice([-1, 1], n)
    x = (sx * np.exp2(ex)).astype(dt)
    y = (sy * np.exp2(ey)).astype(dt)
    u = rng.uniform(-5, 5, (2, n)).astype(dt)
    return np.concatenate([gy.ravel(), y, u[0]]), np.concatenate([gx.ravel(), x, u[1]])


def ulp_diff(got, want):
    """|got - want| in ulps of `want`'s dtype at `want` (finite, nonzero want)."""
    w = want.astype(np.longdouble)
    # spacing(max) overflows: the top binade's ulp is spacing of its next-lower value.
    fi = np.finfo(want.dtype)
    ulp = np.spacing(np.minimum(np.abs(want), np.nextafter(fi.max, want.dtype.type(0))))
    return (np.abs(got.astype(np.longdouble) - w) / ulp.astype(np.longdouble)).astype(np.float64)


def ulp_vs_exact(got, exact, dt):
    """|got - exact| in ulps of dt at the exact value (long double or float64), for results finite in dt."""
    with np.errstate(over="ignore"):
        r = exact.astype(dt)
    ok = np.isfinite(r) & np.isfinite(got)
    a = np.abs(exact[ok]).astype(np.longdouble)
    fi = np.finfo(dt)
    e = np.frexp(a.astype(np.float64))[1].astype(np.int64) - (fi.nmant + 1)
    e = np.maximum(e, fi.minexp - fi.nmant)
    return (np.abs(got[ok].astype(np.longdouble) - exact[ok].astype(np.longdouble)) /
            np.ldexp(np.longdouble(1), e)).astype(np.float64), ok


def check(name, fn, args, dt):
    with np.errstate(all="ignore"):
        want = fn(*args)
        jitted = tracejit.jit(hot=0)((lambda a: fn(a)) if len(args) == 1 else (lambda a, b: fn(a, b)))
        got = jitted(*args)
        hp = [a.astype(np.longdouble if dt == np.float64 else np.float64) for a in args]
        exact = fn(*hp)
    assert jitted.stats()["compiled_calls"] == 1, f"did not compile: {jitted.stats()['fallback_reasons']}"
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    special = ~np.isnan(want) & (np.isinf(want) | (want == 0))
    np.testing.assert_array_equal(got[special], want[special])
    np.testing.assert_array_equal(np.signbit(got[special]), np.signbit(want[special]))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    finite = np.isfinite(want) & (want != 0)
    d = ulp_diff(got[finite], want[finite])
    w = int(np.argmax(d))
    where = ", ".join(repr(a[finite][w]) for a in args)
    print(f"{name} {np.dtype(dt).name}: max {d[w]:.3f} ulp from NumPy at ({where})")
    assert d[w] <= VS_NUMPY, f"{d[w]} ulp from NumPy at ({where})"
    if dt == np.float64 and not HAVE_LD:
        return
    e, ok = ulp_vs_exact(got, exact, dt)
    w = int(np.argmax(e))
    where = ", ".join(repr(a[ok][w]) for a in args)
    print(f"{name} {np.dtype(dt).name}: max {e[w]:.3f} ulp from the exact result at ({where})")
    assert e[w] <= exact_bound(name, dt), f"{e[w]} ulp from exact at ({where})"


@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_matches_numpy(name, dt):
    check(name, UNARY[name], [unary_inputs(name, dt)], dt)


@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_matches_numpy(name, dt):
    check(name, BINARY[name], list(binary_inputs(dt)), dt)


@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["f32", "f64"])
def test_arctan2_table_and_hypot_infinities(dt):
    """C99 Annex F, spelled out (NumPy follows it): every sign/zero/infinity combination of arctan2
    and hypot's inf-beats-NaN rule."""
    pi = np.pi
    cases = [(0.0, 0.0, 0.0), (-0.0, 0.0, -0.0), (0.0, -0.0, pi), (-0.0, -0.0, -pi), (0.0, -1.0, pi),
             (-0.0, -1.0, -pi), (0.0, 1.0, 0.0), (-0.0, 1.0, -0.0), (-1.0, 0.0, -pi / 2), (-1.0, -0.0, -pi / 2),
             (1.0, 0.0, pi / 2), (1.0, -0.0, pi / 2), (1.0, -np.inf, pi), (-1.0, -np.inf, -pi), (1.0, np.inf, 0.0),
             (-1.0, np.inf, -0.0), (np.inf, 1.0, pi / 2), (-np.inf, 1.0, -pi / 2), (np.inf, -np.inf, 3 * pi / 4),
             (-np.inf, -np.inf, -3 * pi / 4), (np.inf, np.inf, pi / 4), (-np.inf, np.inf, -pi / 4),
             (np.inf, 0.0, pi / 2), (-np.inf, -0.0, -pi / 2), (0.0, np.inf, 0.0), (-0.0, -np.inf, -pi)]
    y, x, want = (np.array(c, dtype=dt) for c in zip(*cases))
    got = tracejit.jit(hot=0)(lambda a, b: np.arctan2(a, b))(y, x)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))
    np.testing.assert_array_equal(got, np.arctan2(y, x))
    a = np.array([np.inf, np.nan, -np.inf, np.nan, np.nan, -0.0, 3.0], dtype=dt)
    b = np.array([np.nan, np.inf, np.nan, -np.inf, 1.0, -0.0, -4.0], dtype=dt)
    got = tracejit.jit(hot=0)(lambda a, b: np.hypot(a, b))(a, b)
    np.testing.assert_array_equal(got, np.array([np.inf] * 4 + [np.nan, 0.0, 5.0], dtype=dt))
    assert not np.signbit(got[5])


@pytest.mark.parametrize("name", sorted(UNARY))
def test_float32_bit_pattern_sweep(name):
    """Every 2039th float32 bit pattern (both signs: zeros, denormals, normals, infinities, NaNs)
    against NumPy's float64 result rounded: within 0.501 ulp, NumPy's float32 classification."""
    fn = UNARY[name]
    x = np.arange(0, 1 << 32, 2039, dtype=np.uint64).astype(np.uint32).view(np.float32)
    with np.errstate(all="ignore"):
        ref = fn(x.astype(np.float64))
        want = fn(x)
        jitted = tracejit.jit(hot=0)(lambda a: fn(a))
        got = jitted(x)
        ref32 = ref.astype(np.float32)
    assert jitted.stats()["compiled_calls"] == 1
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    special = ~np.isnan(want) & (np.isinf(want) | (want == 0))
    np.testing.assert_array_equal(got[special], want[special])
    np.testing.assert_array_equal(np.signbit(got[special]), np.signbit(want[special]))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(ref32))
    e, ok = ulp_vs_exact(got, ref, np.float32)
    w = int(np.argmax(e))
    print(f"{name} f32 sweep: max {e[w]:.4f} ulp from float64 at {x[ok][w]!r}")
    assert e[w] <= exact_bound(name, np.float32)


@pytest.mark.parametrize("name", ["cbrt", "arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh"])
def test_float32_native_edges(name):
    """The native float32 kernels at their domain edges and reduction boundaries, bit for bit where
    the result is special (NaN, +-inf, +-0 with its sign, and the values NumPy rounds exactly:
    arcsin(+-1) = +-pi/2, arccos(1) = +0, arccos(-1) = pi, arctan(+-inf) = +-pi/2, cbrt(27) = 3),
    elsewhere within the stated bound of the float64 result."""
    f = np.float32
    one_minus, one_plus = np.nextafter(f(1), f(0)), np.nextafter(f(1), f(2))
    den = np.finfo(f).smallest_subnormal
    vals = [0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, one_minus, -one_minus, one_plus, -one_plus, 0.5,
            np.nextafter(f(0.5), f(0)), np.nextafter(f(0.5), f(1)), -0.5, den, -den, 3 * den, -7 * den,
            np.finfo(f).tiny, -np.finfo(f).tiny, np.finfo(f).max, -np.finfo(f).max, 27.0, -8.0, 0.125, 1e-30,
            0.41421357, 0.41421354, 2.4142137, 2.4142134, 2.0 ** 64, 2.0 ** -64, 1e38, -1e38, 3.0, 2.0 ** 24,
            # arcsinh/arccosh: the switch to log(x) + ln2 at 2^12; arccosh just above 1 (log of 1 + f)
            2.0 ** 12, np.nextafter(f(2.0 ** 12), f(0)), -2.0 ** 12, 1.0000001, 1.0000002, 1.5, 1.4999999, 2.0 ** 127]
    x = np.array(vals, dtype=f)
    fn = UNARY[name]
    with np.errstate(all="ignore"):
        got = tracejit.jit(hot=0)(lambda a: fn(a))(x)
        ref = fn(x.astype(np.float64))
        want = ref.astype(f)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    exact = ~np.isnan(want) & (np.isinf(want) | (want == 0) | np.isin(np.abs(x), [1, 27, 8, np.inf]))
    np.testing.assert_array_equal(got[exact], want[exact])
    np.testing.assert_array_equal(np.signbit(got[exact]), np.signbit(want[exact]))
    e, ok = ulp_vs_exact(got, ref, f)
    assert e.max() <= exact_bound(name, f), (name, x[ok][np.argmax(e)])
    if name in ("arcsin", "arccos", "arctanh"):  # just outside [-1, 1]: NaN
        assert np.isnan(got[[9, 10]]).all()
    if name == "arctanh":  # arctanh(+-1) = +-inf, arctanh(-0) = -0
        assert got[5] == np.inf and got[6] == -np.inf and np.signbit(got[1]) and got[1] == 0
    if name == "arccosh":  # arccosh(1) = +0, below 1 (and -inf) NaN, +inf gives +inf
        assert got[5] == 0 and not np.signbit(got[5]) and np.isnan(got[[0, 1, 3, 6, 7]]).all() and got[2] == np.inf
    if name == "arcsinh":  # odd, -0 kept, +-inf kept
        assert np.signbit(got[1]) and got[2] == np.inf and got[3] == -np.inf


@pytest.mark.parametrize("name", ["arcsinh", "arccosh", "arctanh"])
def test_float32_inverse_hyperbolic_dense(name):
    """The native float32 arcsinh/arccosh/arctanh around their reduction switches (|x| = 2^-13 from
    x itself to the log, 2^12 to log(2x), arctanh near +-1, arccosh near 1, |x| = 1/2 where the
    series ended before) and over wide
    log-uniform ranges, denormals included: within the exhaustive bound of the float64 result,
    compiled, NumPy's classification exactly."""
    f = np.float32
    rng = np.random.default_rng(7)
    lo = {"arcsinh": -149, "arccosh": 0, "arctanh": -149}[name]
    hi = {"arcsinh": 128, "arccosh": 128, "arctanh": 0}[name]
    mag = np.exp2(rng.uniform(lo, hi, 400_000))
    parts = [mag if name == "arccosh" else mag * np.where(rng.random(mag.size) < 0.5, -1, 1)]
    for a, b in [(0.49, 0.51), (4090.0, 4100.0), (0.999, 1.0), (1.0, 1.001), (1.0, 3.0), (-1.0, -0.999),
                 (1.2e-4, 1.245e-4), (3e38, 3.4e38)]:
        parts.append(rng.uniform(a, b, 100_000))
    x = np.concatenate(parts).astype(f)
    fn = UNARY[name]
    jitted = tracejit.jit(hot=0)(lambda a: fn(a))
    with np.errstate(all="ignore"):
        got = jitted(x)
        ref = fn(x.astype(np.float64))
        want = fn(x)
    assert jitted.stats()["compiled_calls"] == 1
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    special = ~np.isnan(want) & (np.isinf(want) | (want == 0))
    np.testing.assert_array_equal(got[special], want[special])
    np.testing.assert_array_equal(np.signbit(got[special]), np.signbit(want[special]))
    e, ok = ulp_vs_exact(got, ref, f)
    w = int(np.argmax(e))
    assert e[w] <= exact_bound(name, f), (name, x[ok][w], e[w])


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["arcsinh", "arccosh", "arctanh"])
def test_inverse_hyperbolic_raise_no_flags_numpy_does_not(name, dt):
    """arcsinh/arccosh/arctanh (vmath_inv.cpp) on NaN, +-inf, the largest finite values, huge,
    tiny and denormal inputs in their domains: NumPy raises no flag there, so the compiled call
    must not either (a flag would make the runtime drop the result and re-run the call eagerly):
    no re-run, NumPy's values (classification and signs exactly)."""
    fi = np.finfo(dt)
    vals = [np.nan, -np.nan, np.inf, fi.max, fi.max / 2, 2.0 ** (fi.maxexp - 1), 1e30, 2.0 ** 12, 2.0 ** 28, 3.0,
            1.0, 1.5, 0.5, 2.0 ** -13, 2.0 ** -28, fi.tiny, fi.smallest_subnormal, 0.0, -0.0, 0.25]
    if name == "arcsinh":
        vals += [-v for v in vals] + [-np.inf]
    elif name == "arccosh":
        vals = [v for v in vals if np.isnan(v) or v >= 1]
    else:
        vals = [v for v in vals if np.isnan(v) or abs(v) < 1]
        vals += [-v for v in vals]
    x = np.array(vals, dtype=dt)
    fn = UNARY[name]
    jitted = tracejit.jit(lambda a: fn(a), hot=0, sync=True)
    with np.errstate(all="raise", under="ignore"):
        want = fn(x)
        got = jitted(x)
        got2 = jitted(x)
    s = jitted.stats()
    assert s["compiled_calls"] == 2 and s["fp_reruns"] == 0 and not s["fallback_reasons"], s
    for g in (got, got2):
        assert g.dtype == want.dtype
        np.testing.assert_array_equal(np.isnan(g), np.isnan(want))
        special = ~np.isnan(want) & (np.isinf(want) | (want == 0))
        np.testing.assert_array_equal(g[special], want[special])
        np.testing.assert_array_equal(np.signbit(g[special]), np.signbit(want[special]))
        ok = np.isfinite(want)
        np.testing.assert_allclose(g[ok], want[ok], rtol=4 * fi.eps, atol=0)


@pytest.mark.parametrize("name", ["arcsin", "arccos"])
def test_float32_arcsin_arccos_nan_data_stays_compiled(name):
    """float32 arcsin/arccos (vmath_inv.cpp) choose their lanes by integer compares: NaN data
    raises no flag, so the call is not re-run eagerly; values within the exhaustive bound."""
    f = np.float32
    x = np.array([np.nan, -np.nan, 0.25, -0.5, 0.5, 1.0, -1.0, 0.0, -0.0, 0.75, 1e-30,
                  np.finfo(f).smallest_subnormal, -0.9999999], dtype=f)
    fn = UNARY[name]
    jitted = tracejit.jit(lambda a: fn(a), hot=0, sync=True)
    with np.errstate(all="raise", under="ignore"):
        want = fn(x)
        got = jitted(x)
    s = jitted.stats()
    assert s["compiled_calls"] == 1 and s["fp_reruns"] == 0 and not s["fallback_reasons"], s
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    special = ~np.isnan(want) & (want == 0)
    np.testing.assert_array_equal(np.signbit(got[special]), np.signbit(want[special]))
    e, ok = ulp_vs_exact(got, fn(x.astype(np.float64)), f)
    assert e.max() <= exact_bound(name, f)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("name, bad, kind", [("arctanh", 1.0, "divide by zero"), ("arctanh", -1.0, "divide by zero"),
                                             ("arctanh", 1.5, "invalid value"), ("arccosh", 0.5, "invalid value"),
                                             ("arcsin", -2.0, "invalid value"), ("arccos", 1.5, "invalid value")])
def test_domain_edges_raise_numpys_flags(name, bad, kind, dt):
    """arctanh(+-1) (divide by zero) and the domain errors (invalid) under np.errstate(all="raise"):
    the compiled call raises NumPy's FloatingPointError with NumPy's message (the runtime re-runs it
    eagerly on the flag); with the flags ignored the values are NumPy's (+-inf, NaN), compiled."""
    fn = UNARY[name]
    x = np.array([0.25, bad, 0.5], dtype=dt) if name != "arccosh" else np.array([1.5, bad, 2.0], dtype=dt)
    jitted = tracejit.jit(lambda a: fn(a), hot=0, sync=True)
    with np.errstate(all="ignore"):
        got, want = jitted(x), fn(x)
    assert jitted.stats()["compiled_calls"] == 1
    fin = np.isfinite(want)
    np.testing.assert_array_equal(got[~fin], want[~fin])  # NaN, +-inf exactly
    np.testing.assert_allclose(got[fin], want[fin], rtol=4 * np.finfo(dt).eps)
    for f in (fn, jitted):
        with np.errstate(all="raise"), pytest.raises(FloatingPointError, match=kind):
            f(x)
