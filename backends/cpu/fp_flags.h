// The calling thread's floating-point exception flags (x86 MXCSR; the C fenv elsewhere) as one
// portable bit set, so the runtime can tell whether compiled code raised what NumPy checks after
// each ufunc (divide by zero, overflow, underflow, invalid) and the thread pool can hand its
// workers' flags to the thread that ran the kernel.
#pragma once

#include <cstdint>

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#else
#include <cfenv>
#endif

namespace tracejit::backends::fp {

// NumPy's four categories, in the order its errstate lists them.
enum : uint32_t { kDivide = 1, kOverflow = 2, kUnderflow = 4, kInvalid = 8, kAll = 15 };

#if defined(__x86_64__) || defined(__i386__)
// MXCSR status bits: IE 0, DE 1, ZE 2, OE 3, UE 4, PE 5 (DE and PE are not NumPy's concern).
constexpr uint32_t kMxcsrMask = 0x1d;

inline uint32_t from_mxcsr(uint32_t m) {
  return ((m >> 2) & 1) * kDivide | ((m >> 3) & 1) * kOverflow | ((m >> 4) & 1) * kUnderflow |
         (m & 1) * kInvalid;
}
inline uint32_t to_mxcsr(uint32_t f) {
  return (f & kDivide ? 4u : 0u) | (f & kOverflow ? 8u : 0u) | (f & kUnderflow ? 16u : 0u) |
         (f & kInvalid ? 1u : 0u);
}
// The flags raised on this thread.
inline uint32_t test() { return from_mxcsr(_mm_getcsr()); }
// Clears this thread's flags; returns the MXCSR as it was (for restore()).
inline uint32_t save_and_clear() {
  uint32_t m = _mm_getcsr();
  if (m & kMxcsrMask) _mm_setcsr(m & ~kMxcsrMask);
  return m;
}
// Sets this thread's flags to exactly what `saved` held.
inline void restore(uint32_t saved) {
  uint32_t m = _mm_getcsr();
  if ((m ^ saved) & kMxcsrMask) _mm_setcsr((m & ~kMxcsrMask) | (saved & kMxcsrMask));
}
// test() and then restore(saved), reading the MXCSR once (the dispatch path).
inline uint32_t test_and_restore(uint32_t saved) {
  uint32_t m = _mm_getcsr();
  if ((m ^ saved) & kMxcsrMask) _mm_setcsr((m & ~kMxcsrMask) | (saved & kMxcsrMask));
  return from_mxcsr(m);
}
// Raises `f` on this thread (no trap: the exceptions stay masked).
inline void raise(uint32_t f) {
  if (f) _mm_setcsr(_mm_getcsr() | to_mxcsr(f));
}
// The flags a save_and_clear() result held, and that result with them cleared.
inline uint32_t from_saved(uint32_t saved) { return from_mxcsr(saved); }
inline uint32_t without_flags(uint32_t saved) { return saved & ~kMxcsrMask; }
// Clears the flags `f` on this thread, leaving the others.
inline void clear(uint32_t f) {
  uint32_t m = _mm_getcsr();
  if (m & to_mxcsr(f)) _mm_setcsr(m & ~to_mxcsr(f));
}
// Reads this thread's flags and clears them (thread pool workers, per chunk).
inline uint32_t take() {
  uint32_t m = _mm_getcsr();
  if (!(m & kMxcsrMask)) return 0;
  _mm_setcsr(m & ~kMxcsrMask);
  return from_mxcsr(m);
}
#else
inline uint32_t from_fenv(int e) {
  return (e & FE_DIVBYZERO ? kDivide : 0u) | (e & FE_OVERFLOW ? kOverflow : 0u) |
         (e & FE_UNDERFLOW ? kUnderflow : 0u) | (e & FE_INVALID ? kInvalid : 0u);
}
inline int to_fenv(uint32_t f) {
  return (f & kDivide ? FE_DIVBYZERO : 0) | (f & kOverflow ? FE_OVERFLOW : 0) |
         (f & kUnderflow ? FE_UNDERFLOW : 0) | (f & kInvalid ? FE_INVALID : 0);
}
constexpr int kFenvMask = FE_DIVBYZERO | FE_OVERFLOW | FE_UNDERFLOW | FE_INVALID;
inline uint32_t test() { return from_fenv(std::fetestexcept(kFenvMask)); }
inline uint32_t save_and_clear() {
  uint32_t f = test();
  if (f) std::feclearexcept(kFenvMask);
  return f;
}
inline void restore(uint32_t saved) {
  std::feclearexcept(kFenvMask);
  if (saved) std::feraiseexcept(to_fenv(saved));
}
inline void raise(uint32_t f) {
  if (f) std::feraiseexcept(to_fenv(f));
}
inline uint32_t from_saved(uint32_t saved) { return saved; }
inline uint32_t test_and_restore(uint32_t saved) {
  uint32_t f = test();
  restore(saved);
  return f;
}
inline uint32_t without_flags(uint32_t) { return 0; }
inline void clear(uint32_t f) {
  if (f) std::feclearexcept(to_fenv(f));
}
inline uint32_t take() {
  uint32_t f = test();
  if (f) std::feclearexcept(kFenvMask);
  return f;
}
#endif

}  // namespace tracejit::backends::fp
