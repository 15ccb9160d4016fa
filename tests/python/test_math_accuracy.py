"""exp, log, tanh, sin, cos compiled by tracejit (inline vector polynomials, backends/cpu/vmath.cpp)
against NumPy's own results: the same NaN/inf/zero classification with signs, and a bounded ulp
difference over wide random and edge inputs."""
import numpy as np
import pytest

import tracejit

FUNCS = {
    "exp": lambda x: np.exp(x),
    "log": lambda x: np.log(x),
    "tanh": lambda x: np.tanh(x),
    "sin": lambda x: np.sin(x),
    "cos": lambda x: np.cos(x),
    "expm1": lambda x: np.expm1(x),
    "log1p": lambda x: np.log1p(x),
    "exp2": lambda x: np.exp2(x),
    "log2": lambda x: np.log2(x),
    "log10": lambda x: np.log10(x),
    "sinh": lambda x: np.sinh(x),
    "cosh": lambda x: np.cosh(x),
}

# Max ulp difference from NumPy: ours is <= 1 ulp from exact (float32 exp/log/tanh: 0.76/0.89/
# 0.85, sin/cos 0.75), NumPy's own SIMD loops are documented up to ~2.5 (exp) and ~3.8 (log) ulp
# for float32; the bounds add both (measured on this machine: float32 exp 2, log 3, tanh 1).
# expm1, log1p, exp2, log2, log10 (double-double based, <= 0.5x ulp; float32 through float64)
# against NumPy's libm/SIMD loops (<= 1-4 ulp): bound 2 for float64 and 4 for float32.
BOUND = {
    np.float32: {"exp": 3.0, "log": 4.0, "tanh": 3.0, "sin": 2.0, "cos": 2.0,
                 "expm1": 4.0, "log1p": 4.0, "exp2": 4.0, "log2": 4.0, "log10": 4.0,
                 "sinh": 4.0, "cosh": 4.0},
    np.float64: {"exp": 2.0, "log": 2.0, "tanh": 2.0, "sin": 2.0, "cos": 2.0,
                 "expm1": 2.0, "log1p": 2.0, "exp2": 2.0, "log2": 2.0, "log10": 2.0,
                 "sinh": 2.0, "cosh": 2.0},
}


def edges(dt):
    fi = np.finfo(dt)
    vals = [0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 0.5, 2.0, fi.tiny, -fi.tiny,
            fi.smallest_subnormal, -fi.smallest_subnormal, fi.max, -fi.max, 1e22, -1e22, 1e30,
            88.72, 88.73, -87.33, -103.9, -104.0, 709.78, 709.79, -708.4, -745.1, -745.2,
            9.0, 9.1, 19.0, 19.1, 22.0, 1e-8, -1e-8, 3.1415927, 1.5707964, 1e5, 1e9, 2.0**30,
            -0.5, -0.999999, -1.0000001, -2.0, 1e-300, -1e-300, 127.9, 128.0, -149.0, -150.0, -126.0,
            1023.9, 1024.0, -1074.0, -1075.0, 1000.0, 1e-30, 0.1, 10.0, 100.0]
    with np.errstate(over="ignore"):
        return np.array(vals, dtype=dt)


def inputs(name, dt):
    rng = np.random.default_rng(1234)
    n = 200_000
    mag = dt(2.0) ** rng.uniform(np.finfo(dt).minexp - np.finfo(dt).nmant, np.finfo(dt).maxexp, n).astype(dt)
    wide = mag * rng.choice([-1, 1], n).astype(dt)
    hi = 88.0 if dt == np.float32 else 709.0
    e2 = (-150.0, 128.0) if dt == np.float32 else (-1075.0, 1024.0)
    ranges = {"exp": (-hi - 16, hi), "log": (0, 4), "tanh": (-12, 12), "sin": (-50, 50), "cos": (-50, 50),
              "expm1": (-40, hi), "log1p": (-1, 4), "exp2": e2, "log2": (0, 4), "log10": (0, 4),
              "sinh": (-hi - 2, hi + 2), "cosh": (-hi - 2, hi + 2)}
    lo, up = ranges[name]
    dense = rng.uniform(lo, up, n).astype(dt)
    return np.concatenate([edges(dt), wide, dense, -dense])


