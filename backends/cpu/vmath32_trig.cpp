// Native single-precision sin, cos, tan as straight-line LLVM IR (16 float lanes per AVX-512
// vector, float arithmetic with fused multiply-adds, no widening to double); vmath.cpp's
// emit_vmath dispatches float sin/cos/tan here.
//
// Reduction (every lane, |x| < 2^20): with a = |x|, k = fma(a, 2/pi, 1.5 * 2^23) rounds
// a * 2/pi to the integer n = k - 1.5 * 2^23 (a float below 2^22; the low bits of k's encoding
// are n mod 4, so there is no float-to-int conversion, and NaN/inf give garbage bits, never
// poison), and a = n pi/2 + rh + rl with pi/2 = P1 + P2 + P3 (three floats, 24 bits each,
// pi/2 - (P1 + P2 + P3) < 2^-76):
//   r1 = fma(-n, P1, a)   exact: n P1 is a multiple of 2^-23, so is a when a >= 1 (and of
//                         2^-24 when n = 1 and a < 1), and |r1| < 1;
//   rh = r1 - n*P2        (the product rounded), d = r1 - rh exact (Fast2Sum: r1 is a multiple
//                         of ulp(n*P2), |n*P2| < 2^-5);
//   rl = fma(-n, P3, fma(-n, P2, d))   the rest of r1 - n(P2 + P3), rounded twice, at 2^-24
//                         of itself.
// |rh + rl - (a - n pi/2)| <= 2^-57 (n times the rest of pi/2) + 2^-23 |rl| (|rl| <= 2^-24 |rh|
// + 2^-29.7), against the smallest |a - n pi/2| of any
// float below 2^20, 2^-27.8 (x = 0x1.f9cbe2p+7; tests/cpp/backends/test_vmath.cpp
// Float32NativeTrigHardCases lists the closest float to k pi/2 of each binade, found by a search
// over every float). a * 2/pi is rounded with 2/pi as a float (2^-25.2 off), so near 2^20 n can
// be off by one half-quadrant's sliver: |rh| <= pi/4 + 0.043 < 0.83.
// Kernels, z = rh^2, w + e = 1 - rh^2/2 exactly (w = fma(rh, -rh/2, 1), e its rounding error by
// a second fma: 1 - w is exact):
//   sin r = rh + (rh z S(z) + rl w)      (rl cos rh ~ rl w)
//   cos r = w + (z^2 C(z) + (e - rh rl))
// S, C: degree-3 minimax polynomials (float coefficients, fitted with each coefficient rounded in
// turn) of (sin r - r)/r^3 and (cos r - 1 + r^2/2)/r^4 on |r| <= 0.83, relative error of the
// result below 2^-32. sin and cos share everything but the polynomial: each lane evaluates
// the one its quadrant needs (coefficients, head and tail selected per lane: n odd swaps sin
// and cos, bit 1 of n (of n + 1 for cos) flips the sign, together with x's sign for sin, the
// kernels running on |x|, so sin(-0) = -0). tan: both pairs (rh z as an exact product there:
// its rounding alone cost 0.08 ulp), numerator and denominator chosen by
// n's parity (-cos/sin for odd n), one division q0 = N/D of the rounded pairs, then the
// correction u = (nh + nl) - q0 (dh + dl) (fma residuals) times 1/D to 2^-6 (the integer
// reciprocal estimate 0x7ef311c3 - bits(D) and one Newton step; D's sign passes through the
// subtraction as the top bit), q0 + u/D rounded once.
// Max error over every float32 |x| < 2^20 (a C++ model of these float operations, op for op,
// against glibc's long double sinl/cosl/tanl, every float in [2^-3, 2^20) and its negative):
// sin 0.742, cos 0.739, tan 0.875 ulp. The compiled kernels, by float32_exhaustive.py's method
// (every float32 0 <= x < 2^20 and every 97th negative one, against NumPy's float64): sin
// 0.7423 at x = 0x1.f92ca6p+18, cos 0.7385 at 0x1.c83096p+18, tan 0.8754 at 0x1.ebd37ap+19, the
// model's worst inputs and values (no class mismatches). Tiny x gives x (sin, tan) and 1 (cos),
// the correctly rounded results; denormals pass through, signed zeros kept.
// Speed, 4M float32 uniform in [-10, 10], one thread (TRACEJIT_NUM_THREADS=1), process CPU time,
// min of 15, NumPy 2.4 in the same process, shared 2-core Zen 4 at load 6-9 (ms; before: the
// widened-double trig32 code): sin 4.00 -> 1.68-1.79 (NumPy 2.08), cos 4.06 -> 1.70-1.78
// (2.14), tan 4.6 -> 2.70-2.83 (1.63). The loop body per 16 lanes (load, store, loop control
// and the huge-lane test included): sin/cos 39 instructions (the reduction 9, one polynomial
// through per-lane coefficient selects); tan 54 and a division (both polynomials, the pair
// quotient's correction), still ~1.7x NumPy's time; the division itself is ~7% of it (measured
// by replacing it with a multiply).
// Kernel compile time (first call of np.sin/cos/tan on float32, object cache off, loaded machine,
// best of 3): 250-300 ms before, 330-380 ms with the float out-of-line layer, 207-232 ms once the
// vector variants no call uses are deleted before code generation (18 per function, each a lane
// loop over up to 64 elements; 45-75 ms of it is the kernel itself, the rest the out-of-line
// scalar paths).
//
// |x| >= 2^20 (finite): the value of tracejit.vm.huge32.<op>(x, fast), a noinline function that
// holds vmath.cpp's previous float code (FreeBSD's float kernels on the argument widened to
// double, Payne-Hanek above 2^30), unchanged results there. Its call carries
// vector-function-abi-variant mappings; the variants return `fast` unless some lane needs the slow
// path, and inline_trig32_variants (after the optimizer) leaves in the loop one compare of the
// vector against 2^20 and the call behind an unlikely branch (and deletes the variants no call
// uses). NaN and +-inf come out NaN from the arithmetic (fma(-inf, P1, inf)).
#include "backends/cpu/vmath32_trig.h"

