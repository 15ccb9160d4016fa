// Vectorizable exp, log, tanh, sin, cos: range reduction, polynomials and special cases written as
// straight-line LLVM IR (selects, bit manipulation, no calls), so the loop vectorizer widens them.
//
// double exp, exp2, expm1, tanh and pow: table-driven kernels in vmath64_fast.cpp (2^(j/32) and
// 1/c, log c tables held in registers, the log as a ~68-bit pair for pow, expm1 as an exact-step
// pair under tanh; its header has the algorithms); double sinh, cosh, log, log2, log10, log1p and
// tan's kernel: vmath64_more.cpp (shorter kernels on the same tables, below 0.7 ulp; its header). double sin/cos use fdlibm's kernels after a double-double Cody-Waite reduction (|x| < 2^30)
// or a Payne-Hanek reduction (a gathered 4-double window of 2/pi per exponent) that runs out of
// line, only for vectors holding a lane with |x| >= 2^30 (with_huge_lanes).
// float exp, log, tanh: native single-precision code (16 lanes per AVX-512 vector): Cody-Waite
// reduction by ln2 with a minimax polynomial for exp (tanh: one polynomial per half binade with
// coefficients from registers, vmath32_hyp.cpp). float log, log2, log10, log1p: table-driven
// kernels in vmath32_log.cpp (32-entry float tables in registers, no division). float sin/cos/tan:
// native below |x| = 2^20 (vmath32_trig.cpp: a float Cody-Waite reduction by pi/2 into a pair,
// float polynomials); from 2^20, out of line, FreeBSD's s_sinf.c/s_cosf.c on the widened
// argument (a 25+53-bit pi/2 reduction, k_sinf/k_cosf polynomials in double; tan their
// quotient), rounded once; |x| >= 2^28 the double algorithm.
// llvm.fma appears only inside these algorithms (error-free products, polynomial steps); the
// user's own a*b+c is never contracted (the JIT runs with FPOpFusion::Strict).
//
// Measured max error in ulps (f64 and f32 sin/cos: tests/cpp/backends/test_vmath.cpp, 2M+ inputs
// per row, against long double libm; f32 exp/log/tanh: every float32 input of the function's
// non-trivial domain (tanh: all 2^32) against NumPy's float64 result; NumPy columns and a float32 sweep of every
// 2039th bit pattern: tests/python/test_math_accuracy.py):
//
//   function | f64 vs long double | f32 vs exact      | vs NumPy f64 | vs NumPy f32
//   ---------+--------------------+-------------------+--------------+-------------
//   exp      | 0.52 (0.75 for     | 0.759 (0.660 for  | 1            | 2
//            |  denormal results) |  normal results)  |              |
//   log      | 0.532 (%)          | 0.752 (log32 (&)) | 1            | 3
//   tanh     | 0.513              | 0.694 (hyp)       | 1            | 1
//   sin      | 0.79               | 0.742 (native (=))| 1            | 1
//   cos      | 0.77               | 0.739 (native (=))| 1            | 1
//   pow      | 0.75 (x**y, both    | 0.520 (a double   | 1            | 1
//            |  arrays, results    |  log2/exp2 core on|              |
//            |  near underflow;    |  tables, rounded  |              |
//            |                     |  once ($))        |              |
//            |  0.53 for |y log x| |                   |              |
//            |  < 60)              |                   |              |
//   expm1    | 0.513               | 0.513 (hyp)       | 1            | 2
//   log1p    | 0.50 (**)           | 0.703 (log32 (&)) | 1            | 2
//   exp2     | 0.76 (denormal res.;| 0.756 (native (#),| 1            | 3 (*)
//            |  0.69 at x = 5.93,  |  denormal results)|              |
//            |  = NumPy's value)   |                   |              |
//   log2     | 0.544 (%)           | 0.755 (log32 (&)) | 1            | 2
//   log10    | 0.554 (%)           | 0.757 (log32 (&)) | 1            | 2
//   sinh     | 0.625 (%)           | 0.546 (hyp)       | 1            | 1
//   cosh     | 0.603 (%)           | 0.529 (hyp)       | 1            | 2
//   cbrt     | 0.667               | 0.505 (native (+))| 1            | 2
//   tan      | 0.695 (%)           | 0.875 (native (=))| 1            | 3
//   arcsin   | 0.884               | 0.635 (inv)       | 1            | 3
//   arccos   | 0.881               | 0.604 (inv)       | 1            | 2
//   arctan   | 0.825               | 0.662 (native (+))| 1            | 2
//   arctan2  | 0.846               | 0.750 (native,   | 1            | 3
//            |                     |  (+); 2^28 pairs) |              |
//   arcsinh  | 0.52 (inv)          | 0.702 (inv)       | 1            | 1
//   arccosh  | 0.52 (inv)          | 0.669 (inv)       | 1            | 1
//   arctanh  | 0.53 (inv)          | 0.721 (inv)       | 1            | 1
//   hypot    | 0.749 (denormal     | 0.500 (double,    | 1            | 0
//            |  results; 0.50 else)|  rounded)         |              |
// (inv) vmath_inv.cpp's kernels on the table log cores (its header has the algorithms, the
// measurements and the speed; float32: every input by float32_exhaustive.py).
// (%) vmath64_more.cpp's kernels (test_vmath's sweeps and hard cases: ExpPairKernelsAccuracy,
// TableKernelsHardCases, ShortLogSubintervals, TanKernelHardCases); log1p's row (**) is theirs
// too, 0.534 on the hard cases. (rows cbrt..hypot: tests/cpp/backends/test_vmath.cpp
// InverseAndCbrtTanAccuracy and Atan2HypotAccuracy; NumPy columns and every 2039th float32 bit pattern:
// tests/python/test_math_inverse.py. f32 "0.500" means below 0.5 + 2^-16.
// (=) f32 sin, cos, tan: native single precision for |x| < 2^20 (vmath32_trig.cpp, whose header
// has the algorithm and speed), the max over every float32 |x| < 2^20 (an op-for-op model and
// the compiled kernels by float32_exhaustive.py's method agree; that header says how); from
// 2^20 trig32 (FreeBSD's float kernels evaluated in double, 0.501).
// (+) native single-precision kernels (16 lanes; below): the max over every float32 input
// (arctan2: 2^28 random pairs of log-uniform, close-exponent and uniform operands) against
// NumPy's float64 result, by tests/python/float32_exhaustive.py; arctan2's 0.75 is for results
// in the lowest normal binades, where the quotient's correction term is itself denormal; away
// from them ~0.61, e.g. test_vmath's "near 1" row 0.605.)
// (**) float64 exp, exp2, log, log2, log10, log1p, pow: test_vmath's accuracy rows plus
// TableKernelsHardCases (every log-table subinterval edge, both sides of 1, the exp tables'
// boundaries, the overflow/underflow thresholds, exact powers of 2 and 10) and PowExactResults;
// the C++ harness reports 0.66 for log1p at x = +-1.8e-16 against glibc's log1pl, where ours
// (and NumPy's) is the correctly rounded x - x^2/2 (0.34 ulp from the exact value).
// Speed of the float64 table kernels, 1M elements, one thread (TRACEJIT_NUM_THREADS=1), min of
// 15, NumPy 2.4 in the same process, loaded 2-core Zen 4 (ms; before: the double-double code):
// exp 1.04 (NumPy 0.86; before 2.6), exp2 1.03 (0.74; 7.7), log 1.50 (0.87; 2.2), log2 1.67
// (0.93; 11.0), log10 1.67 (0.91; 11.1), log1p 1.83 (1.13; 7.2), pow x**y 3.3 (2.39; 28.7),
// x ** -1.5 2.7 (2.77; ~28). (log, log2, log10, log1p since: vmath64_more.cpp, ~1.2-1.3x faster;
// its header has the figures.)
// float64 tanh, expm1, sinh, cosh on the table exp (exp_pair), 4M elements, one thread, process
// CPU time, min of 25, NumPy 2.4 in the same process, the shared machine at load 10-13 (ms;
// before: the double-double exp_core code): tanh 6.4 (NumPy 6.7; before 11.8), expm1 4.9 (4.7;
// 11.4), sinh 7.7 (4.7; 17.9), cosh 6.8 (3.7; 14.2). sinh and cosh were ~1.7x NumPy's (the
// exact pair, ~115 vector instructions per 8 lanes with the division); vmath64_more.cpp's kernels
// (no pairs, no division, 0.63 / 0.61 ulp) run at NumPy's speed (4.96 / 3.72 ms CPU time).
// (#) exp2: the native single-precision kernel in vmath32_fast.cpp (16 lanes, float arithmetic
// with fma, one rounding at the end): the max over every float32 input against NumPy's float64
// result, by tests/python/float32_exhaustive.py; it is at denormal results (the float result is
// rounded twice there, like exp's). (hyp): vmath32_hyp.cpp's kernels, the same measurement
// (its header has the algorithms and speed).
// (&) table-driven single-precision kernels in vmath32_log.cpp (its header has the algorithm, the
// speed and how these were measured): the max over every float32 input against the float64
// result.
// (*) NumPy's float32 exp2 is off by up to 32 units of the smallest denormal for results in the
// denormal range and gives 0 for x in (-150, -149.5]; ours rounds 2^x correctly there.
// (hyp) vmath32_hyp.cpp (its header has the algorithm and speed), every float32 input.
// (NumPy's own float32 exp/log are documented at up to 2.5/3.8 ulp.) Special values follow
// NumPy: NaN in gives NaN, exp overflows to inf above ln(FLT_MAX) and underflows through the
// denormals to +0, log(0) = -inf, log(x<0) = NaN, tanh saturates to +-1 and keeps -0.
//
// Speed, 4M float32, one thread, this 2-core AVX-512 machine (min of 30, NumPy 2.4 in the same
// process): exp 1.5 ms (NumPy 1.8; the double path took 3.5), log 2.65 ms before the table
// kernel of vmath32_log.cpp (NumPy 1.5; double path 6.5; now: that file's header),
// tanh(a*b+c)*0.5+d 3.7-4.1 ms (double path 4.9-5.8).
// cbrt .. hypot (benchmarks/bench_vmath.py --baseline <build with the libm calls>, 4M elements,
// min of 10, on the shared machine under load, so +-30%): against the libm call per element they
// replace 2.3-3x faster (tan, when every lane still paid for the Payne-Hanek reduction),
// 2.3-9x (arcsinh/arccosh/arctanh), 8-20x (cbrt, arcsin, arccos, arctan, arctan2), 11-66x
// (hypot). Against NumPy 2.4: float64 cbrt/arcsin/arccos/arctan/arctan2 0.8-1.1x its time,
// arcsinh/arccosh/arctanh 0.5-0.7x, tan 0.2x; hypot 12x (f32) and 32x (f64) faster; float32
// (NumPy's 16-lane SVML loops, ~1.5 ms, at memory speed) 0.1-0.27x, tan 0.02x: ours run the
// double algorithms on 8-lane vectors. Since Payne-Hanek runs only for vectors holding a lane
// with |x| >= 2^30: float64 sin/cos 2-4.5x and tan 1.4-2.9x faster than before (4M uniform in
// [-10, 10], loaded machine): sin/cos 6-9x faster than NumPy, tan at 0.3-0.5x its speed. Float
// sin/cos/tan (trig32) 3.7-16x faster than the double path they replace: one thread, float
// sin/cos 4.1 ms against NumPy's 2.1 (two threads: parity at best), tan 4.4 against 1.6.
// Native float cbrt, arcsin, arccos, arctan, arctan2, one thread (TRACEJIT_NUM_THREADS=1; 1M
// elements, NumPy and tracejit calls alternating, min of 200; the machine's second CPU busy with
// other work): 0.40 / 0.44 / 0.44 / 0.78 / 0.57 ms for arcsin / arccos / arctan / arctan2 / cbrt,
// 2.6-3.4x faster than the widened double code they replace (1.13 / 1.30 / 1.56 / 2.64 / 1.48),
// against NumPy's SVML loops 0.97x / 0.90x / 0.88x / 0.77x / 0.52x its speed. bench_vmath.py
// (4M, default threads, best of 3 x min of 20, load 5-6): 0.55-0.92x NumPy, 2.8-5.5x the old
// code. Kernel compile time unchanged or lower (30-70 ms). Zen 4 runs 512-bit multiplies and fmas
// on one pipe pair: trading a division for three multiplies (an rsqrt estimate for arcsin's root
// correction) made it 7% slower, so the kernels count multiplies first. (Since, in vmath_inv.cpp,
// arcsin's root correction multiplies by an estimate from the bits alone, two integer operations
// and no Newton step, instead of dividing.)
// Float tanh (two plain-float pieces), native float arcsinh/arccosh/arctanh and float64 tan with
// one division, one thread (TRACEJIT_NUM_THREADS=1), 4M elements, process CPU time (min of 20,
// old and new builds in alternating processes; the machine's load was 12-22, which made wall
// times swing 3x for the kernels but not the CPU times): tanh 3.29 -> 2.54 ms (NumPy 1.46),
// arcsinh 9.13 -> 4.70 (NumPy 2.73), arccosh 9.28 -> 4.49 (2.48), arctanh 9.38 -> 3.84 (2.02),
// float64 tan 16.1 -> 14.1 (5.4); np.tanh(a*b+c)*0.5+d on 4M float32 3.40 -> 2.74 ms (NumPy 5.3).
// (Float tanh has since moved to vmath32_hyp.cpp: per-lane coefficients by vpermi2ps from
// registers, vmath_lut32.cpp, as NumPy's loop does; its header has the speed. Float and double
// arcsinh/arccosh/arctanh have since moved to vmath_inv.cpp, on the table log cores.)
// Float64 tan: fdlibm's k_tan (both branches) was replaced by vmath64_more.cpp's tan_kernel64
// (sin and cos polynomials as pairs, one reciprocal); the double-double Cody-Waite reduction and
// the huge-lane test now dominate (sin/cos cost nearly as much), see that file's header.
//
// pow (emit_vpow): double: e^(y * log|x|) by the table kernels of vmath64_fast.cpp (log|x| as a
// pair with relative error ~2^-68, the product y*log|x| split exactly, its low part carried into
// exp's reduced argument); float ($): vmath32_pow.cpp (its header has the algorithm, the error
// analysis and the speed): the optimized-routines powf design in double, 16-entry log2 and
// 2^(j/16) tables in registers, short polynomials, one rounding to float (0.5 + 2^-5.6 ulp,
// 0.520 measured on 100M pairs; exact ties round to even), negative bases included; zero,
// denormal, inf and NaN operands
// through an out-of-line path (the previous kernel) that only vectors holding such a lane run;
// 4M pairs, one thread, CPU time: 21 -> 10-11 ms (widened kernel, special cases inline) -> 7.0
// (NumPy's SVML powf: 2.8). Special cases exactly as
// C99/NumPy: pow(x, +-0) = 1 and pow(1, y) = 1 even for NaN, negative finite x with a non-integer
// y is NaN, odd integer y keeps the sign of x (including -0 and -inf), +-0 / +-inf bases and
// +-inf exponents per Annex F.
//
// cbrt, tan, arcsin, arccos, arctan, arctan2 (double): fdlibm/FreeBSD algorithms with every
// branch computed and the right one selected per lane: cbrt s_cbrt.c (exponent/3 estimate,
// polynomial, one Newton step); tan k_tan.c on the sin/cos reduction (Payne-Hanek above 2^30, so
// tan(1e300) is right; out of line, as for sin/cos); arcsin/arccos e_asin.c/e_acos.c
// (one rational, one sqrt); arctan s_atan.c (the five reductions as selects, one division);
// arctan2 = arctan(|y|/|x|) plus the quotient's exact rounding error d = fma(-q, |x|, |y|)/|x|
// carried in as d/(1 + q^2), pi - that in double-double for x < 0, C99's zero/infinity table
// as selects (arctan, arctan2: vmath_inv.cpp). arcsinh, arccosh, arctanh (double and float): vmath_inv.cpp. hypot
// (double): a^2 + b^2 as exact pairs, the root corrected once, scaled by 2^-+600 outside
// [2^-500, 2^500]; float: sqrt(x^2 + y^2) in double (squares exact). Special values exactly as
// NumPy: NaN in -> NaN, arcsin/arccos outside [-1, 1], arccosh below 1 and arctanh outside
// [-1, 1] -> NaN, arctanh(+-1) = +-inf, signed zeros kept (cbrt, tan, arcsin, arctan, arcsinh,
// arctanh of -0 is -0), arccos(1) = +0, arccosh(1) = +0, hypot(+-inf, NaN) = +inf.
//
// float cbrt, arcsin, arccos, arctan, arctan2 (native single precision, 16 lanes, no widening;
// each rounds once at the end, the terms before it exact pairs or far below the result's ulp;
// arcsin, arccos, arcsinh, arccosh, arctanh: vmath_inv.cpp):
// arcsin/arccos: one minimax polynomial P (6 float coefficients) of (asin v - v)/v^3 in z = v^2
// on [0, 1/4]; |x| < 1/2: x + x z P; else z = (1 - |x|)/2 exactly, s + sl = sqrt(z) (the root
// and its fma-residual correction, since vmath_inv.cpp's without a division), asin = pi/2 - 2(s + sl + s z P) with pi/2 - 2s
// an exact pair, acos = 2(s + sl + s z P) or pi - 2(...) likewise. arctan: three reductions to
// |t| <= tan(pi/8) (t = |x|, (|x| - 1)/(|x| + 1) + pi/4, -1/|x| + pi/2; numerator and
// denominator exact pairs, t = num * (1/den) with its fma residual tl), atan t = t + t z P (5
// coefficients), base + t an exact pair. arctan2: the same on min(|y|,|x|)/max(|y|,|x|) (both
// scaled by a power of two so the reciprocal is normal and a denormal result rounds once), base 0,
// pi/4, pi/2, 3pi/4 or pi and the sign of t per quadrant, C99's table as selects. cbrt: |x| =
// 2^(3k) m, a quadratic estimate of m^(-1/3), one division-free Newton step, y = m u^2 and a last
// Newton step for y with the residual y^3 - m from fma products.
//
// expm1, sinh, cosh, exp2, log2, log10, log1p for double are vmath64_fast.cpp's. float: native
// single-precision kernels (float expm1, sinh, cosh since moved to vmath32_hyp.cpp's tables)
// (vmath32_fast.cpp, whose header has the algorithms): float-float exp and log cores combined
// with exact steps, rounded once. One thread, 1M float32 in [0.1, 4.1), min of 30, NumPy 2.4 in
// the same process, the shared machine loaded (load ~20 on 2 CPUs):
//   ms      sinh  cosh  exp2  log2  log10 expm1 log1p
//   before  8.68  9.50  2.62  1.88  1.87  3.15  2.14   (the double code on widened lanes)
//   now     0.99  0.78  0.40  0.82  0.90  0.66  0.93
//   NumPy   0.38  0.34  0.22  0.21  0.23  0.38  0.47
// (/tmp/vm.py's float32 half with TRACEJIT_SYNC=1 and jit(hot=0)). Still 1.7-3.9x NumPy's SVML
// loops: 35-55 vector instructions per 16 lanes (exact float-float steps, one division in
// sinh/cosh/log2/log10/log1p, selects for the special values) against their ~20. (float log2,
// log10, log1p have since moved to vmath32_log.cpp's table kernels; its header has their speed.)
#include "backends/cpu/vmath.h"
#include "backends/cpu/vmath32_fast.h"
#include "backends/cpu/vmath32_hyp.h"
#include "backends/cpu/vmath32_log.h"
#include "backends/cpu/vmath32_pow.h"
#include "backends/cpu/vmath32_trig.h"
#include "backends/cpu/vmath64_fast.h"
#include "backends/cpu/vmath64_more.h"
#include "backends/cpu/vmath_internal.h"
#include "backends/cpu/vmath_inv.h"
#include "backends/cpu/vmath_lut32.h"