def numpy_reference(name, x):
    """NumPy's result, except where NumPy's float32 exp2 is wrong: in the denormal range (x < -126)
    it is off by up to 32 units of the smallest denormal and gives 0 for x in (-150, -149.5], where
    2^x rounds to 2^-149; there the float64 result rounded once stands in."""
    want = FUNCS[name](x)
    if name == "exp2" and x.dtype == np.float32:
        sub = x < -126
        want[sub] = np.exp2(x[sub].astype(np.float64)).astype(np.float32)
    return want


def ulp_diff(got, want):
    """|got - want| in ulps of `want`'s dtype at `want`, for finite values."""
    dt = want.dtype
    w = want.astype(np.float64) if dt == np.float32 else want.astype(np.longdouble)
    g = got.astype(w.dtype)
    return np.abs(g - w) / np.spacing(np.abs(want)).astype(w.dtype)


@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", sorted(FUNCS))
def test_matches_numpy(name, dt):
    fn = FUNCS[name]
    x = inputs(name, dt)
    with np.errstate(all="ignore"):
        want = numpy_reference(name, x)
        jitted = tracejit.jit(hot=0)(fn)
        got = jitted(x)
    assert jitted.stats()["compiled_calls"] == 1, "did not compile"
    assert got.dtype == want.dtype and got.shape == want.shape
    # Classification: NaN where NumPy has NaN, infinities and zeros with NumPy's sign.
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    special = ~np.isnan(want) & (np.isinf(want) | (want == 0))
    np.testing.assert_array_equal(got[special], want[special])
    np.testing.assert_array_equal(np.signbit(got[special]), np.signbit(want[special]))
    assert not np.any(np.isinf(got) & ~np.isinf(want))
    finite = np.isfinite(want) & (want != 0)
    d = ulp_diff(got[finite], want[finite])
    worst = int(np.argmax(d))
    print(f"{name} {np.dtype(dt).name}: max {d[worst]:.3f} ulp from NumPy at x={x[finite][worst]!r}")
    assert d[worst] <= BOUND[dt][name], f"{d[worst]} ulp at x={x[finite][worst]!r}"


@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["f32", "f64"])
def test_fused_expression(dt):
    """The benchmark expression: tanh inside a fused elementwise kernel, never contracting a*b+c."""
    rng = np.random.default_rng(7)
    a, b, c, d = (rng.standard_normal(100_003).astype(dt) for _ in range(4))
    fn = lambda a, b, c, d: np.tanh(a * b + c) * 0.5 + d
    want = fn(a, b, c, d)
    got = tracejit.jit(hot=0)(fn)(a, b, c, d)
    # tanh is within an ulp or so of NumPy's; the rest is exactly rounded like NumPy's.
    np.testing.assert_allclose(got, want, rtol=4 * np.finfo(dt).eps, atol=4 * np.finfo(dt).eps)


# ---- float32 exp, log, tanh: native single-precision code (backends/cpu/vmath.cpp). ----

# Max error in float32 ulps against a float64 reference (NumPy's float64 result, itself within
# ~1e-9 float32 ulps of exact). Measured over every float32 input of each function's non-trivial
# domain (exp: [-104, 89], both signs; log: all positive floats; tanh: every float32): exp 0.759
# (normal results 0.660; denormal results round twice), log 0.750 (the getmant table kernel of
# backends/cpu/vmath32_log.cpp), tanh 0.694 (vmath32_hyp.cpp). This test checks
# every 2039th float32 bit pattern (both signs: zeros, denormals, normals, infinities, NaNs) plus
# dense samples near each function's edges against bounds just above those exhaustive maxima.
F32_BOUND_VS_F64 = {"exp": 0.76, "log": 0.76, "tanh": 0.70}


def f32_sweep(name):
    bits = np.arange(0, 1 << 32, 2039, dtype=np.uint64).astype(np.uint32)
    x = bits.view(np.float32)
    rng = np.random.default_rng(99)
    dense = {
        # overflow threshold ln(FLT_MAX) = 88.7228..., denormal range, underflow to 0 near -103.97
        "exp": [(88.0, 89.0), (-104.5, -87.0), (-1.0, 1.0), (-1e-6, 1e-6)],
        # around 1 (cancellation), sqrt(2)/2..sqrt(2) (the reduction's switch), denormals
        "log": [(0.99, 1.01), (0.70, 1.42), (0.0, 1.2e-38), (1e30, 3.4e38), (0.74, 0.76), (1.45, 1.55)],
        # small |x|, the wide intervals of the table (half binades: [2, 3), [4, 6)), saturation to
        # +-1 near 9
        "tanh": [(-1e-3, 1e-3), (-1.0, 1.0), (2.0, 3.0), (-6.0, -4.0), (8.0, 10.0), (-10.0, -8.0)],
    }[name]
    parts = [x, edges(np.float32)]
    for lo, hi in dense:
        parts.append(rng.uniform(lo, hi, 200_000).astype(np.float32))
    with np.errstate(over="ignore"):
        nb = np.nextafter(np.float32([88.72283, 88.72284, -103.97207, -103.97208, -87.33654, 9.01, 1.0, 0.7, -0.7, 9.1]),
                          np.float32(np.inf))
    parts.append(nb)
    return np.concatenate(parts)