#include <llvm/IR/Constants.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Instructions.h>
#include <llvm/IR/MDBuilder.h>
#include <llvm/IR/Module.h>
#include <llvm/Transforms/Utils/BasicBlockUtils.h>
#include <llvm/Transforms/Utils/ModuleUtils.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

namespace tracejit::backends::vmath_detail {
namespace {

constexpr float kP1 = 0x1.921fb6p+0f, kP2 = -0x1.777a5cp-25f, kP3 = -0x1.ee59dap-50f;
constexpr float kS[4] = {-0x1.555556p-3f, 0x1.111168p-7f, -0x1.a049dp-13f, 0x1.779984p-19f};
constexpr float kC[4] = {0x1.555556p-5f, -0x1.6c174ap-10f, 0x1.a05cp-16f, -0x1.306ec4p-22f};
constexpr unsigned kVFs[] = {2, 4, 8, 16, 32, 64};

std::string huge_name(ir::Op op) {
  return op == ir::Op::Tan ? "tracejit.vm.huge32.tan" : op == ir::Op::Cos ? "tracejit.vm.huge32.cos" : "tracejit.vm.huge32.sin";
}

// The vector variant: `fast` unless some lane has |x| >= kTrig32Bound, else the scalar per lane.
void define_variant(llvm::Module* mod, llvm::Function* scalar, unsigned vf, const std::string& name) {
  auto& ctx = mod->getContext();
  auto* vt = llvm::FixedVectorType::get(llvm::Type::getFloatTy(ctx), vf);
  auto* f = llvm::Function::Create(llvm::FunctionType::get(vt, {vt, vt}, false), llvm::GlobalValue::InternalLinkage,
                                   name, mod);
  f->setDoesNotThrow();
  auto* entry = llvm::BasicBlock::Create(ctx, "entry", f);
  auto* slow = llvm::BasicBlock::Create(ctx, "slow", f);
  auto* none = llvm::BasicBlock::Create(ctx, "none", f);
  llvm::IRBuilder<> vb(entry);
  Value* x = f->getArg(0);
  Value* fast = f->getArg(1);
  Value* big = abs_at_least(vb, x, kTrig32Bound);
  Value* any = vb.CreateICmpNE(vb.CreateBitCast(big, vb.getIntNTy(vf)), llvm::ConstantInt::get(vb.getIntNTy(vf), 0));
  vb.CreateCondBr(any, slow, none);
  vb.SetInsertPoint(none);
  vb.CreateRet(fast);
  vb.SetInsertPoint(slow);
  return_per_lane_calls(vb, scalar, {x, fast}, fast, vf);
  llvm::appendToCompilerUsed(*mod, {f});  // referenced only by the mapping until vectorization
}

// float tracejit.vm.huge32.<op>(float x, float fast): slow(x) for finite |x| >= kTrig32Bound,
// else fast.
llvm::Function* huge_function(llvm::Module* mod, ir::Op op, Trig32Slow slow) {
  std::string name = huge_name(op);
  if (llvm::Function* f = mod->getFunction(name)) return f;
  auto& ctx = mod->getContext();
  auto* ft = llvm::Type::getFloatTy(ctx);
  auto* f = llvm::Function::Create(llvm::FunctionType::get(ft, {ft, ft}, false), llvm::GlobalValue::InternalLinkage,
                                   name, mod);
  mark_pure_out_of_line(f);
  auto* entry = llvm::BasicBlock::Create(ctx, "entry", f);
  auto* full = llvm::BasicBlock::Create(ctx, "huge", f);
  auto* small = llvm::BasicBlock::Create(ctx, "small", f);
  llvm::IRBuilder<> fb(entry);
  Math32 fm(fb);
  Value* x = f->getArg(0);
  Value* ax = fm.fabs(x);
  fb.CreateCondBr(fb.CreateAnd(fb.CreateFCmpOGE(ax, fm.c(kTrig32Bound)), fb.CreateFCmpOLT(ax, fm.c(INFINITY))), full, small);
  fb.SetInsertPoint(small);
  fb.CreateRet(f->getArg(1));
  fb.SetInsertPoint(full);
  fb.CreateRet(slow(fb, op, x));
  for (unsigned vf : kVFs) define_variant(mod, f, vf, name + ".v" + std::to_string(vf));
  return f;
}

Value* with_huge_lanes32(Math32& m, ir::Op op, Value* x, Value* fast, Trig32Slow slow) {
  auto& b = m.b();
  llvm::Function* f = huge_function(b.GetInsertBlock()->getModule(), op, slow);
  return vmath_detail::call_with_variants(b, f, {x, fast}, kVFs);
}

}  // namespace

Value* trig32v(Math32& m, ir::Op op, Value* x, Trig32Slow slow) {
  auto& b = m.b();
  Value* ax = m.fabs(x);
  Value* k = m.fma(ax, m.c(0x1.45f306p-1f), m.c(0x1.8p23f));
  Value* nn = m.sub(m.c(0x1.8p23f), k);  // -n
  Value* r1 = m.fma(nn, m.c(kP1), ax);
  Value* rh = m.add(r1, m.mul(nn, m.c(kP2)));
  Value* rl = m.fma(nn, m.c(kP3), m.fma(nn, m.c(kP2), m.sub(r1, rh)));
  Value* q = m.bits(k);  // n mod 4 in the low bits
  if (op == ir::Op::Cos) q = b.CreateAdd(q, m.ci(1));  // cos r = sin(r + pi/2)
  Value* odd = b.CreateICmpNE(b.CreateAnd(q, m.ci(1)), m.ci(0));
  Value* z = m.mul(rh, rh);
  Value* hrh = m.mul(rh, m.c(-0.5f));
  Value* w = m.fma(rh, hrh, m.c(1.0f));
  Value* e = m.fma(rh, hrh, m.sub(m.c(1.0f), w));  // w + e = 1 - rh^2/2
  Value* cos_lo = m.fma(m.neg(rh), rl, e);
  Value* sin_lo = m.mul(rl, w);
  Value* sgn;  // bit 31: the sign to apply
  Value* res;
  if (op == ir::Op::Tan) {
    // rh z as an exact pair: its rounding would cost tan 0.08 ulp
    DD rz = m.two_prod(rh, z);
    Value* ps = m.poly(z, {kS[0], kS[1], kS[2], kS[3]});
    Value* ts = m.fma(rz.hi, ps, m.fma(rz.lo, ps, sin_lo));
    Value* tc = m.fma(m.mul(z, z), m.poly(z, {kC[0], kC[1], kC[2], kC[3]}), cos_lo);
    Value* nh = m.sel(odd, w, rh);
    Value* nl = m.sel(odd, tc, ts);
    Value* dh = m.sel(odd, rh, w);
    Value* dl = m.sel(odd, ts, tc);
    Value* num = m.add(nh, nl);
    Value* den = m.add(dh, dl);
    Value* q0 = m.div(num, den);
    Value* u = m.fma(m.neg(q0), dl, m.add(m.fma(m.neg(q0), dh, nh), nl));
    Value* y0 = m.from_bits(b.CreateSub(m.ci(0x7ef311c3), m.bits(den)));  // ~1/den to 2^-3, den's sign
    Value* y1 = m.fma(y0, m.fma(m.neg(den), y0, m.c(1.0f)), y0);
    res = m.fma(u, y1, q0);
    sgn = b.CreateXor(b.CreateShl(q, m.ci(31)), m.bits(x));
  } else {
    auto coef = [&](int i) { return m.sel(odd, m.c(kC[i]), m.c(kS[i])); };
    Value* p = m.fma(m.fma(m.fma(coef(3), z, coef(2)), z, coef(1)), z, coef(0));
    Value* t = m.fma(m.sel(odd, m.mul(z, z), m.mul(rh, z)), p, m.sel(odd, cos_lo, sin_lo));
    res = m.add(m.sel(odd, w, rh), t);
    sgn = b.CreateShl(q, m.ci(30));
    if (op == ir::Op::Sin) sgn = b.CreateXor(sgn, m.bits(x));
  }
  res = m.from_bits(b.CreateXor(m.bits(res), b.CreateAnd(sgn, m.ci(INT32_MIN))));
  return with_huge_lanes32(m, op, x, res, slow);
}

void inline_trig32_variants(llvm::Module& m) {
  std::vector<llvm::CallInst*> calls;
  for (llvm::Function& f : m) {
    if (!f.getName().startswith("tracejit.vm.huge32.") || !f.getReturnType()->isVectorTy()) continue;
    for (llvm::User* u : f.users())
      if (auto* c = llvm::dyn_cast<llvm::CallInst>(u); c && c->getCalledFunction() == &f) calls.push_back(c);
  }
  for (llvm::CallInst* c : calls) {
    llvm::IRBuilder<> b(c);
    Value* x = c->getArgOperand(0);
    Value* fast = c->getArgOperand(1);
    auto* vt = llvm::cast<llvm::FixedVectorType>(x->getType());
    unsigned n = vt->getNumElements();
    Value* big = abs_at_least(b, x, kTrig32Bound);
    Value* any = b.CreateICmpNE(b.CreateBitCast(big, b.getIntNTy(n)), llvm::ConstantInt::get(b.getIntNTy(n), 0));
    llvm::BasicBlock* head = c->getParent();
    llvm::Instruction* then_end =
        llvm::SplitBlockAndInsertIfThen(any, c, false, llvm::MDBuilder(m.getContext()).createBranchWeights(1, 1 << 20));
    llvm::BasicBlock* tail = c->getParent();
    c->moveBefore(then_end);
    llvm::PHINode* phi = llvm::PHINode::Create(vt, 2, "huge32", &tail->front());
    c->replaceAllUsesWith(phi);
    phi->addIncoming(c, then_end->getParent());
    phi->addIncoming(fast, head);
  }
  // Vector variants of the out-of-line paths that no call uses (the vectorizer picked one width;
  // the float path calls vmath.cpp's double ones only from its scalar out-of-line function) are
  // dead: dropped before code generation, which they would otherwise dominate.
  std::vector<llvm::Function*> dead;
  for (llvm::Function& f : m)
    if (f.getName().startswith("tracejit.vm.huge") && f.getReturnType()->isVectorTy() &&
        llvm::none_of(f.users(), [](llvm::User* u) { return llvm::isa<llvm::CallInst>(u); }))
      dead.push_back(&f);
  llvm::removeFromUsedLists(m, [&](llvm::Constant* c) { return llvm::is_contained(dead, c); });
  for (llvm::Function* f : dead) {
    f->removeDeadConstantUsers();  // the replaced used-list array
    if (f->use_empty()) f->eraseFromParent();
  }
}

}  // namespace tracejit::backends::vmath_detail