#include <llvm/IR/Constants.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/Instructions.h>
#include <llvm/IR/MDBuilder.h>
#include <llvm/Transforms/Utils/BasicBlockUtils.h>
#include <llvm/Transforms/Utils/ModuleUtils.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tracejit::backends {
namespace {

using llvm::Value;
using vmath_detail::DD;
using vmath_detail::Math;
using vmath_detail::Math32;
using vmath_detail::ExpCoreF;
using vmath_detail::exp_core_f;

// floor(2/pi * 2^1792) in hex: enough bits for the Payne-Hanek window of any double exponent.
constexpr std::string_view kTwoOverPiHex =
    "a2f9836e4e441529fc2757d1f534ddc0db6295993c439041fe5163abdebbc561b7246e3a424dd2e006492eea09d1921c"
    "fe1deb1cb129a73ee88235f52ebb4484e99c7026b45f7e413991d639835339f49c845f8bbdf9283b1ff897ffde05980f"
    "ef2f118b5a0a6d1f6d367ecf27cb09b74f463f669e5fea2d7527bac7ebe5f17b3d0739f78a5292ea6bfb5fb11f8d5d08"
    "56033046fc7b6babf0cfbc209af4361da9e391615ee61b086599855f14a068408dffd8804d73273106061556ca73a8c9"
    "60e27bc08c6b47c419c367cddce8092a8359c4768b961ca6ddaf44d15719053e";

constexpr int kPhMinExp = 30;     // |x| >= 2^30 takes the Payne-Hanek reduction
constexpr int kPhScaleExp = 500;  // above this exponent, x is scaled by 2^-128 (table by 2^128)

// Per binary exponent E of |x| (0..1023), four doubles T0..T3 holding the 212 bits of 2/pi
// below weight 2^(54-E): bits at or above it contribute multiples of 4 quarter turns.
const std::vector<double>& payne_hanek_table() {
  static const std::vector<double> table = [] {
    auto bit = [](int pos) {  // bit of weight 2^-(pos+1) of 2/pi
      if (pos < 0) return 0;
      char c = kTwoOverPiHex[static_cast<size_t>(pos / 4)];
      int nib = c <= '9' ? c - '0' : c - 'a' + 10;
      return (nib >> (3 - pos % 4)) & 1;
    };
    std::vector<double> t;
    for (int e = 0; e < 1024; ++e)
      for (int k = 0; k < 4; ++k) {
        uint64_t m = 0;
        for (int j = 0; j < 53; ++j) m = (m << 1) | static_cast<uint64_t>(bit(e + 53 * k + j - 54));
        t.push_back(std::ldexp(static_cast<double>(m), 1 - e - 53 * k + (e > kPhScaleExp ? 128 : 0)));
      }
    return t;
  }();
  return table;
}

// x = n*pi/2 + (y.hi + y.lo), |y| <= pi/4 (+ a hair when rint(x*2/pi) misrounds).
struct Reduced {
  DD y;
  Value* n;
};

constexpr double kPio2[3] = {1.57079632679489655800e+00, 6.12323399573676603587e-17,
                             -1.49738490485916983456e-33};

// |x| < 2^30: fma(-n, pio2[0], x) is exact (a multiple of 2^-52 or 2^-53 below 1), then the
// rest of pi/2 is subtracted in double-double.
Reduced cody_waite(Math& m, Value* x) {
  Value* nd = m.rint(m.mul(x, m.c(6.36619772367581382433e-01)));
  Value* a = m.fma(m.neg(nd), m.c(kPio2[0]), x);
  DD p = m.two_prod(nd, m.c(kPio2[1]));
  DD r = m.two_sum(a, m.neg(p.hi));
  Value* lo = m.sub(m.sub(r.lo, p.lo), m.mul(nd, m.c(kPio2[2])));
  return {m.fast_two_sum(r.hi, lo), m.to_int(nd)};
}

// Subtracts the nearest integer from s (|s| < 2^62), adding it to the quadrant count q.
Value* take_integer(Math& m, Value*& s, Value* q) {
  Value* r = m.rint(s);
  s = m.sub(s, r);
  return m.b().CreateAdd(q, m.to_int(r));
}

// a >= 2^30 finite: a*(2/pi) mod 4 from a 212-bit window of 2/pi chosen by the exponent of a,
// accumulated in double-double with the integer parts peeled off as they appear.
Reduced payne_hanek(Math& m, Value* a) {
  auto& b = m.b();
  llvm::Module* mod = b.GetInsertBlock()->getModule();
  const std::vector<double>& t = payne_hanek_table();
  auto* arr_ty = llvm::ArrayType::get(b.getDoubleTy(), t.size());
  auto* table = llvm::cast<llvm::GlobalVariable>(mod->getOrInsertGlobal("tracejit.vmath.two_over_pi", arr_ty));
  if (!table->hasInitializer()) {
    table->setInitializer(llvm::ConstantDataArray::get(b.getContext(), llvm::ArrayRef<double>(t)));
    table->setConstant(true);
    table->setLinkage(llvm::GlobalValue::PrivateLinkage);
    table->setUnnamedAddr(llvm::GlobalValue::UnnamedAddr::Global);
  }
  Value* e = b.CreateSub(b.CreateLShr(m.bits(a), m.ci(52)), m.ci(1023));
  Value* as = m.sel(b.CreateICmpSGT(e, m.ci(kPhScaleExp)), m.mul(a, m.c(0x1p-128)), a);
  Value* base = b.CreateShl(e, m.ci(2));
  auto chunk = [&](int k) {
    Value* p = b.CreateInBoundsGEP(b.getDoubleTy(), table, b.CreateAdd(base, m.ci(k)));
    return b.CreateLoad(b.getDoubleTy(), p);
  };
  DD p0 = m.two_prod(as, chunk(0));  // p0.hi < 2^55
  Value* s = p0.hi;
  Value* q = take_integer(m, s, m.ci(0));
  DD acc = m.two_sum(s, p0.lo);
  s = acc.hi;
  q = take_integer(m, s, q);
  acc = m.two_sum(s, acc.lo);
  DD p1 = m.two_prod(as, chunk(1));  // < 4
  DD h = m.two_sum(acc.hi, p1.hi);
  s = h.hi;
  q = take_integer(m, s, q);
  acc = m.two_sum(s, m.add(h.lo, m.add(acc.lo, p1.lo)));
  DD p2 = m.two_prod(as, chunk(2));  // < 2^-51
  h = m.two_sum(acc.hi, p2.hi);
  Value* lo = m.add(h.lo, m.add(acc.lo, m.add(p2.lo, m.mul(as, chunk(3)))));
  acc = m.fast_two_sum(h.hi, lo);
  s = acc.hi;
  q = take_integer(m, s, q);
  acc = m.two_sum(s, acc.lo);  // quarter turns, |acc| <= 1/2
  DD rad = m.two_prod(acc.hi, m.c(kPio2[0]));
  Value* rl = m.add(rad.lo, m.add(m.mul(acc.hi, m.c(kPio2[1])), m.mul(acc.lo, m.c(kPio2[0]))));
  return {m.fast_two_sum(rad.hi, rl), q};
}

// huge = false: Cody-Waite (right for |x| < 2^30; the caller replaces the other lanes through
// with_huge_lanes). huge = true: Payne-Hanek, for |x| >= 2^30 (inf/NaN: a harmless reduction,
// the caller gives NaN).
Reduced reduce_pio2(Math& m, Value* x, bool huge) {
  auto& b = m.b();
  Value* ax = m.fabs(x);
  if (!huge) return cody_waite(m, m.sel(b.CreateFCmpOLT(ax, m.c(0x1p30)), x, m.c(0.0)));
  Reduced ph = payne_hanek(m, m.sel(b.CreateFCmpOLT(ax, m.c(INFINITY)), ax, m.c(0x1p30)));
  // sin/cos of -|x|: negate the reduced argument and the quadrant.
  Value* negx = b.CreateFCmpOLT(x, m.c(0.0));
  DD phy{m.sel(negx, m.neg(ph.y.hi), ph.y.hi), m.sel(negx, m.neg(ph.y.lo), ph.y.lo)};
  return {phy, m.sel(negx, b.CreateNeg(ph.n), ph.n)};
}

// fdlibm k_sin.c / k_cos.c on |x + y| <= pi/4.
Value* kernel_sin(Math& m, DD v) {
  Value *x = v.hi, *y = v.lo;
  Value* z = m.mul(x, x);
  Value* w = m.mul(z, z);
  Value* r = m.add(m.poly(z, {8.33333333332248946124e-03, -1.98412698298579493134e-04, 2.75573137070700676789e-06}),
                   m.mul(m.mul(z, w), m.poly(z, {-2.50507602534068634195e-08, 1.58969099521155010221e-10})));
  Value* vv = m.mul(z, x);
  Value* inner = m.sub(m.mul(z, m.sub(m.mul(m.c(0.5), y), m.mul(vv, r))), y);
  return m.sub(x, m.sub(inner, m.mul(vv, m.c(-1.66666666666666324348e-01))));
}

Value* kernel_cos(Math& m, DD v) {
  Value *x = v.hi, *y = v.lo;
  Value* z = m.mul(x, x);
  Value* w = m.mul(z, z);
  Value* r = m.add(m.mul(z, m.poly(z, {4.16666666666666019037e-02, -1.38888888888741095749e-03,
                                       2.48015872894767294178e-05})),
                   m.mul(m.mul(w, w), m.poly(z, {-2.75573143513906633035e-07, 2.08757232129817482790e-09,
                                                 -1.13596475577881948265e-11})));
  Value* hz = m.mul(m.c(0.5), z);
  Value* one_hz = m.sub(m.c(1.0), hz);
  return m.add(one_hz, m.add(m.sub(m.sub(m.c(1.0), one_hz), hz), m.sub(m.mul(z, r), m.mul(x, y))));
}

Value* with_huge_lanes(Math& m, ir::Op op, Value* x, Value* fast, bool f32 = false);

Value* sincos64(Math& m, Value* x, bool is_cos, bool huge = false) {
  auto& b = m.b();
  Reduced red = reduce_pio2(m, x, huge);
  Value* q = b.CreateAnd(red.n, m.ci(3));
  if (is_cos) q = b.CreateAnd(b.CreateAdd(q, m.ci(1)), m.ci(3));  // cos x = sin(x + pi/2)
  Value* s = kernel_sin(m, red.y);
  Value* c = kernel_cos(m, red.y);
  Value* odd = b.CreateICmpNE(b.CreateAnd(q, m.ci(1)), m.ci(0));
  Value* res = m.sel(odd, c, s);
  res = m.sel(b.CreateICmpUGE(q, m.ci(2)), m.neg(res), res);
  Value* tiny = b.CreateFCmpOLT(m.fabs(x), m.c(0x1p-27));  // keeps sin(-0) == -0
  res = m.sel(tiny, is_cos ? m.c(1.0) : x, res);
  res = m.sel(b.CreateFCmpOLT(m.fabs(x), m.c(INFINITY)), res, m.sub(x, x));  // inf, nan -> nan
  return huge ? res : with_huge_lanes(m, is_cos ? ir::Op::Cos : ir::Op::Sin, x, res);
}

// ---- float: native single-precision algorithms (16 lanes per AVX-512 vector, no widening). ----

// Math32 (IR helpers over float with i32 integers) and DD: vmath_internal.h.

// e^x: max 0.759 ulp (0.660 for normal results; denormal results round twice).
Value* exp32(Math32& m, Value* x) {
  auto& b = m.b();
  // NaN -> 0 first (fixed at the end): the clamps' ordered compares signal on NaN (x86).
  Value* xc = m.sel(m.is_nan(x), m.c(0.0f), x);
  xc = m.sel(b.CreateFCmpOGT(xc, m.c(89.0f)), m.c(89.0f), xc);     // e^89 > FLT_MAX: inf
  xc = m.sel(b.CreateFCmpOLT(xc, m.c(-104.0f)), m.c(-104.0f), xc);  // e^-104 < 2^-150: 0
  ExpCoreF e = exp_core_f(m, xc);
  DD h = m.fast_two_sum(m.c(1.0f), e.r1);  // 1 + r1 with its exact rounding error
  Value* p = m.add(h.hi, m.add(h.lo, e.t));
  return m.sel(m.is_nan(x), x, m.scale(p, m.to_int(e.kf)));
}

// ---- pow ----

// C99/NumPy pow special cases around `core(|x|', y')`, all in double (float widens exactly):
// pow(x, +-0) = 1 and pow(1, y) = 1 even for NaN; otherwise NaN in gives NaN; negative finite x
// with a finite non-integer y gives NaN; odd integer y keeps the sign of x (including -0 and
// -inf); +-0 and +-inf bases and +-inf exponents follow C99 Annex F.
template <class Core>
Value* pow_with_specials(Math& m, Value* x, Value* y, Core core) {
  auto& b = m.b();
  Value* ax = m.fabs(x);
  Value* inf = m.c(INFINITY);
  Value* ax_ok = b.CreateAnd(b.CreateFCmpOGT(ax, m.c(0.0)), b.CreateFCmpOLT(ax, inf));
  Value* y_fin = b.CreateFCmpOLT(m.fabs(y), inf);
  Value* res = core(m.sel(ax_ok, ax, m.c(1.0)), m.sel(y_fin, y, m.c(0.0)));
  Value* ty = b.CreateUnaryIntrinsic(llvm::Intrinsic::trunc, y);
  Value* yint = b.CreateFCmpOEQ(ty, y);  // true for +-inf, false for NaN
  Value* hy = m.mul(y, m.c(0.5));
  Value* yodd = b.CreateAnd(yint, b.CreateFCmpUNE(b.CreateUnaryIntrinsic(llvm::Intrinsic::trunc, hy), hy));
  Value* neg_odd = b.CreateAnd(b.CreateICmpSLT(m.bits(x), m.ci(0)), yodd);
  // +-0 and +-inf bases with a finite y: 0 or inf, odd y keeps the sign.
  Value* big = b.CreateXor(b.CreateFCmpOEQ(ax, inf), b.CreateFCmpOLT(y, m.c(0.0)));
  res = m.sel(ax_ok, res, m.sel(big, inf, m.c(0.0)));
  res = m.sel(neg_odd, m.neg(res), res);
  Value* neg_finite = b.CreateAnd(b.CreateFCmpOLT(x, m.c(0.0)), b.CreateFCmpOGT(x, m.c(-INFINITY)));
  res = m.sel(b.CreateAnd(neg_finite, b.CreateNot(yint)), m.c(NAN), res);
  // y = +-inf: 1 for |x| = 1, else inf when (|x| > 1) == (y > 0), else +0.
  Value* yinf_v = m.sel(b.CreateICmpEQ(b.CreateFCmpOGT(ax, m.c(1.0)), b.CreateFCmpOGT(y, m.c(0.0))), inf, m.c(0.0));
  yinf_v = m.sel(b.CreateFCmpOEQ(ax, m.c(1.0)), m.c(1.0), yinf_v);
  res = m.sel(b.CreateFCmpOEQ(m.fabs(y), inf), yinf_v, res);
  res = m.sel(b.CreateFCmpUNO(x, y), m.add(x, y), res);
  return m.sel(b.CreateOr(b.CreateFCmpOEQ(y, m.c(0.0)), b.CreateFCmpOEQ(x, m.c(1.0))), m.c(1.0), res);
}


// ---- cbrt, tan, arcsin, arccos, arctan, arctan2, arcsinh, arccosh, arctanh, hypot (double;
// float widens and rounds once, see emit_vmath). ----

Value* sqrt64(Math& m, Value* x) { return m.b().CreateUnaryIntrinsic(llvm::Intrinsic::sqrt, x); }
// x with the low 32 bits of its representation cleared (fdlibm's SET_LOW_WORD(x, 0)).
Value* high_word(Math& m, Value* x) {
  return m.from_bits(m.b().CreateAnd(m.bits(x), m.ci(INT64_C(-4294967296))));
}

// FreeBSD's s_cbrt.c (< 0.667 ulp): a 5-bit estimate from the exponent bits divided by 3, a
// polynomial step to 23 bits, rounded away from zero to 23 bits, one Newton step. Works on |x|
// (denormals scaled by 2^54 for the estimate); +-0, +-inf and NaN return x.
Value* cbrt64(Math& m, Value* x) {
  auto& b = m.b();
  Value* ax = m.fabs(x);
  Value* sub = b.CreateFCmpOLT(ax, m.c(0x1p-1022));
  Value* hx = b.CreateLShr(m.bits(m.sel(sub, m.mul(ax, m.c(0x1p54)), ax)), m.ci(32));
  // hx / 3 (hx < 2^31): the quotient's fraction is 0, 1/3 or 2/3, so +0.1 and floor are exact.
  Value* third = m.b().CreateUnaryIntrinsic(llvm::Intrinsic::floor, m.add(m.mul(m.to_fp(hx), m.c(1.0 / 3)), m.c(0.1)));
  Value* bias = m.sel(sub, m.ci(696219795), m.ci(715094163));
  Value* t = m.from_bits(b.CreateShl(b.CreateAdd(m.to_int(third), bias), m.ci(32)));
  Value* r = m.mul(m.mul(t, t), m.div(t, ax));
  t = m.mul(t, m.add(m.poly(r, {1.87595182427177009643, -1.88497979543377169875, 1.621429720105354466140}),
                     m.mul(m.mul(m.mul(r, r), r), m.add(m.c(-0.758397934778766047437), m.mul(r, m.c(0.145996192886612446982))))));
  t = m.from_bits(b.CreateAnd(b.CreateAdd(m.bits(t), m.ci(0x80000000)), m.ci(INT64_C(-1073741824))));
  Value* s = m.mul(t, t);
  r = m.div(ax, s);
  r = m.div(m.sub(r, t), m.add(m.add(t, t), r));
  t = m.add(t, m.mul(t, r));
  Value* ok = b.CreateAnd(b.CreateFCmpOGT(ax, m.c(0.0)), b.CreateFCmpOLT(ax, m.c(INFINITY)));
  return m.sel(ok, m.copysign(t, x), x);  // +-0, +-inf, NaN: x
}

// tan on the sin/cos reduction x = n pi/2 + y (Cody-Waite below 2^30, Payne-Hanek above: every
// finite x is reduced exactly enough): vmath64_more.cpp's tan_kernel64 (sin/cos polynomials as
// pairs, one reciprocal). |x| < 2^-27 returns x (keeps -0); +-inf and NaN give NaN.
Value* tan64(Math& m, Value* x, bool huge = false) {
  auto& b = m.b();
  Reduced red = reduce_pio2(m, x, huge);
  Value* res = tan_kernel64(m, red.y, red.n);
  res = m.sel(b.CreateFCmpOLT(m.fabs(x), m.c(0x1p-27)), x, res);
  res = m.sel(b.CreateFCmpOLT(m.fabs(x), m.c(INFINITY)), res, m.sub(x, x));  // inf, nan -> nan
  return huge ? res : with_huge_lanes(m, ir::Op::Tan, x, res);
}

// ---- sin, cos, tan of |x| >= 2^30: the Payne-Hanek reduction, out of line. ----
// The inline code reduces by Cody-Waite only. Lanes with a finite |x| >= 2^30 take the value of
// tracejit.vm.huge.<op>(x), a noinline function holding the algorithm on the Payne-Hanek
// reduction (returning 0 for smaller |x|). Its call carries vector-function-abi-variant mappings, so the loop vectorizer
// calls tracejit.vm.huge.<op>.v<N>(<N x double>) instead: one test of the whole vector, and only
// a vector holding such a lane runs the full algorithm, lane by lane. Elements of ordinary size
// thus never pay for the 212-bit reduction (it cost 3-4x the rest of sin/cos/tan). After the
// optimizer, inline_vmath_variants puts the test in the loop and the call behind a branch marked
// unlikely (a call in every iteration clobbers every vector register: the loop's constants lived
// on the stack, and float sin took 5.6 ms instead of 4.1 on 4M elements, one thread).
constexpr unsigned kHugeVFs[] = {2, 4, 8, 16, 32, 64};

// f32: the float path's variant (widened lanes), for |x| >= 2^28 (the float reduction's limit):
// the double code, itself calling the double variant above 2^30.
std::string huge_name(ir::Op op, bool f32) {
  std::string n = op == ir::Op::Tan ? "tracejit.vm.huge.tan" : op == ir::Op::Cos ? "tracejit.vm.huge.cos" : "tracejit.vm.huge.sin";
  return f32 ? n + "f" : n;
}
double huge_threshold(bool f32) { return f32 ? 0x1p28 : 0x1p30; }

// The vector variant: zeros unless some lane has |x| >= threshold (NaN: no), else the scalar per lane.
void define_huge_variant(llvm::Module* mod, llvm::Function* scalar, unsigned vf, const std::string& name,
                         double threshold) {
  auto& ctx = mod->getContext();
  auto* vt = llvm::FixedVectorType::get(llvm::Type::getDoubleTy(ctx), vf);
  auto* f = llvm::Function::Create(llvm::FunctionType::get(vt, {vt}, false), llvm::GlobalValue::InternalLinkage, name, mod);
  f->setDoesNotThrow();
  auto* entry = llvm::BasicBlock::Create(ctx, "entry", f);
  auto* slow = llvm::BasicBlock::Create(ctx, "slow", f);
  auto* none = llvm::BasicBlock::Create(ctx, "none", f);
  llvm::IRBuilder<> vb(entry);
  Value* x = f->getArg(0);
  Value* big = vb.CreateFCmpOGE(vb.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, x), llvm::ConstantFP::get(vt, threshold));
  Value* any = vb.CreateICmpNE(vb.CreateBitCast(big, vb.getIntNTy(vf)), llvm::ConstantInt::get(vb.getIntNTy(vf), 0));
  vb.CreateCondBr(any, slow, none);
  vb.SetInsertPoint(none);
  vb.CreateRet(llvm::Constant::getNullValue(vt));
  vb.SetInsertPoint(slow);
  vmath_detail::return_per_lane_calls(vb, scalar, {x}, llvm::Constant::getNullValue(vt), vf);
  llvm::appendToCompilerUsed(*mod, {f});  // referenced only by the mapping until vectorization
}