def ulp32_vs_f64(got, ref):
    """|got - ref| in float32 ulps at the (float64) reference value."""
    a = np.abs(ref)
    e = np.frexp(a)[1].astype(np.int64) - 24  # ulp exponent of a float32 with a's binade
    e = np.maximum(e, -149)
    return np.abs(got.astype(np.float64) - ref) / np.ldexp(1.0, e)


@pytest.mark.parametrize("name", ["exp", "log", "tanh"])
def test_float32_native_against_float64(name):
    fn = FUNCS[name]
    x = f32_sweep(name)
    with np.errstate(all="ignore"):
        ref = fn(x.astype(np.float64))
        want = fn(x)
        jitted = tracejit.jit(hot=0)(fn)
        got = jitted(x)
    assert jitted.stats()["compiled_calls"] == 1, "did not compile"
    assert got.dtype == np.float32 and got.shape == x.shape
    # NumPy's classification, exactly: NaN where NumPy has NaN, the same infinities and zeros
    # (with sign), finite where NumPy is finite.
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    special = ~np.isnan(want) & (np.isinf(want) | (want == 0))
    np.testing.assert_array_equal(got[special], want[special])
    np.testing.assert_array_equal(np.signbit(got[special]), np.signbit(want[special]))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    # Against float64: the float32 result is the reference rounded within the bound. Where the
    # reference rounds to an infinity or zero in float32, the classification above decided.
    with np.errstate(over="ignore"):
        ref32 = ref.astype(np.float32)
    finite = np.isfinite(ref32) & np.isfinite(got) & ~np.isnan(ref)
    d = ulp32_vs_f64(got[finite], ref[finite])
    worst = int(np.argmax(d))
    print(f"{name} f32 native: max {d[worst]:.3f} ulp from float64 at x={x[finite][worst]!r}")
    assert d[worst] <= F32_BOUND_VS_F64[name], f"{d[worst]} ulp at x={x[finite][worst]!r}"
    # Exact cases.
    if name == "exp":
        assert got[x == 0].tolist() == [1.0] * int(np.sum(x == 0))
    if name == "log":
        assert got[x == 1].tolist() == [0.0] * int(np.sum(x == 1))


# ---- power: x ** y (backends/cpu/vmath.cpp emit_vpow). ----
# Ours: float64 e^(y log|x|) with log|x| and the product in double-double, max 0.5x ulp against
# long double (tests/cpp/backends/test_vmath.cpp PowAccuracy: 0.51 measured, bound 1); float32
# (backends/cpu/vmath32_pow.cpp): a double log2/exp2 core on 16-entry tables, rounded once, within
# 0.5 + 2^-5.6 ulp (0.520 measured on 100M pairs; the special lanes' kernel 0.504). NumPy's float64 power is
# libm's pow (< 1 ulp); its float32 loop may be SVML (documented 1 ulp and less), so the bound
# against NumPy is ours + NumPy's: 2 ulp for both.
POW_BOUND_VS_NUMPY = {np.float32: 2.0, np.float64: 2.0}
POW_BOUND_VS_EXACT = {np.float32: 0.55, np.float64: 1.0}

POW_SPECIALS = [0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5, 3.0, -3.0, 1.5, -1.5,
                0.25, 1e-30, 1e30, 100.0, -100.0, 1024.0, -1075.0, 0.1, 1.0000001, 0.9999999, 2.0 ** 53 + 2,
                2.0 ** 24 + 1, 5e-324, -5e-324, 1e-45, -1e-45, 3.4e38, -3.4e38, 1.7e308, -1.7e308]


