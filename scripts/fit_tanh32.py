"""Fits the float32 tanh tables of backends/cpu/vmath32_hyp.cpp and checks them by emulating the
kernel over every float in [2^-13, 9.2] (not a test: ~1 minute, needs only NumPy).

Intervals: [0, 1.5 * 2^-12) and the half binades above it up to 9.1 (index (bits(max(a, 2^-12))
>> 22) & 31, so the printed tables are rotated: slot j holds interval (j - 6) mod 32). Per
interval: s, a float in the middle 40% whose tanh is closest (in ulps) to a float c0; c1..c7
of q(t) = (tanh(s + t) - c0)/t, least squares on 400 Chebyshev nodes weighted by |t|/tanh
(the error of c0 + t q relative to tanh) with Lawson's reweighting toward minimax, then rounded
to float one coefficient at a time with the rest refitted. Emulation: float32 arithmetic, fma
as a float64 product and sum rounded once to float32.
Run: python scripts/fit_tanh32.py   (prints the C++ tables and the max error in ulps)"""
import numpy as np

D = 7  # c1..c7
BASE, SH, NI, AMAX = 0x39800000, 22, 32, 9.1


def fbits(b):
    return float(np.array([b], dtype=np.uint32).view(np.float32)[0])


def fit_interval(lo, hi):
    lb = np.array([lo + (hi - lo) * 0.3], dtype=np.float32).view(np.int32)[0]
    hb = np.array([lo + (hi - lo) * 0.7], dtype=np.float32).view(np.int32)[0]
    cs = np.arange(lb, hb, dtype=np.int64).astype(np.int32).view(np.float32).astype(np.float64)
    th = np.tanh(cs)
    th32 = th.astype(np.float32)
    k = np.argmin(np.abs(th - th32.astype(np.float64)) / np.spacing(th32).astype(np.float64))
    s, c0 = cs[k], float(th32[k])
    n = 400
    x = (lo + hi) / 2 + (hi - lo) / 2 * np.cos(np.pi * (np.arange(n) + 0.5) / n)
    t = x - s
    y = np.tanh(x)
    w = np.abs(t) / y
    h = max(abs(lo - s), abs(hi - s))
    A = np.stack([(t / h) ** i for i in range(D)], axis=1)
    target = (y - c0) / t
    lw = np.ones(n) / n
    for _ in range(60):
        W = w * np.sqrt(lw)
        c, *_ = np.linalg.lstsq(A * W[:, None], target * W, rcond=None)
        e = np.abs(A @ c - target) * w
        lw = lw * e
        lw /= lw.sum()
    cf = []
    W = w * np.sqrt(lw)
    for i in range(D):
        rhs = target - (A[:, :i] @ np.array(cf) if i else 0)
        c, *_ = np.linalg.lstsq(A[:, i:] * W[:, None], rhs * W, rcond=None)
        cf.append(float(np.float32(c[0] / h ** i)) * h ** i)
    return [float(np.float32(s)), c0] + [c / h ** i for i, c in enumerate(cf)]


def tables():
    rows = []
    for i in range(NI):
        lo, hi = (0.0 if i == 0 else fbits(BASE + (i << SH))), fbits(BASE + ((i + 1) << SH))
        if i == 0:
            rows.append([0.0, 0.0, 1.0, 0.0, -1.0 / 3] + [0.0] * (D - 3))
        elif lo > AMAX:
            rows.append(rows[-1])
        else:
            rows.append(fit_interval(lo, min(hi, AMAX)))
    T0 = np.array(rows, dtype=np.float32)
    T = np.empty_like(T0)
    for i in range(NI):
        T[((BASE >> SH) + i) & 31] = T0[i]
    return T


def fma(a, b, c):
    return (a.astype(np.float64) * b.astype(np.float64) + c.astype(np.float64)).astype(np.float32)


def check(T):
    worst, at = 0.0, None
    for start in range(0x39000000, 0x41140000, 1 << 23):
        a = np.arange(start, min(start + (1 << 23), 0x41140000), dtype=np.uint32).view(np.float32)
        ac = np.minimum(a, np.float32(AMAX))
        ai = np.maximum(ac, np.float32(2.0 ** -12))
        row = T[(ai.view(np.uint32) >> SH) & 31]
        t = ac - row[:, 0]
        t2 = t * t
        p23, p45, p67 = (fma(row[:, 2 + k + 1], t, row[:, 2 + k]) for k in (1, 3, 5))
        q = fma(fma(fma(p67, t2, p45), t2, p23), t, row[:, 2])
        r = fma(t, q, row[:, 1])
        ref = np.tanh(a.astype(np.float64))
        err = np.abs(r.astype(np.float64) - ref) / np.ldexp(1.0, np.frexp(ref)[1].astype(np.int64) - 24)
        k = np.argmax(err)
        if err[k] > worst:
            worst, at = float(err[k]), float(a[k])
    return worst, at


def c_float(v):
    if v == 0:
        return "0.0f"
    m, e = float(v).hex().split("p")
    return m.rstrip("0").rstrip(".") + "p" + e + "f"


if __name__ == "__main__":
    T = tables()
    for j, name in enumerate(["kS"] + ["kC%d" % i for i in range(D + 1)]):
        print("constexpr float %s[32] = {" % name)
        line = "   "
        for v in T[:, j]:
            item = " " + c_float(v) + ","
            if len(line) + len(item) > 112:
                print(line)
                line = "   "
            line += item
        print(line + "\n};")
    print("max error %.4f ulp at %r" % check(T))