llvm::Function* huge_function(llvm::Module* mod, ir::Op op, bool f32) {
  std::string name = huge_name(op, f32);
  if (llvm::Function* f = mod->getFunction(name)) return f;
  auto& ctx = mod->getContext();
  auto* dt = llvm::Type::getDoubleTy(ctx);
  auto* f = llvm::Function::Create(llvm::FunctionType::get(dt, {dt}, false), llvm::GlobalValue::InternalLinkage, name, mod);
  vmath_detail::mark_pure_out_of_line(f);
  auto* entry = llvm::BasicBlock::Create(ctx, "entry", f);
  auto* full = llvm::BasicBlock::Create(ctx, "huge", f);
  auto* small = llvm::BasicBlock::Create(ctx, "small", f);
  llvm::IRBuilder<> fb(entry);
  Math fm(fb);
  Value* x = f->getArg(0);
  fb.CreateCondBr(fb.CreateFCmpOGE(fm.fabs(x), fm.c(huge_threshold(f32))), full, small);
  fb.SetInsertPoint(small);
  fb.CreateRet(fm.c(0.0));
  fb.SetInsertPoint(full);
  bool huge = !f32;  // f32: the whole double algorithm (Cody-Waite up to 2^30)
  fb.CreateRet(op == ir::Op::Tan ? tan64(fm, x, huge) : sincos64(fm, x, op == ir::Op::Cos, huge));
  for (unsigned vf : kHugeVFs) define_huge_variant(mod, f, vf, name + ".v" + std::to_string(vf), huge_threshold(f32));
  return f;
}