def pow_pairs(dt):
    with np.errstate(over="ignore"):
        sp = np.array(POW_SPECIALS, dtype=dt)
    gx, gy = np.meshgrid(sp, sp)
    rng = np.random.default_rng(2024)
    n = 300_000
    fi = np.finfo(dt)
    # log2|x| over the whole range, y such that |y log2 x| spans past overflow/underflow
    lx = rng.uniform(fi.minexp - fi.nmant, fi.maxexp, n)
    x = np.exp2(lx).astype(dt)
    with np.errstate(all="ignore"):
        y = (rng.uniform(-1.1, 1.1, n) * (fi.maxexp + fi.nmant) / np.log2(x.astype(np.float64))).astype(dt)
    # x near 1 with large exponents; negative bases with integer and non-integer exponents
    x1 = (1 + rng.uniform(-1e-3, 1e-3, n)).astype(dt)
    y1 = rng.uniform(-2e5, 2e5, n).astype(dt)
    xn = -np.exp2(rng.uniform(-40, 40, n)).astype(dt)
    yn = np.where(rng.random(n) < 0.8, np.rint(rng.uniform(-30, 30, n)), rng.uniform(-30, 30, n)).astype(dt)
    xs = np.concatenate([gx.ravel(), x, x1, xn])
    ys = np.concatenate([gy.ravel(), y, y1, yn])
    return xs, ys


def check_classification(got, want):
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    special = ~np.isnan(want) & (np.isinf(want) | (want == 0) | (want == 1))
    np.testing.assert_array_equal(got[special], want[special])
    np.testing.assert_array_equal(np.signbit(got[special]), np.signbit(want[special]))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))


@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["f32", "f64"])
def test_power_arrays(dt):
    xs, ys = pow_pairs(dt)
    fn = lambda x, y: x ** y
    with np.errstate(all="ignore"):
        want = fn(xs, ys)
        jitted = tracejit.jit(hot=0)(fn)
        got = jitted(xs, ys)
        if dt == np.float64:
            ref = np.power(xs.astype(np.longdouble), ys.astype(np.longdouble))
        else:
            ref = np.power(xs.astype(np.float64), ys.astype(np.float64))
    assert jitted.stats()["compiled_calls"] == 1, "did not compile"
    assert got.dtype == dt
    check_classification(got, want)
    finite = np.isfinite(want) & (want != 0)
    d = ulp_diff(got[finite], want[finite])
    w = int(np.argmax(d))
    print(f"power {np.dtype(dt).name}: max {d[w]:.3f} ulp from NumPy at x={xs[finite][w]!r} y={ys[finite][w]!r}")
    assert d[w] <= POW_BOUND_VS_NUMPY[dt]
    # Against the higher-precision reference (long double / float64), where it is finite in dt.
    with np.errstate(over="ignore"):
        ref_dt = ref.astype(dt)
    fin = np.isfinite(ref_dt) & np.isfinite(got)
    if dt == np.float64:
        e = np.abs(got[fin].astype(np.longdouble) - ref[fin]) / np.spacing(np.abs(ref_dt[fin])).astype(np.longdouble)
        e = e.astype(np.float64)
    else:
        e = ulp32_vs_f64(got[fin], ref[fin])
    w = int(np.argmax(e))
    print(f"power {np.dtype(dt).name}: max {e[w]:.3f} ulp from the reference at x={xs[fin][w]!r} y={ys[fin][w]!r}")
    assert e[w] <= POW_BOUND_VS_EXACT[dt]


@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("c", [-1.5, 1.5, -0.5, 3.0, -1.0, 3, -2, 0.75, 1.0 / 3])
def test_power_scalar_exponent(dt, c):
    """A constant exponent (the n-body `** -1.5`): same classification as NumPy, within bound."""
    rng = np.random.default_rng(5)
    x = np.concatenate([np.array(POW_SPECIALS), np.exp2(rng.uniform(-100, 100, 100_000)),
                        rng.uniform(-10, 10, 100_000)])
    with np.errstate(all="ignore"):
        x = x.astype(dt)
        fn = lambda a: a ** c
        want = fn(x)
        jitted = tracejit.jit(hot=0)(fn)
        got = jitted(x)
    assert jitted.stats()["compiled_calls"] == 1, "did not compile"
    assert got.dtype == want.dtype
    check_classification(got, want)
    finite = np.isfinite(want) & (want != 0)
    d = ulp_diff(got[finite], want[finite])
    assert d.max() <= POW_BOUND_VS_NUMPY[dt], f"{d.max()} ulp at x={x[finite][int(np.argmax(d))]!r}"


def test_power_f32_special_lanes_among_ordinary():
    """float32 pow runs its special cases (x <= 0, denormal, inf, NaN; y inf, NaN) out of line,
    only for vectors holding such a lane (backends/cpu/vmath32_pow.cpp): special values
    sprinkled into ordinary data get NumPy's class (sign included) and leave their ordinary
    neighbours' results exactly what they are without them."""
    rng = np.random.default_rng(9)
    n = 100_003
    x = rng.uniform(0.1, 10, n).astype(np.float32)
    y = rng.uniform(-10, 10, n).astype(np.float32)
    sx = np.array([0.0, -0.0, -2.0, -2.0, -1.0, 1.0, np.nan, np.inf, -np.inf, 2.0, 0.5, 1e-45, 1e-40, -3.0],
                  np.float32)
    sy = np.array([2.5, -3.0, 3.0, 0.5, np.inf, np.nan, 0.0, -1.5, 3.0, np.inf, -np.inf, 0.5, -2.0, -2.0],
                  np.float32)
    pos = rng.choice(n, 3000, replace=False)
    xm, ym = x.copy(), y.copy()
    xm[pos] = sx[np.arange(pos.size) % sx.size]
    ym[pos] = sy[np.arange(pos.size) % sy.size]
    fn = lambda a, b: a ** b
    jitted = tracejit.jit(hot=0, sync=True)(fn)
    with np.errstate(all="ignore"):
        plain = jitted(x, y)
        got = jitted(xm, ym)
        want = fn(xm, ym)
    assert jitted.stats()["compiled_calls"] == 2 and jitted.stats()["fallback_calls"] == 0, jitted.stats()
    assert got.dtype == np.float32
    check_classification(got, want)
    ordinary = np.ones(n, bool)
    ordinary[pos] = False
    np.testing.assert_array_equal(got[ordinary], plain[ordinary])
    finite = np.isfinite(want) & (want != 0)
    assert ulp_diff(got[finite], want[finite]).max() <= POW_BOUND_VS_NUMPY[np.float32]


@pytest.mark.parametrize("c", [2.0, 10.0, 0.5, -2.0, 1.0])
def test_power_f32_scalar_base(c):
    """A constant base (`2.0 ** x`), float32 exponents: compiled, NumPy's classes, within bound."""
    rng = np.random.default_rng(6)
    with np.errstate(over="ignore"):
        x = np.concatenate([np.array(POW_SPECIALS), rng.uniform(-160, 160, 50_000), rng.uniform(-5, 5, 50_000),
                            np.rint(rng.uniform(-30, 30, 1000))]).astype(np.float32)
    fn = lambda a: np.float32(c) ** a
    jitted = tracejit.jit(hot=0, sync=True)(fn)
    with np.errstate(all="ignore"):
        want = fn(x)
        got = jitted(x)
    assert jitted.stats()["compiled_calls"] == 1 and jitted.stats()["fallback_calls"] == 0, jitted.stats()
    assert got.dtype == want.dtype == np.float32
    check_classification(got, want)
    finite = np.isfinite(want) & (want != 0)
    assert ulp_diff(got[finite], want[finite]).max() <= POW_BOUND_VS_NUMPY[np.float32]


def test_power_f32_special_lanes_raise_no_flags():
    """float32 pow decides its special cases on the floats and feeds (1, 0) to the double core in
    those lanes: a negative base with a non-integer exponent (NaN), a huge exponent of 1 or of an
    infinite/zero base, NaN operands must not raise the overflow (or divide) flag an unguarded
    |x| ** y would, so the call stays compiled under errstate(over="raise")."""
    x = np.array([-1e30, -3e20, 1.0, 2.0, np.nan, np.inf, 0.0, 1e30, -1e30, 7.0, 1e-30], np.float32)
    y = np.array([1.5, 2.5, 1e30, np.nan, 1e30, 2.0, 5.0, np.inf, 0.0, 3.0, 0.5], np.float32)
    fn = lambda a, b: a ** b
    jitted = tracejit.jit(hot=0, sync=True)(fn)
    with np.errstate(all="ignore"):
        want = fn(x, y)
        jitted(x, y)
    with np.errstate(over="raise", divide="raise", invalid="ignore", under="ignore"):
        got = jitted(x, y)
    s = jitted.stats()
    assert s["compiled_calls"] == 2 and s["fp_reruns"] == 0, s
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want)
    check_classification(got, want)  # signed zeros and infinities