Value* with_huge_lanes(Math& m, ir::Op op, Value* x, Value* fast, bool f32) {
  auto& b = m.b();
  llvm::Module* mod = b.GetInsertBlock()->getModule();
  llvm::Function* f = huge_function(mod, op, f32);
  llvm::CallInst* call = vmath_detail::call_with_variants(b, f, {x}, kHugeVFs);
  Value* ax = m.fabs(x);
  Value* huge = b.CreateAnd(b.CreateFCmpOGE(ax, m.c(huge_threshold(f32))), b.CreateFCmpOLT(ax, m.c(INFINITY)));
  return m.sel(huge, call, fast);
}

// float sin/cos/tan (x widened to double): FreeBSD's s_sinf.c/s_cosf.c. x = n pi/2 + y with
// n = rint(x 2/pi), y = (x - n p1) - n p1t, p1 the first 25 bits of pi/2 (n p1 exact for
// |x| < 2^28), p1t the next 53; k_sinf.c / k_cosf.c polynomials on y in double (|sin(y)/y - s(y)|
// < 2^-37.5, |cos(y) - c(y)| < 2^-34.1), so sin/cos are within 0.5 + 2^-10 float ulp before their
// one rounding; tan = s/c or -c/s (relative error < 2^-33.4: 0.5 + 2^-9.4 ulp). |x| < 2^-12
// gives x (sin, tan) or 1 (cos); |x| >= 2^28 the double code, out of line.
Value* trig32(Math& m, Value* xd, ir::Op op) {
  auto& b = m.b();
  Value* ax = m.fabs(xd);
  Value* xs = m.sel(b.CreateFCmpOLT(ax, m.c(0x1p28)), xd, m.c(0.0));
  Value* fn = m.rint(m.mul(xs, m.c(6.36619772367581382433e-01)));
  // fma: x - n p1 is exact either way; the second step skips the rounding of n p1t.
  Value* y = m.fma(m.neg(fn), m.c(1.58932547735281966916e-08), m.fma(m.neg(fn), m.c(1.57079631090164184570e+00), xs));
  Value* q = b.CreateAnd(m.to_int(fn), m.ci(3));
  bool is_cos = op == ir::Op::Cos;
  if (is_cos) q = b.CreateAnd(b.CreateAdd(q, m.ci(1)), m.ci(3));  // cos x = sin(x + pi/2)
  Value* z = m.mul(y, y);
  Value* w = m.mul(z, z);
  Value* s = m.mul(z, y);
  Value* sr = m.fma(z, m.c(0x16cd878c3b46a7.0p-71), m.c(-0x1a00f9e2cae774.0p-65));
  Value* sv = m.fma(m.mul(s, w), sr, m.fma(s, m.fma(z, m.c(0x111110896efbb2.0p-59), m.c(-0x15555554cbac77.0p-55)), y));
  Value* cr = m.fma(z, m.c(0x199342e0ee5069.0p-68), m.c(-0x16c087e80f1e27.0p-62));
  Value* cv = m.fma(m.mul(w, z), cr, m.fma(w, m.c(0x155553e1053a42.0p-57), m.fma(z, m.c(-0x1ffffffd0c5e81.0p-54), m.c(1.0))));
  Value* odd = b.CreateICmpNE(b.CreateAnd(q, m.ci(1)), m.ci(0));
  Value* res;
  if (op == ir::Op::Tan) {
    res = m.div(m.sel(odd, m.neg(cv), sv), m.sel(odd, sv, cv));
  } else {
    res = m.sel(odd, cv, sv);
    res = m.sel(b.CreateICmpUGE(q, m.ci(2)), m.neg(res), res);
  }
  res = m.sel(b.CreateFCmpOLT(ax, m.c(0x1p-12)), is_cos ? m.c(1.0) : xd, res);  // keeps sin(-0) == -0
  res = m.sel(b.CreateFCmpOLT(ax, m.c(INFINITY)), res, m.sub(xd, xd));       // inf, nan -> nan
  return with_huge_lanes(m, op, xd, res, /*f32=*/true);
}