# ---- expm1, log1p, exp2, log2, log10, sinh, cosh for float32: native single-precision kernels
# (backends/cpu/vmath32_fast.cpp; expm1, sinh, cosh: vmath32_hyp.cpp; log1p, log2, log10: the
# table kernels of vmath32_log.cpp) that round once; the bounds are each one's max error over every
# float32 input against NumPy's float64 result (tests/python/float32_exhaustive.py), rounded up.
# Checked on the same sweep of every 2039th float32 bit pattern plus dense samples at each
# function's edges (overflow thresholds, denormal results, near-1 arguments of the logs).
F32_FAMILY_BOUND = {"expm1": 0.52, "log1p": 0.71, "exp2": 0.76, "log2": 0.76, "log10": 0.76,
                    "sinh": 0.55, "cosh": 0.53}
F32_FAMILY_DENSE = {
    "expm1": [(-1e-3, 1e-3), (-1.0, 1.0), (80.0, 89.0), (-30.0, -10.0), (-0.03, 0.03), (16.0, 18.0)],
    "log1p": [(-1.0, -0.99), (-1e-3, 1e-3), (-0.5, 1.0), (1e30, 3.4e38)],
    "exp2": [(-151.0, -125.0), (127.0, 128.5), (-1.0, 1.0), (-1e-6, 1e-6)],
    "log2": [(0.99, 1.01), (0.70, 1.42), (0.0, 1.2e-38), (1e30, 3.4e38), (0.74, 0.76), (1.45, 1.55)],
    "log10": [(0.99, 1.01), (0.70, 1.42), (0.0, 1.2e-38), (1e30, 3.4e38), (0.74, 0.76), (1.45, 1.55)],
    "sinh": [(-1e-3, 1e-3), (-1.0, 1.0), (0.4, 0.6), (88.0, 90.0), (0.3, 1.1), (-0.36, -0.34), (13.5, 14.2)],
    "cosh": [(-1e-3, 1e-3), (-1.0, 1.0), (0.4, 0.6), (-90.0, -88.0), (0.3, 1.1), (-14.2, -13.5)],
}


@pytest.mark.parametrize("name", sorted(F32_FAMILY_DENSE))
def test_float32_family_against_float64(name):
    fn = FUNCS[name]
    bits = np.arange(0, 1 << 32, 2039, dtype=np.uint64).astype(np.uint32)
    rng = np.random.default_rng(11)
    parts = [bits.view(np.float32), edges(np.float32)]
    for lo, hi in F32_FAMILY_DENSE[name]:
        parts.append(rng.uniform(lo, hi, 200_000).astype(np.float32))
    x = np.concatenate(parts)
    with np.errstate(all="ignore"):
        ref = fn(x.astype(np.float64))
        want = numpy_reference(name, x)
        jitted = tracejit.jit(hot=0)(fn)
        got = jitted(x)
        ref32 = ref.astype(np.float32)
    assert jitted.stats()["compiled_calls"] == 1, "did not compile"
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    special = ~np.isnan(want) & (np.isinf(want) | (want == 0))
    np.testing.assert_array_equal(got[special], want[special])
    np.testing.assert_array_equal(np.signbit(got[special]), np.signbit(want[special]))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(ref32))
    finite = np.isfinite(ref32) & np.isfinite(got) & ~np.isnan(ref)
    d = ulp32_vs_f64(got[finite], ref[finite])
    worst = int(np.argmax(d))
    print(f"{name} f32: max {d[worst]:.3f} ulp from float64 at x={x[finite][worst]!r}")
    assert d[worst] <= F32_FAMILY_BOUND[name], f"{d[worst]} ulp at x={x[finite][worst]!r}"


# ---- float64 exp, exp2, log, log2, log10, log1p, power: the table-driven kernels
# (backends/cpu/vmath64_fast.cpp) against long double at their hard places: both sides of every
# log-table subinterval edge (the bit offset 0x3fe6955500000000 + i<<47) scaled over the whole
# exponent range, x next to 1, denormal inputs, the exp tables' boundaries (multiples of ln2/32
# and 1/32), the overflow/underflow thresholds; <= 1 ulp from exact (measured 0.50-0.52, 0.75
# where the result is denormal), exact at powers of two and ten.
def _table_hard_inputs():
    rng = np.random.default_rng(77)
    edges = (np.uint64(0x3FE6955500000000) + (np.arange(32, dtype=np.uint64) << np.uint64(47)))
    near = (edges[:, None].astype(np.int64) + np.arange(-50, 51)[None, :]).ravel().astype(np.uint64).view(np.float64)
    scaled = near * np.exp2(rng.integers(-1074, 1023, near.size).astype(np.float64))
    one = 1 + np.concatenate([rng.uniform(-2.0 ** -4, 2.0 ** -4, 20_000), rng.uniform(-1e-12, 1e-12, 5_000)])
    den = np.abs(rng.standard_normal(5_000)) * 2.0 ** -1030
    pos = np.concatenate([near, scaled[scaled > 0], one, den, [5e-324, 2.0 ** -1022, 1.7976931348623157e308]])
    k = np.arange(-34_000, 34_000)
    ex = np.concatenate([k * (np.log(2) / 32), (k + 0.5) * (np.log(2) / 32), rng.uniform(704, 709.78, 20_000),
                         rng.uniform(-745.13, -704, 20_000)])
    e2 = np.concatenate([k / 32 + 1e-9, (k + 0.5) / 32, rng.uniform(-1075, -1015, 20_000), rng.uniform(1015, 1024, 20_000)])
    return pos, ex, e2


def _ulp_vs_longdouble(got, ref):
    with np.errstate(over="ignore"):
        r64 = ref.astype(np.float64)
    fin = np.isfinite(r64) & np.isfinite(got)
    assert np.array_equal(np.isinf(got), np.isinf(r64))
    e = np.abs(got[fin].astype(np.longdouble) - ref[fin]) / np.spacing(np.abs(r64[fin])).astype(np.longdouble)
    return e.astype(np.float64)


@pytest.mark.parametrize("name", ["exp", "exp2", "log", "log2", "log10", "log1p"])
def test_float64_table_kernels_against_longdouble(name):
    pos, ex, e2 = _table_hard_inputs()
    x = {"exp": ex, "exp2": e2, "log1p": np.concatenate([pos - 1, pos])}.get(name, pos)
    fn = FUNCS[name]
    with np.errstate(all="ignore"):
        jitted = tracejit.jit(hot=0)(fn)
        got = jitted(x)
        ref = getattr(np, name)(x.astype(np.longdouble))
        want = fn(x)
    assert jitted.stats()["compiled_calls"] == 1, "did not compile"
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    e = _ulp_vs_longdouble(got, ref)
    w = int(np.argmax(e))
    print(f"{name} f64 table kernel: max {e[w]:.3f} ulp from long double")
    assert e[w] <= 1.0


def test_float64_table_kernels_exact_values():
    k = np.arange(-1074, 1024).astype(np.float64)
    p2 = np.ldexp(1.0, np.arange(-1074, 1024))
    p10 = 10.0 ** np.arange(0, 23)
    f2 = tracejit.jit(hot=0)(lambda a: np.log2(a))
    e2 = tracejit.jit(hot=0)(lambda a: np.exp2(a))
    f10 = tracejit.jit(hot=0)(lambda a: np.log10(a))
    pw = tracejit.jit(hot=0)(lambda a, b: a ** b)
    np.testing.assert_array_equal(f2(p2), k)
    np.testing.assert_array_equal(e2(k), p2)
    np.testing.assert_array_equal(f10(p10), np.arange(0, 23).astype(np.float64))
    np.testing.assert_array_equal(pw(np.full(k.size, 2.0), k), p2)
    b = np.repeat(np.arange(2.0, 13.0), 25)
    e = np.tile(np.arange(0.0, 25.0), 11)
    want = np.power(b, e)
    exact = want == np.power(b.astype(np.longdouble), e.astype(np.longdouble))  # representable
    np.testing.assert_array_equal(pw(b, e)[exact], want[exact])
    np.testing.assert_array_equal(pw(-b, e)[exact], np.power(-b, e)[exact])
    for j in (f2, e2, f10, pw):
        assert j.stats()["fallback_calls"] == 0 and j.stats()["compiled_calls"] >= 1