// float sin/cos/tan of a lane with |x| >= 2^20, emitted into vmath32_trig.cpp's out-of-line
// path: the widened-double code above (sincos32_fast / trig32, the double algorithm from 2^28).
Value* trig32_widened(llvm::IRBuilderBase& b, ir::Op op, Value* x) {
  Math m(b);
  Value* xd = b.CreateFPExt(x, b.getDoubleTy());
  Value* r = op == ir::Op::Tan ? trig32(m, xd, op)
                               : with_huge_lanes(m, op, xd, vmath_detail::sincos32_fast(b, xd, op == ir::Op::Cos), true);
  return b.CreateFPTrunc(r, x->getType());
}

constexpr double kPio2Hi = 1.57079632679489655800e+00, kPio2Lo = 6.12323399573676603587e-17;

// fdlibm's R(t) = p(t)/q(t) of e_asin.c / e_acos.c (asin(x) = x + x R(x^2) for |x| < 0.5).
Value* asin_rational(Math& m, Value* t) {
  Value* p = m.mul(t, m.poly(t, {1.66666666666666657415e-01, -3.25565818622400915405e-01, 2.01212532134862925881e-01,
                                 -4.00555345006794114027e-02, 7.91534994289814532176e-04, 3.47933107596021167570e-05}));
  Value* q = m.poly(t, {1.0, -2.40339491173441421878e+00, 2.02094576023350569471e+00, -6.88283971605453293030e-01,
                        7.70381505559019352791e-02});
  return m.div(p, q);
}

// fdlibm's e_asin.c with its three branches computed on one rational R and selected:
// |x| < 0.5: x + x R(x^2); else with t = (1-|x|)/2, s = sqrt(t): above 0.975
// pi/2 - 2(s + s R(t)), below the same with s split in two 26-bit halves. |x| > 1 and NaN give
// NaN, +-0 and denormals return x.
Value* asin64(Math& m, Value* x) {
  auto& b = m.b();
  Value* a = m.fabs(x);
  Value* small = b.CreateFCmpOLT(a, m.c(0.5));
  Value* t = m.sel(small, m.mul(a, a), m.mul(m.sub(m.c(1.0), a), m.c(0.5)));
  Value* r = asin_rational(m, t);
  Value* res_small = m.add(a, m.mul(a, r));
  Value* s = sqrt64(m, t);
  Value* res_hi = m.sub(m.c(kPio2Hi), m.sub(m.mul(m.c(2.0), m.add(s, m.mul(s, r))), m.c(kPio2Lo)));
  Value* w = high_word(m, s);
  Value* c = m.div(m.sub(t, m.mul(w, w)), m.add(s, w));
  Value* p = m.sub(m.mul(m.mul(m.c(2.0), s), r), m.sub(m.c(kPio2Lo), m.mul(m.c(2.0), c)));
  Value* q = m.sub(m.c(7.85398163397448278999e-01), m.mul(m.c(2.0), w));
  Value* res_mid = m.sub(m.c(7.85398163397448278999e-01), m.sub(p, q));
  Value* res = m.sel(small, res_small,
                     m.sel(b.CreateFCmpOGE(a, m.from_bits(m.ci(INT64_C(0x3FEF333300000000)))), res_hi, res_mid));
  res = m.sel(b.CreateFCmpOLE(a, m.c(1.0)), m.copysign(res, x), m.c(NAN));
  return m.sel(m.is_nan(x), x, res);
}

// fdlibm's e_acos.c, branches selected: |x| < 0.5: pi/2 - (x - (pio2_lo - x R(x^2)));
// x < -0.5: pi - 2(s + (s R(t) - pio2_lo)) with t = (1+x)/2, s = sqrt(t); x > 0.5: 2(df + c + s R(t))
// with df + c = s split exactly. acos(1) = +0, acos(-1) = pi; |x| > 1 and NaN give NaN.
Value* acos64(Math& m, Value* x) {
  auto& b = m.b();
  Value* a = m.fabs(x);
  Value* small = b.CreateFCmpOLT(a, m.c(0.5));
  Value* t = m.sel(small, m.mul(x, x), m.mul(m.sub(m.c(1.0), a), m.c(0.5)));
  Value* r = asin_rational(m, t);
  Value* res_small = m.sub(m.c(kPio2Hi), m.sub(x, m.sub(m.c(kPio2Lo), m.mul(x, r))));
  Value* s = sqrt64(m, t);
  Value* res_neg = m.sub(m.c(3.14159265358979311600e+00), m.mul(m.c(2.0), m.add(s, m.sub(m.mul(r, s), m.c(kPio2Lo)))));
  Value* df = high_word(m, s);
  Value* c = m.div(m.sub(t, m.mul(df, df)), m.add(s, df));
  Value* res_pos = m.mul(m.c(2.0), m.add(df, m.add(m.mul(r, s), c)));
  Value* res = m.sel(small, res_small, m.sel(b.CreateFCmpOLT(x, m.c(0.0)), res_neg, res_pos));
  res = m.sel(b.CreateFCmpOEQ(x, m.c(1.0)), m.c(0.0), res);
  res = m.sel(b.CreateFCmpOLE(a, m.c(1.0)), res, m.c(NAN));
  return m.sel(m.is_nan(x), x, res);
}

// sqrt(u.hi + u.lo) as a double-double (one correction of the rounded root), for u.hi > 0.
DD sqrt_dd(Math& m, DD u) {
  Value* r = sqrt64(m, u.hi);
  Value* rl = m.div(m.add(m.fma(m.neg(r), r, u.hi), u.lo), m.add(r, r));
  return {r, rl};
}

// hypot(x, y) = sqrt(a^2 + b^2) with a >= b the magnitudes: the squares and their sum as exact
// pairs, the root corrected once (< 0.5 ulp + 2^-100 before the last rounding); scaled by 2^-600
// when a > 2^500 and by 2^600 when a < 2^-500 (exact; the smaller operand only loses bits far
// below the result's last place). hypot(x, +-0) = |x| exactly; an infinity gives +inf even with a
// NaN (C99, NumPy); otherwise NaN gives NaN.
Value* hypot64(Math& m, Value* x, Value* y) {
  auto& b = m.b();
  Value* ax = m.fabs(x);
  Value* ay = m.fabs(y);
  Value* xbig = b.CreateFCmpOGE(ax, ay);
  Value* a = m.sel(xbig, ax, ay);
  Value* c = m.sel(xbig, ay, ax);
  Value* hi = b.CreateFCmpOGT(a, m.c(0x1p500));
  Value* lo = b.CreateFCmpOLT(a, m.c(0x1p-500));
  Value* sc = m.sel(hi, m.c(0x1p-600), m.sel(lo, m.c(0x1p600), m.c(1.0)));
  Value* unsc = m.sel(hi, m.c(0x1p600), m.sel(lo, m.c(0x1p-600), m.c(1.0)));
  Value* as = m.mul(a, sc);
  Value* cs = m.mul(c, sc);
  DD pa = m.two_prod(as, as);
  DD pc = m.two_prod(cs, cs);
  DD s = m.two_sum(pa.hi, pc.hi);
  s = m.fast_two_sum(s.hi, m.add(s.lo, m.add(pa.lo, pc.lo)));
  DD r = sqrt_dd(m, s);
  Value* res = m.mul(m.add(r.hi, r.lo), unsc);
  res = m.sel(b.CreateFCmpOEQ(c, m.c(0.0)), a, res);
  res = m.sel(b.CreateFCmpUNO(x, y), m.add(x, y), res);
  Value* inf = m.c(INFINITY);
  return m.sel(b.CreateOr(b.CreateFCmpOEQ(ax, inf), b.CreateFCmpOEQ(ay, inf)), inf, res);
}

// ---- float arcsin, arccos, arctan, arctan2, cbrt: native single precision (16 lanes). ----

constexpr float kPio2HiF = 0x1.921fb6p+0f, kPio2LoF = -0x1.777a5cp-25f;  // pi/2 = hi + lo (+ 2^-51)
constexpr float kPiHiF = 0x1.921fb6p+1f, kPiLoF = -0x1.777a5cp-24f;


// base + sgn * atan(t + tl) for |t| <= tan(pi/8) (tl a correction far below t's ulp), base =
// bhi + blo: atan(t) = t + t z P(z), z = t^2, P a minimax fit (float coefficients, relative
// error of atan below 2^-30) of (atan(v) - v)/v^3 on [0, 1.03 tan^2(pi/8)]; bhi + sgn t as an
// exact pair (Fast2Sum: |bhi| >= pi/4 > |t|, or bhi = 0), the small terms added to its low
// part, one rounding at the end.
Value* atan_sum32(Math32& m, Value* t, Value* tl, Value* bhi, Value* blo, Value* neg) {
  Value* z = m.mul(t, t);
  Value* p = m.poly(z, {-0x1.555548p-2f, 0x1.9990e6p-3f, -0x1.23a670p-3f, 0x1.b0fff0p-4f, -0x1.ecf40cp-5f});
  // atan(t + tl) - t to first order: t z P + tl / (1 + z), the quotient to O(z^2) (tl z^2 is
  // below 0.03 of tl, itself about an ulp of t).
  Value* small = m.fma(m.mul(t, z), p, m.fma(m.neg(tl), z, tl));
  Value* st = m.sel(neg, m.neg(t), t);
  Value* ss = m.sel(neg, m.neg(small), small);
  DD h = m.fast_two_sum(bhi, st);
  return m.add(h.hi, m.add(h.lo, m.add(blo, ss)));
}