# ---- float64 tanh, expm1: exp_pair in backends/cpu/vmath64_fast.cpp (the reduction by ln2/32
# with exact steps, one division); sinh, cosh: backends/cpu/vmath64_more.cpp (e^|x| and e^-|x|
# from one reduction by ln2/8, no division) against long double at their hard places: both sides
# of every reduction step (k + 1/2) ln2/32 where the reduced argument is largest next to a small
# result, the kernels' switches (tanh's clamp at 22, sinh's polynomial below 1/2, the 2^-1009
# scaling from 704) and the overflow thresholds; measured 0.513 / 0.513 / 0.625 / 0.603 ulp (the
# C++ harness: Vmath.ExpPairKernelsAccuracy), asserted <= 0.52 (tanh, expm1; the double-double
# code before: 0.57-0.61) and <= 0.65 (sinh, cosh; the exact-pair code before: 0.512 / 0.500).
def _exp_pair_inputs(name):
    rng = np.random.default_rng(78)
    k = np.arange(-2000, 2000)
    mid = (k + 0.5) * (np.log(2) / 32)
    near = (mid[:, None].view(np.int64) + np.arange(-3, 4)[None, :]).ravel().view(np.float64)
    t = np.array([22.0, 40.0, 704.0, 709.78, 710.47, 36.7, 19.0, 0.5, 693.15])
    th = (t[:, None] * (1 + np.arange(-50, 51)[None, :] * 2.0 ** -50)).ravel()
    x = np.concatenate([near, th, -th, rng.uniform(-3, 3, 50_000), rng.uniform(-40, 40, 50_000),
                        rng.uniform(-710.47, 710.47, 20_000), 2.0 ** rng.uniform(-60, 0, 20_000),
                        -(2.0 ** rng.uniform(-60, 0, 20_000))])
    lim = {"tanh": 40.0, "expm1": 709.78, "sinh": 710.47, "cosh": 710.47}[name]
    return x[(np.abs(x) < lim) | ((x < 0) & (name == "expm1"))]


@pytest.mark.parametrize("name", ["tanh", "expm1", "sinh", "cosh"])
def test_float64_exp_pair_kernels_against_longdouble(name):
    x = _exp_pair_inputs(name)
    fn = FUNCS[name]
    jitted = tracejit.jit(fn, hot=0, sync=True)
    got = jitted(x)
    ref = getattr(np, name)(x.astype(np.longdouble))
    assert jitted.stats()["compiled_calls"] == 1 and jitted.stats()["fallback_calls"] == 0
    assert jitted.stats()["fp_reruns"] == 0
    np.testing.assert_array_equal(np.isnan(got), np.isnan(fn(x)))
    e = _ulp_vs_longdouble(got, ref)
    w = int(np.argmax(e))
    print(f"{name} f64 exp_pair kernel: max {e[w]:.3f} ulp from long double at {x[w]!r}")
    assert e[w] <= (0.65 if name in ("sinh", "cosh") else 0.52)


@pytest.mark.parametrize("name, x", [
    ("tanh", [1000.0, -1000.0, np.inf, -np.inf, 30.0, -22.0, 0.5, -0.0, np.nan, 1e300]),
    ("expm1", [np.inf, -np.inf, -1000.0, -40.0, 709.0, 709.78, 705.0, 1e-5, -0.0, np.nan]),
    ("sinh", [np.inf, -np.inf, 710.47, -710.47, 705.0, -704.5, 40.5, 1e-5, -0.0, np.nan]),
    ("cosh", [np.inf, -np.inf, 710.47, -710.47, 705.0, -704.5, 40.5, 1e-5, -0.0, np.nan]),
])
def test_float64_exp_pair_kernels_raise_no_flag_numpy_does_not(name, x):
    """Large, infinite and NaN arguments below the overflow thresholds: NumPy raises nothing, and
    the kernel must not either (no overflowing or underflowing intermediate), so even under
    errstate(all='raise') the call stays compiled, with NumPy's values and signs."""
    x = np.array(x)
    fn = FUNCS[name]
    jitted = tracejit.jit(fn, hot=0, sync=True)
    jitted(np.linspace(0.5, 1.5, x.size))
    with np.errstate(all="raise"):
        want = fn(x)
        got = jitted(x)
    s = jitted.stats()
    assert s["fp_reruns"] == 0 and s["fallback_calls"] == 0 and s["compiled_calls"] == 2, s
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


@pytest.mark.parametrize("name, x", [("expm1", 709.8), ("sinh", -710.48), ("cosh", 710.48), ("sinh", 1e300)])
def test_float64_exp_pair_kernels_overflow_like_numpy(name, x):
    fn = FUNCS[name]
    jitted = tracejit.jit(fn, hot=0, sync=True)
    jitted(np.array([0.5, 1.5]))
    a = np.array([1.0, x])
    with np.errstate(over="raise"):
        with pytest.raises(FloatingPointError) as eager:
            fn(a)
        with pytest.raises(FloatingPointError) as ours:
            jitted(a)
    assert str(ours.value) == str(eager.value)
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(jitted(a), fn(a))