// The angle of (mx, mn) for 0 <= mn <= mx (mx finite, in [2^-64, 2^64] so the reciprocal is
// normal; mn normal or tiny enough), as an offset base plus or minus it: with v = mn / mx, atan v =
// atan t for v <= tan(pi/8), else pi/4 + atan t with t = (mn - mx) / (mn + mx), |t| <= tan(pi/8).
// Numerator and denominator are exact pairs (Fast2Sum), the reciprocal r of the denominator is
// rounded, t = num r and tl = (num - t den) r with the fma residual, so t + tl is within ~2^-44 of
// the quotient. The result is base + sgn * angle, base in {0, pi/2, pi} and sgn = -1 for `neg`
// (atan2's quadrants; atan's pi/2 - atan(1/a)), rounded once.
Value* atan_quadrant32(Math32& m, Value* mn, Value* mx, Value* base_pio2, Value* base_pi, Value* neg) {
  auto& b = m.b();
  Value* red = b.CreateFCmpOGT(mn, m.mul(mx, m.c(0x1.a827cap-2f)));  // v > 0.41421357
  DD nd = m.fast_two_sum(m.neg(mx), mn);
  DD dd = m.fast_two_sum(mx, mn);
  Value* num = m.sel(red, nd.hi, mn);
  Value* numl = m.sel(red, nd.lo, m.c(0.0f));
  Value* den = m.sel(red, dd.hi, mx);
  Value* denl = m.sel(red, dd.lo, m.c(0.0f));
  Value* r = m.div(m.c(1.0f), den);
  Value* t = m.mul(num, r);
  Value* tl = m.mul(m.add(m.fma(m.neg(t), den, num), m.fma(m.neg(t), denl, numl)), r);
  // base + sgn * (red ? pi/4 : 0): 0, pi/4, pi/2, 3pi/4 or pi (each as a float pair).
  Value* q1 = m.sel(base_pi, m.sel(neg, m.c(0x1.2d97c8p+1f), m.c(0x1.2d97c8p+1f)), m.sel(base_pio2, m.sel(neg, m.c(0x1.921fb6p-1f), m.c(0x1.2d97c8p+1f)), m.c(0x1.921fb6p-1f)));
  Value* q1l = m.sel(base_pi, m.c(-0x1.99bc5cp-28f), m.sel(base_pio2, m.sel(neg, m.c(-0x1.777a5cp-26f), m.c(-0x1.99bc5cp-28f)), m.c(-0x1.777a5cp-26f)));
  Value* q0 = m.sel(base_pi, m.c(kPiHiF), m.sel(base_pio2, m.c(kPio2HiF), m.c(0.0f)));
  Value* q0l = m.sel(base_pi, m.c(kPiLoF), m.sel(base_pio2, m.c(kPio2LoF), m.c(0.0f)));
  return atan_sum32(m, t, tl, m.sel(red, q1, q0), m.sel(red, q1l, q0l), neg);
}

// atan|x| = atan t for |x| <= tan(pi/8), pi/4 + atan t with t = (|x| - 1)/(|x| + 1) up to
// 1/tan(pi/8), else pi/2 + atan t with t = -1/|x| (|t| <= tan(pi/8) in each); numerator and
// denominator exact pairs (|x| - 1 and |x| + 1 by Fast2Sum from 1: |x| - 1 is exact above 1/2,
// and s - 1 = |x| exactly below), t + tl as atan_quadrant32's, atan_sum32 with sgn = +1.
// |x| >= 2^64: pi/2 rounded (1/|x| is below its half ulp). Sign restored (-0 stays -0).
Value* atan32(Math32& m, Value* x) {
  auto& b = m.b();
  Value* a = m.fabs(x);
  Value* r1 = b.CreateFCmpOGT(a, m.c(0x1.a827cap-2f));  // > tan(pi/8)
  Value* r2 = b.CreateFCmpOGT(a, m.c(0x1.3504f4p+1f));  // > 1/tan(pi/8) = 2.41421...
  DD nd = m.fast_two_sum(m.c(-1.0f), a);
  DD dd = m.fast_two_sum(m.c(1.0f), a);
  Value* am = m.sel(b.CreateFCmpOLT(a, m.c(0x1p64f)), a, m.c(0x1p64f));  // inf: 1/2^64
  Value* num = m.sel(r2, m.c(-1.0f), m.sel(r1, nd.hi, a));
  Value* numl = m.sel(r2, m.c(0.0f), m.sel(r1, nd.lo, m.c(0.0f)));
  Value* den = m.sel(r2, am, m.sel(r1, dd.hi, m.c(1.0f)));
  Value* denl = m.sel(r2, m.c(0.0f), m.sel(r1, dd.lo, m.c(0.0f)));
  Value* r = m.div(m.c(1.0f), den);
  Value* t = m.mul(num, r);
  Value* tl = m.mul(m.add(m.fma(m.neg(t), den, num), m.fma(m.neg(t), denl, numl)), r);
  Value* bhi = m.sel(r2, m.c(kPio2HiF), m.sel(r1, m.c(0x1.921fb6p-1f), m.c(0.0f)));
  Value* blo = m.sel(r2, m.c(kPio2LoF), m.sel(r1, m.c(-0x1.777a5cp-26f), m.c(0.0f)));
  Value* res = atan_sum32(m, t, tl, bhi, blo, b.getFalse());
  return m.copysign(res, x);  // NaN: t NaN
}

// atan2(y, x): mn / mx = min(|y|, |x|) / max(|y|, |x|), both scaled by a power of two that
// brings mx near 1 (exact unless mn sc is denormal); then atan_quadrant32 with base 0
// + angle, pi/2 - angle (|y| > |x|), pi - angle (x < 0, sign bit: -0 counts) or pi/2 + angle
// (both); the sign of y last. C99's zero / infinity table exactly as atan2_64 (zeros through
// the arithmetic, infinities as selects).
Value* atan2_32(Math32& m, Value* y, Value* x) {
  auto& b = m.b();
  Value* ax = m.fabs(x);
  Value* ay = m.fabs(y);
  Value* swap = b.CreateFCmpOGT(ay, ax);
  Value* mx = m.sel(swap, ay, ax);
  Value* mn = m.sel(swap, ax, ay);
  // sc = 2^(167 - E) for mx's biased exponent E (at least 40): mx sc in [2^-22, 2^42), so the
  // reciprocal is normal and mn sc exact and normal unless mn / mx < 2^-166 (a result that rounds
  // to 0 anyway); a denormal result rounds once, from t + tl on the denormal grid. 0, inf and NaN
  // lanes end in the selects below.
  Value* e = b.CreateLShr(m.bits(mx), m.ci(23));
  e = m.sel(b.CreateICmpSLT(e, m.ci(40)), m.ci(40), e);
  Value* sc = m.from_bits(b.CreateShl(b.CreateSub(m.ci(294), e), m.ci(23)));
  Value* inf = m.c(INFINITY);
  Value* xneg = b.CreateICmpSLT(m.bits(x), m.ci(0));
  // Both zero: mx sc = 0 raised to 2^-100, so t = 0 and the base alone is the result (+-0 or
  // +-pi); one zero operand gives t = 0 the same way (0, pi or pi/2). NaN stays NaN (the compare
  // is false for it) and propagates through t, so no select is needed for it either.
  Value* mxs = m.mul(mx, sc);
  mxs = m.sel(b.CreateFCmpOLT(mxs, m.c(0x1p-100f)), m.c(0x1p-100f), mxs);
  Value* res = atan_quadrant32(m, m.mul(mn, sc), mxs, swap, b.CreateAnd(xneg, b.CreateNot(swap)), b.CreateXor(swap, xneg));
  // An infinite operand (mx sc = inf, t NaN or 0 with a NaN correction): the C99 table.
  res = m.sel(b.CreateAnd(b.CreateFCmpOEQ(ay, inf), b.CreateFCmpOLT(ax, inf)), m.c(kPio2HiF), res);
  res = m.sel(b.CreateAnd(b.CreateFCmpOEQ(ax, inf), b.CreateFCmpOLT(ay, inf)), m.sel(xneg, m.c(kPiHiF), m.c(0.0f)), res);
  res = m.sel(b.CreateAnd(b.CreateFCmpOEQ(ax, inf), b.CreateFCmpOEQ(ay, inf)),
              m.sel(xneg, m.c(0x1.2d97c8p+1f), m.c(0x1.921fb6p-1f)), res);
  return m.copysign(res, y);  // NaN: NaN
}

// cbrt: |x| = 2^(3k) m with m = f 2^j in [1, 8), f in [1, 2), j in {0, 1, 2} (denormals scaled
// by 2^24 first); u ~ m^(-1/3) = f^(-1/3) 2^(-j/3) from a quadratic in f (minimax, relative error
// < 0.0018), one division-free Newton step u <- u (4/3 - (m/3) u^3) (error e -> ~2e^2: < 2^-17),
// y = m u^2, and one Newton step for the root with the residual y^3 - m from exact fma products:
// y - (y^3 - m) u^2/3, rounded once (its own error < 2^-30 relative), times 2^k by adding to the
// exponent bits (float cube roots are never denormal). Zen 4 runs 512-bit multiplies and fmas on
// one pipe pair, so the kernel counts them (19). +-0, +-inf, NaN return x.
Value* cbrt32(Math32& m, Value* x) {
  auto& b = m.b();
  Value* a = m.fabs(x);
  Value* ok = b.CreateAnd(b.CreateFCmpOGT(a, m.c(0.0f)), b.CreateFCmpOLT(a, m.c(INFINITY)));
  Value* den = b.CreateFCmpOLT(a, m.c(0x1p-126f));
  Value* as = m.sel(ok, m.sel(den, m.mul(a, m.c(0x1p24f)), a), m.c(1.0f));
  Value* ia = m.bits(as);
  Value* ef = m.to_fp(b.CreateSub(b.CreateLShr(ia, m.ci(23)), m.ci(127)));  // [-150, 127]
  // k = floor(e / 3) = floor((e + 1/2) / 3): never within 1/6 of an integer, so rounding is safe.
  Value* kf = b.CreateUnaryIntrinsic(llvm::Intrinsic::floor, m.fma(ef, m.c(1.0f / 3), m.c(1.0f / 6)));
  Value* k3f = m.add(kf, m.add(kf, kf));
  Value* jf = m.sub(ef, k3f);
  Value* mm = m.from_bits(b.CreateSub(ia, b.CreateShl(m.to_int(k3f), m.ci(23))));
  Value* f = m.from_bits(b.CreateOr(b.CreateAnd(ia, m.ci(0x007fffff)), m.ci(0x3f800000)));
  Value* cj = m.sel(b.CreateFCmpOEQ(jf, m.c(0.0f)), m.c(1.0f),
                    m.sel(b.CreateFCmpOEQ(jf, m.c(1.0f)), m.c(0x1.965feap-1f), m.c(0x1.428a30p-1f)));
  Value* u = m.mul(m.poly(f, {0x1.635e1cp+0f, -0x1.eeeb50p-2f, 0x1.7e8dc6p-4f}), cj);
  Value* m3 = m.mul(mm, m.c(1.0f / 3));
  u = m.mul(u, m.fma(m.neg(m.mul(m3, u)), m.mul(u, u), m.c(4.0f / 3)));
  Value* u2 = m.mul(u, u);
  Value* y = m.mul(mm, u2);
  // y^3 - m = (y2 + y2l) y - m: y2 y - m rounded once (it is small), plus y2l y.
  Value* y2 = m.mul(y, y);
  Value* y2l = m.fma(y, y, m.neg(y2));
  Value* r = m.fma(y2l, y, m.fma(y2, y, m.neg(mm)));
  y = m.fma(m.neg(r), m.mul(u2, m.c(1.0f / 3)), y);
  Value* k = b.CreateSub(m.to_int(kf), m.sel(den, m.ci(8), m.ci(0)));  // [-58, 42]
  Value* res = m.from_bits(b.CreateAdd(m.bits(y), b.CreateShl(k, m.ci(23))));
  return m.sel(ok, m.copysign(res, x), x);
}

Value* emit64(Math& m, ir::Op op, Value* x) {
  // sinh, cosh, log, log2, log10, log1p: vmath64_more.cpp; exp, exp2, expm1, tanh: vmath64_fast.cpp.
  if (Value* r = emit_more64(m.b(), op, x)) return r;
  if (Value* r = emit_fast64(m.b(), op, x)) return r;
  switch (op) {
    case ir::Op::Cbrt: return cbrt64(m, x);
    case ir::Op::Tan: return tan64(m, x);
    case ir::Op::Asin: return asin64(m, x);
    case ir::Op::Acos: return acos64(m, x);
    case ir::Op::Atan: return vmath_detail::atan_inv64(m, x);
    case ir::Op::Asinh: return vmath_detail::asinh_inv64(m, x);
    case ir::Op::Acosh: return vmath_detail::acosh_inv64(m, x);
    case ir::Op::Atanh: return vmath_detail::atanh_inv64(m, x);
    case ir::Op::Sin: return sincos64(m, x, false);
    default: return sincos64(m, x, true);
  }
}

}  // namespace

void inline_vmath_variants(llvm::Module& m) {
  inline_fast64_variants(m);
  inline_lut32_variants(m);
  std::vector<std::pair<llvm::CallInst*, double>> calls;
  for (llvm::Function& f : m) {
    if (!f.getName().startswith("tracejit.vm.huge.") || !f.getReturnType()->isVectorTy()) continue;
    double threshold = f.getName().contains("f.v") ? huge_threshold(true) : huge_threshold(false);
    for (llvm::User* u : f.users())
      if (auto* c = llvm::dyn_cast<llvm::CallInst>(u); c && c->getCalledFunction() == &f) calls.emplace_back(c, threshold);
  }
  for (auto [c, threshold] : calls) {
    llvm::IRBuilder<> b(c);
    Value* x = c->getArgOperand(0);
    auto* vt = llvm::cast<llvm::FixedVectorType>(x->getType());
    unsigned n = vt->getNumElements();
    Value* big = vmath_detail::abs_at_least(b, x, threshold);
    Value* any = b.CreateICmpNE(b.CreateBitCast(big, b.getIntNTy(n)), llvm::ConstantInt::get(b.getIntNTy(n), 0));
    llvm::BasicBlock* head = c->getParent();
    llvm::Instruction* then_end = llvm::SplitBlockAndInsertIfThen(
        any, c, false, llvm::MDBuilder(m.getContext()).createBranchWeights(1, 1 << 20));
    llvm::BasicBlock* tail = c->getParent();
    c->moveBefore(then_end);
    llvm::PHINode* phi = llvm::PHINode::Create(vt, 2, "huge", &tail->front());
    c->replaceAllUsesWith(phi);
    phi->addIncoming(c, then_end->getParent());
    phi->addIncoming(llvm::Constant::getNullValue(vt), head);
  }
  vmath_detail::inline_trig32_variants(m);
  vmath_detail::inline_pow32_variants(m);
}

bool has_vmath(ir::Op op) {
  switch (op) {
    case ir::Op::Exp: case ir::Op::Log: case ir::Op::Tanh: case ir::Op::Sin: case ir::Op::Cos:
    case ir::Op::Expm1: case ir::Op::Log1p: case ir::Op::Exp2: case ir::Op::Log2: case ir::Op::Log10:
    case ir::Op::Sinh: case ir::Op::Cosh: case ir::Op::Cbrt: case ir::Op::Tan: case ir::Op::Asin:
    case ir::Op::Acos: case ir::Op::Atan: case ir::Op::Asinh: case ir::Op::Acosh: case ir::Op::Atanh:
      return true;
    default:
      return false;
  }
}

bool has_vmath2(ir::Op op) { return op == ir::Op::Atan2 || op == ir::Op::Hypot; }

llvm::Value* emit_vmath2(llvm::IRBuilderBase& b, ir::Op op, llvm::Value* x, llvm::Value* y) {
  Math m(b);
  bool f32 = !x->getType()->isDoubleTy();
  if (f32 && op == ir::Op::Hypot) {
    // float: x^2 + y^2 in double (the squares exact, no overflow or underflow), one rounding
    // of the sum and the root before the last (< 2^-52 relative), then the same special cases.
    Value* xd = b.CreateFPExt(x, b.getDoubleTy());
    Value* yd = b.CreateFPExt(y, b.getDoubleTy());
    Value* r = sqrt64(m, m.add(m.mul(xd, xd), m.mul(yd, yd)));
    r = m.sel(b.CreateFCmpUNO(xd, yd), m.add(xd, yd), r);
    Value* inf = m.c(INFINITY);
    r = m.sel(b.CreateOr(b.CreateFCmpOEQ(m.fabs(xd), inf), b.CreateFCmpOEQ(m.fabs(yd), inf)), inf, r);
    return b.CreateFPTrunc(r, x->getType());
  }
  if (f32) {
    Math32 m32(b);
    return atan2_32(m32, x, y);
  }
  return op == ir::Op::Hypot ? hypot64(m, x, y) : vmath_detail::atan2_inv64(m, x, y);
}

llvm::Value* emit_vmath(llvm::IRBuilderBase& b, ir::Op op, llvm::Value* x) {
  if (x->getType()->isDoubleTy()) {
    Math m(b);
    return emit64(m, op, x);
  }
  // float: exp, log, tanh, arcsin, arccos, arctan, cbrt, arcsinh, arccosh, arctanh natively; the
  // others as a double algorithm on the widened argument, rounded once.
  Math32 m32(b);
  switch (op) {
    case ir::Op::Exp: return exp32(m32, x);
    case ir::Op::Log: return vmath_detail::log_tab32(m32, x);
    case ir::Op::Tanh: return vmath_detail::tanh32_hyp(m32, x);
    case ir::Op::Asin: return vmath_detail::asin_inv32(m32, x);
    case ir::Op::Acos: return vmath_detail::acos_inv32(m32, x);
    case ir::Op::Atan: return atan32(m32, x);
    case ir::Op::Cbrt: return cbrt32(m32, x);
    case ir::Op::Asinh: return vmath_detail::asinh_inv32(m32, x);
    case ir::Op::Acosh: return vmath_detail::acosh_inv32(m32, x);
    case ir::Op::Atanh: return vmath_detail::atanh_inv32(m32, x);
    case ir::Op::Sinh: return vmath_detail::sinhcosh32_hyp(m32, x, false);
    case ir::Op::Cosh: return vmath_detail::sinhcosh32_hyp(m32, x, true);
    case ir::Op::Exp2: return vmath_detail::exp2_32(m32, x);
    case ir::Op::Log2: return vmath_detail::log2_tab32(m32, x);
    case ir::Op::Log10: return vmath_detail::log10_tab32(m32, x);
    case ir::Op::Expm1: return vmath_detail::expm1_32_hyp(m32, x);
    case ir::Op::Log1p: return vmath_detail::log1p_tab32(m32, x);
    case ir::Op::Sin: case ir::Op::Cos: case ir::Op::Tan: return vmath_detail::trig32v(m32, op, x, trig32_widened);
    default: break;
  }
  // anything else: the double algorithm on the widened argument, rounded once.
  Math m(b);
  return b.CreateFPTrunc(emit64(m, op, b.CreateFPExt(x, b.getDoubleTy())), x->getType());
}

llvm::Value* emit_vpow(llvm::IRBuilderBase& b, llvm::Value* x, llvm::Value* y) {
  if (x->getType()->isDoubleTy()) {
    Math m(b);
    return pow_with_specials(m, x, y, [&](Value* ax, Value* yy) { return emit_fast_pow_core64(b, ax, yy); });
  }
  Math32 m32(b);
  return vmath_detail::pow32v(m32, x, y);
}

}  // namespace tracejit::backends
