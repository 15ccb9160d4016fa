// Programs: a graph with loop regions as straight-line segments and loop steps, each segment
// (and each loop body's segments, recursively) an ordinary kernel compiled once. See program.h.
//
// Storage. Every value that crosses a step boundary (or is a result) has a *slot*: a caller's
// input (a param), a caller's output (a result, at its first position), a scratch buffer in the
// call's frame, a 0-d constant held by the program, or a dynamic pointer (where a loop's carried
// value ended). Scratch offsets and pointer-table words are assigned statically for the whole
// program, nested bodies included: one frame (one aligned arena plus pointer tables) serves a
// whole call, and frames are pooled so repeated and concurrent calls allocate nothing. With
// symbolic dims the offsets are computed per call from sym_dims (the arena grows as needed).
#include "backends/cpu/program.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <variant>
#include <vector>

#include "backends/cpu/object_cache.h"
#include "backends/cpu/scalar_loop.h"
#include "ir/printer.h"

namespace tracejit::backends {
namespace {

using ir::Op;
using ir::ValueId;

constexpr int64_t kAlign = 64;
constexpr size_t kMaxPooledFrames = 4;

int64_t round_up(int64_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

int64_t numel(const ir::Type& t) {
  int64_t n = 1;
  for (const ir::Dim& d : t.shape) n *= d.size;
  return n;
}

// `t` with its symbolic dims replaced by their runtime sizes.
ir::Type resolved(const ir::Type& t, const int64_t* sym) {
  if (t.is_static()) return t;
  ir::Type r = t;
  for (ir::Dim& d : r.shape)
    if (!d.is_static()) d = ir::Dim::fixed(sym[d.sym]);
  return r;
}

// A scratch allocation's size: factor * the runtime sizes of syms (static when syms is empty).
struct Bytes {
  int64_t factor = 1;
  std::vector<int32_t> syms;
  static Bytes of(const ir::Type& t) {
    Bytes b{ir::dtype_size(t.dtype), {}};
    for (const ir::Dim& d : t.shape) {
      if (d.is_static()) b.factor *= d.size;
      else b.syms.push_back(d.sym);
    }
    return b;
  }
  int64_t eval(const int64_t* sym) const {
    int64_t n = factor;
    for (int32_t k : syms) n *= sym[k];
    return n;
  }
};

std::vector<int64_t> contiguous_strides(const ir::Type& t) {
  std::vector<int64_t> s(t.shape.size());
  int64_t acc = ir::dtype_size(t.dtype);
  for (size_t i = s.size(); i-- > 0;) {
    s[i] = acc;
    acc *= t.shape[i].size;
  }
  return s;
}

// Copies a value of type `t` into the C-contiguous `dst` from `src`, read through byte `strides`
// (null: `src` is C-contiguous).
void copy_value(void* dst, const void* src, const int64_t* strides, const ir::Type& t) {
  const int64_t es = ir::dtype_size(t.dtype), n = numel(t);
  if (n == 0 || dst == src) return;
  const int r = t.rank();
  if (strides) {  // C-contiguous after all? (size-1 axes may have any stride)
    bool contiguous = true;
    int64_t acc = es;
    for (int d = r; d-- > 0;) {
      if (t.shape[static_cast<size_t>(d)].size != 1 && strides[d] != acc) contiguous = false;
      acc *= t.shape[static_cast<size_t>(d)].size;
    }
    if (contiguous) strides = nullptr;
  }
  if (!strides) {
    std::memcpy(dst, src, static_cast<size_t>(n * es));
    return;
  }
  // An odometer over all axes but the last; the last axis row by row.
  std::vector<int64_t> idx(static_cast<size_t>(r), 0);
  const int64_t inner = t.shape[static_cast<size_t>(r - 1)].size, inner_stride = strides[r - 1];
  char* out = static_cast<char*>(dst);
  for (;;) {
    const char* p = static_cast<const char*>(src);
    for (int d = 0; d + 1 < r; ++d) p += idx[static_cast<size_t>(d)] * strides[d];
    for (int64_t i = 0; i < inner; ++i, out += es) std::memcpy(out, p + i * inner_stride, static_cast<size_t>(es));
    int d = r - 2;
    for (; d >= 0; --d) {
      if (++idx[static_cast<size_t>(d)] < t.shape[static_cast<size_t>(d)].size) break;
      idx[static_cast<size_t>(d)] = 0;
    }
    if (d < 0) break;
  }
}

// The element of a 0-d constant as it lies in memory (little endian: the low bytes).
uint64_t const_bits(const ir::Node& n) {
  uint64_t bits = 0;
  if (n.type.dtype == ir::DType::F32) {
    float f = static_cast<float>(n.fval);
    std::memcpy(&bits, &f, sizeof f);
  } else if (n.type.dtype == ir::DType::F64) {
    std::memcpy(&bits, &n.fval, sizeof n.fval);
  } else if (n.type.dtype == ir::DType::Bool) {
    bits = n.ints[0] != 0 ? 1 : 0;
  } else {
    std::memcpy(&bits, &n.ints[0], sizeof n.ints[0]);
  }
  return bits;
}

enum class SlotKind : uint8_t { Input, Output, Scratch, Const, Dynamic };

struct Slot {
  SlotKind kind = SlotKind::Scratch;
  int64_t index = 0;       // Input/Output: argument index; Scratch: arena allocation
  bool contiguous = true;  // false: a caller's Strided input, read through the caller's strides
  ir::Type type;
  std::vector<int64_t> strides;  // C-contiguous byte strides of `type`
  uint64_t bits = 0;             // Const: the element
};

struct Part;

// One compiled kernel over slots.
struct SegmentStep {
  std::unique_ptr<CompiledKernel> kernel;
  std::vector<int> in_slots, out_slots;
  size_t table = 0;  // frame table words: the kernel's inputs, then its outputs
  bool may_stop = false;  // a native nest with stopping effects (tracejit_loop_stop)
};

// A strided caller input copied into contiguous scratch (a loop's operand).
struct CopyStep {
  int src = 0, dst = 0;
};

struct LoopStep {
  int64_t trip = 0, start = 0, step = 0;
  size_t carried = 0;
  std::vector<int> operand_slots;
  std::unique_ptr<Part> body;
  std::vector<std::vector<int64_t>> strides;  // of the body's params (C-contiguous)
  std::vector<const int64_t*> stride_ptrs;
  std::vector<std::array<int64_t, 2>> bufs;  // per carried value: the two scratch allocations (-1: never used)
  std::vector<int> final_slot;   // per carried value: the Output slot the last iteration writes, or -1
  std::vector<int> result_slot;  // per carried value: the Dynamic slot told where it ended, or -1
  // Per carried value updated in place (in_place_chains): one buffer for every iteration, the
  // final Output slot's (in_place_buf -1) or that arena allocation's scratch, holding a copy of the
  // initial value; -3: the operand's own buffer (the enclosing body's in-place chain runs
  // through this loop). in_place_buf -2: double-buffered as above.
  std::vector<int64_t> in_place_buf;
  std::vector<ir::Type> carried_types;
  int64_t iv = 0;                // arena allocation of the induction variable
  size_t table = 0;              // frame table words: 1 + operands body inputs, then carried outputs
};

// A while loop: the body runs as long as its test holds (the test before the loop is operand
// 0; each iteration's body writes the next one as its last result). The trip count is not known
// in advance, so every carried value is double-buffered in scratch (the initial value copied
// into the first buffer: a loop_result never aliases the operand, even after zero iterations)
// and its loop_results are told where it ended.
struct WhileStep {
  size_t carried = 0;
  std::vector<int> operand_slots;  // operand 0 is the test
  std::unique_ptr<Part> body;
  std::vector<std::vector<int64_t>> strides;  // of the body's params (C-contiguous)
  std::vector<const int64_t*> stride_ptrs;
  std::vector<std::array<int64_t, 2>> bufs;  // per carried value: its two scratch allocations
  std::vector<int> result_slot;              // per carried value: the Dynamic slot, or -1
  std::vector<ir::Type> carried_types;
  int64_t iv = 0;    // arena allocation of the iteration number
  int64_t test = 0;  // arena allocation of the test the body writes
  size_t table = 0;  // frame table words: body inputs (1 + operands after the test), then outputs
};

// A dyn_update done in place: the window of `buf` (the carried buffer the update's operand lives
// in) takes the contiguous value `v`; see in_place_chains.
struct UpdateStep {
  int buf = 0, v = 0;
  std::vector<int> starts;        // slots of the i64 starts
  std::vector<int64_t> steps;     // per axis
  std::vector<int64_t> x_strides;  // byte strides of the buffer (C-contiguous)
  std::vector<int64_t> window;     // v's shape
  int64_t elem = 0;
};

// A host effect (ir `effect`): the sink gets `id` and the value slots' pointers when the
// condition slot (-1: none) holds.
struct EffectStep {
  int64_t id = 0;
  int cond = -1;
  std::vector<int> values;
  bool stops = false;  // a stopping effect: the program ends after it
};

// Effect nodes of a graph, nested bodies included.
int count_effects(const ir::Graph& g) {
  int n = 0;
  for (const ir::Node& x : g.nodes) {
    n += x.op == Op::Effect ? 1 : 0;
    for (const auto& r : x.regions)
      if (r) n += count_effects(*r);
  }
  return n;
}

thread_local EffectSink* t_effect_sink = nullptr;
// Set by tracejit_loop_stop: a native nest ran a stopping effect and returned early.
thread_local bool t_stopped = false;

using Step = std::variant<SegmentStep, CopyStep, LoopStep, UpdateStep, WhileStep, EffectStep>;

// A graph's steps: the top-level graph, or a loop body (run once per iteration).
struct Part {
  std::vector<Slot> slots;
  std::vector<Step> steps;
  std::vector<int> result_slots;  // per graph result
  size_t table = 0;               // frame table words: one pointer per slot
};

// Per-call storage: the arena of scratch buffers and the pointer tables of every part and step.
// Allocation k lies at offsets[k] in the arena (set per call when sizes are symbolic).
struct Frame {
  void* arena = nullptr;
  int64_t capacity = 0;
  std::vector<int64_t> offsets;
  std::vector<void*> ptrs;
  std::vector<const int64_t*> strides;
  Frame() = default;
  Frame(const Frame&) = delete;
  Frame& operator=(const Frame&) = delete;
  ~Frame() { std::free(arena); }
  char* at(int64_t alloc) const { return static_cast<char*>(arena) + offsets[static_cast<size_t>(alloc)]; }
};

// Writes the window in place: element i of v to buffer index start + i * step (in bounds by
// the producer's guarantee), an odometer over the window.
void run_update(const UpdateStep& u, void* const* t) {
  const size_t r = u.window.size();
  int64_t count = 1;
  for (int64_t w : u.window) count *= w;
  if (count == 0) return;
  char* base = static_cast<char*>(t[u.buf]);
  for (size_t a = 0; a < r; ++a) base += *static_cast<const int64_t*>(t[u.starts[a]]) * u.x_strides[a];
  const char* src = static_cast<const char*>(t[u.v]);
  // Runs every iteration: no allocation for the ranks anyone writes.
  int64_t small[8] = {};
  std::vector<int64_t> large;
  int64_t* idx = small;
  if (r > 8) {
    large.assign(r, 0);
    idx = large.data();
  }
  for (int64_t k = 0; k < count; ++k, src += u.elem) {
    char* dst = base;
    for (size_t a = 0; a < r; ++a) dst += idx[a] * u.steps[a] * u.x_strides[a];
    std::memcpy(dst, src, static_cast<size_t>(u.elem));
    for (size_t a = r; a-- > 0;) {
      if (++idx[a] < u.window[a]) break;
      idx[a] = 0;
    }
  }
}

// False: a host effect stopped the program (EffectSink::effect), the rest is skipped.
bool run_part(const Part& p, Frame& f, void* const* inputs, const int64_t* const* input_strides,
              void* const* outputs, const int64_t* sym);

bool run_while(const WhileStep& w, Frame& f, void** t, const int64_t* sym) {
  const size_t nops = w.operand_slots.size() - 1;  // after the test
  void** in = f.ptrs.data() + w.table;
  void** next = in + 1 + nops;
  auto* iv = reinterpret_cast<int64_t*>(f.at(w.iv));
  in[0] = iv;
  for (size_t j = 0; j < nops; ++j) in[1 + j] = t[w.operand_slots[1 + j]];
  for (size_t c = 0; c < w.carried; ++c) {
    void* buf = f.at(w.bufs[c][0]);
    copy_value(buf, in[1 + c], nullptr, resolved(w.carried_types[c], sym));
    in[1 + c] = buf;
  }
  next[w.carried] = f.at(w.test);
  bool go = *static_cast<const bool*>(t[w.operand_slots[0]]);
  for (int64_t k = 0; go; ++k) {
    *iv = k;
    for (size_t c = 0; c < w.carried; ++c) next[c] = f.at(w.bufs[c][static_cast<size_t>((k + 1) & 1)]);
    if (!run_part(*w.body, f, in, w.stride_ptrs.data(), next, sym)) return false;
    for (size_t c = 0; c < w.carried; ++c) in[1 + c] = next[c];
    go = *static_cast<const bool*>(next[w.carried]);
  }
  for (size_t c = 0; c < w.carried; ++c)
    if (w.result_slot[c] >= 0) t[w.result_slot[c]] = in[1 + c];
  return true;
}

bool run_part(const Part& p, Frame& f, void* const* inputs, const int64_t* const* input_strides,
              void* const* outputs, const int64_t* sym) {
  void** t = f.ptrs.data() + p.table;
  for (size_t s = 0; s < p.slots.size(); ++s) {
    const Slot& sl = p.slots[s];
    switch (sl.kind) {
      case SlotKind::Input: t[s] = inputs[sl.index]; break;
      case SlotKind::Output: t[s] = outputs[sl.index]; break;
      case SlotKind::Scratch: t[s] = f.at(sl.index); break;
      case SlotKind::Const: t[s] = const_cast<uint64_t*>(&sl.bits); break;  // only read
      case SlotKind::Dynamic: t[s] = nullptr; break;  // set by its loop
    }
  }
  auto strides_of = [&](int s) -> const int64_t* {
    const Slot& sl = p.slots[static_cast<size_t>(s)];
    return sl.kind == SlotKind::Input ? input_strides[sl.index] : sl.strides.data();
  };
  for (const Step& step : p.steps) {
    if (const auto* seg = std::get_if<SegmentStep>(&step)) {
      size_t ni = seg->in_slots.size(), no = seg->out_slots.size();
      void** in = f.ptrs.data() + seg->table;
      void** out = in + ni;
      const int64_t** st = f.strides.data() + seg->table;
      for (size_t j = 0; j < ni; ++j) {
        in[j] = t[seg->in_slots[j]];
        st[j] = strides_of(seg->in_slots[j]);
      }
      for (size_t j = 0; j < no; ++j) out[j] = t[seg->out_slots[j]];
      seg->kernel->run(in, st, out, sym);
      if (seg->may_stop && t_stopped) return false;
    } else if (const auto* cp = std::get_if<CopyStep>(&step)) {
      const Slot& src = p.slots[static_cast<size_t>(cp->src)];
      copy_value(t[cp->dst], t[cp->src], src.contiguous ? nullptr : strides_of(cp->src), resolved(src.type, sym));
    } else if (const auto* up = std::get_if<UpdateStep>(&step)) {
      run_update(*up, t);
    } else if (const auto* w = std::get_if<WhileStep>(&step)) {
      if (!run_while(*w, f, t, sym)) return false;
    } else if (const auto* fx = std::get_if<EffectStep>(&step)) {
      if (fx->cond >= 0 && !*static_cast<const bool*>(t[fx->cond])) continue;
      if (EffectSink* sink = t_effect_sink) {
        const void* small[16];
        std::vector<const void*> large;
        const void** vals = small;
        if (fx->values.size() > 16) {
          large.resize(fx->values.size());
          vals = large.data();
        }
        for (size_t j = 0; j < fx->values.size(); ++j) vals[j] = t[fx->values[j]];
        if (!sink->effect(fx->id, vals, fx->values.size())) return false;
      }
      if (fx->stops) return false;
    } else {
      const auto& L = std::get<LoopStep>(step);
      size_t nops = L.operand_slots.size();
      void** in = f.ptrs.data() + L.table;
      void** next = in + 1 + nops;
      auto* iv = reinterpret_cast<int64_t*>(f.at(L.iv));
      in[0] = iv;
      for (size_t j = 0; j < nops; ++j) in[1 + j] = t[L.operand_slots[j]];
      for (size_t c = 0; c < L.carried; ++c) {
        if (L.in_place_buf[c] == -2 || L.in_place_buf[c] == -3) continue;  // -3: already in place
        void* buf = L.in_place_buf[c] == -1 ? t[L.final_slot[c]] : f.at(L.in_place_buf[c]);
        copy_value(buf, in[1 + c], nullptr, resolved(L.carried_types[c], sym));  // the initial value stays intact
        in[1 + c] = buf;
      }
      for (int64_t k = 0; k < L.trip; ++k) {
        *iv = static_cast<int64_t>(static_cast<uint64_t>(L.start) +
                                   static_cast<uint64_t>(k) * static_cast<uint64_t>(L.step));
        bool last = k + 1 == L.trip;
        for (size_t c = 0; c < L.carried; ++c)
          next[c] = L.in_place_buf[c] != -2                 ? in[1 + c]
                    : last && L.final_slot[c] >= 0 ? t[L.final_slot[c]]
                                                   : f.at(L.bufs[c][static_cast<size_t>(k & 1)]);
        if (!run_part(*L.body, f, in, L.stride_ptrs.data(), next, sym)) return false;
        for (size_t c = 0; c < L.carried; ++c) in[1 + c] = next[c];
      }
      for (size_t c = 0; c < L.carried; ++c)
        if (L.result_slot[c] >= 0) t[L.result_slot[c]] = in[1 + c];
    }
  }
  for (size_t k = 0; k < p.result_slots.size(); ++k) {
    int s = p.result_slots[k];
    const Slot& sl = p.slots[static_cast<size_t>(s)];
    if (sl.kind == SlotKind::Output && sl.index == static_cast<int64_t>(k)) continue;  // written in place
    copy_value(outputs[k], t[s], sl.contiguous ? nullptr : strides_of(s), resolved(sl.type, sym));
  }
  return true;
}

class Program final : public CompiledKernel {
 public:
  Program(std::unique_ptr<Part> main, std::vector<Bytes> allocs, size_t table_words, ProgramInfo info,
          double compile_ms, std::string symbol, bool from_cache)
      : CompiledKernel(compile_ms, std::move(symbol), from_cache),
        main_(std::move(main)),
        allocs_(std::move(allocs)),
        table_words_(table_words),
        info_(info) {
    for (const Bytes& b : allocs_) dynamic_ = dynamic_ || !b.syms.empty();
    if (!dynamic_) arena_bytes_ = layout(nullptr, static_offsets_);
  }

  void run(void* const* inputs, const int64_t* const* input_strides, void* const* outputs,
           const int64_t* sym_dims) const override {
    std::unique_ptr<Frame> f = acquire();
    if (dynamic_) {  // scratch sized by this call's runtime sizes (the arena grows as needed)
      int64_t bytes = layout(sym_dims, f->offsets);
      if (bytes > f->capacity) {
        std::free(f->arena);
        f->arena = std::aligned_alloc(static_cast<size_t>(kAlign), static_cast<size_t>(bytes));
        if (!f->arena) throw std::bad_alloc();
        f->capacity = bytes;
      }
    }
    t_stopped = false;
    run_part(*main_, *f, inputs, input_strides, outputs, sym_dims);
    t_stopped = false;
    release(std::move(f));
  }

  const ProgramInfo& info() const { return info_; }

 private:
  std::unique_ptr<Frame> acquire() const {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!pool_.empty()) {
        std::unique_ptr<Frame> f = std::move(pool_.back());
        pool_.pop_back();
        return f;
      }
    }
    auto f = std::make_unique<Frame>();
    if (!dynamic_) {
      f->offsets = static_offsets_;
      if (arena_bytes_ > 0) {
        f->arena = std::aligned_alloc(static_cast<size_t>(kAlign), static_cast<size_t>(arena_bytes_));
        if (!f->arena) throw std::bad_alloc();
        f->capacity = arena_bytes_;
      }
    }
    f->ptrs.assign(table_words_, nullptr);
    f->strides.assign(table_words_, nullptr);
    return f;
  }
  void release(std::unique_ptr<Frame> f) const {
    std::lock_guard<std::mutex> lock(mu_);
    if (pool_.size() < kMaxPooledFrames) pool_.push_back(std::move(f));
  }

  // Offsets of the allocations, one after another, each rounded up to kAlign; returns the total.
  int64_t layout(const int64_t* sym, std::vector<int64_t>& offsets) const {
    offsets.resize(allocs_.size());
    int64_t total = 0;
    for (size_t k = 0; k < allocs_.size(); ++k) {
      offsets[k] = total;
      total += round_up(std::max<int64_t>(allocs_[k].eval(sym), 1));
    }
    return total;
  }

  std::unique_ptr<Part> main_;
  std::vector<Bytes> allocs_;
  bool dynamic_ = false;
  std::vector<int64_t> static_offsets_;
  int64_t arena_bytes_ = 0;
  size_t table_words_;
  ProgramInfo info_;
  mutable std::mutex mu_;
  mutable std::vector<std::unique_ptr<Frame>> pool_;
};

// One writer of an in-place chain (see in_place_chains): a dyn_update (carried -1), or a nested
// loop that runs its carried value `carried` in the chain's buffer.
struct Link {
  ValueId writer = ir::kNoValue;
  int64_t carried = -1;
};

// What a loop body does in place: the dyn_updates that write their carried buffer (UpdateSteps)
// and, per nested loop, which of its carried values run directly in their operand's buffer.
struct InPlace {
  std::vector<char> updates;  // per node
  std::map<ValueId, std::vector<char>> loops;
};

// Builds the parts of a program, compiling their kernels; one arena and one table for all.
class Builder {
 public:
  explicit Builder(const CpuCompileOptions& opts) : opts_(opts), native_loops_(opts.native_loops && native_env()) {}

  // `in_place`: what the body `g` does in place (in_place_chains); null: nothing.
  Expected<std::unique_ptr<Part>> build(const ir::Graph& g, bool body, const std::string& name,
                                        const InPlace* in_place = nullptr);

  int64_t arena = 0;           // bytes of the static allocations
  std::vector<Bytes> allocs;  // every allocation, in order (Frame::offsets)
  size_t table = 0;
  ProgramInfo info;
  double compile_ms = 0.0;
  bool all_cached = true;

 private:
  int64_t alloc(const Bytes& bytes) {
    if (bytes.syms.empty()) arena += round_up(std::max<int64_t>(bytes.factor, 1));
    allocs.push_back(bytes);
    return static_cast<int64_t>(allocs.size() - 1);
  }

  static bool native_env() {
    const char* v = std::getenv("TRACEJIT_NATIVE_LOOPS");
    return !v || std::strcmp(v, "0") != 0;
  }

  const CpuCompileOptions& opts_;
  bool native_loops_;
};

// How a rejection names its loop: the loop step's part name, as its body kernels are named.
std::string loop_label(const std::string& name, size_t i) { return name + "_l" + std::to_string(i) + ": "; }

// Whether `g` or a loop body in it has a window of runtime extent (an extent symbol; the call's
// runtime sizes are other symbols, which every path handles).
bool has_extent_symbols(const ir::Graph& g) {
  for (const ir::Node& n : g.nodes) {
    if (n.type.has_extent_symbols()) return true;
    for (const auto& r : n.regions)
      if (r && has_extent_symbols(*r)) return true;
  }
  return false;
}

// Windows of runtime extent appear only in loop bodies, which only the native loop nest runs
// (the loop step below refuses them).
Status check_graph(const ir::Graph& g, bool body = false) {
  auto fail = [&](ValueId v, const std::string& why) {
    return Status::error("cpu backend: %" + std::to_string(v) + " (" + std::string(ir::op_name(g.node(v).op)) +
                         ") in graph '" + g.name + "': " + why);
  };
  for (size_t k = 0; k < g.params.size(); ++k) {
    ValueId p = g.params[k];
    if (p < 0 || p >= g.size() || g.node(p).op != Op::Param || g.node(p).ints.size() != 2 ||
        g.node(p).ints[0] != static_cast<int64_t>(k))
      return Status::error("cpu backend: malformed params in graph '" + g.name + "'");
  }
  for (ValueId r : g.results)
    if (r < 0 || r >= g.size() || g.node(r).op == Op::Loop || g.node(r).op == Op::While)
      return Status::error("cpu backend: a result of graph '" + g.name + "' is not a value");
  for (ValueId v = 0; v < g.size(); ++v) {
    const ir::Node& n = g.node(v);
    if (!body && n.type.has_extent_symbols()) return fail(v, "a window of runtime extent outside a loop body");
    for (ValueId o : n.operands) {
      if (o < 0 || o >= v) return fail(v, "operand out of order");
      if ((g.node(o).op == Op::Loop || g.node(o).op == Op::While) && n.op != Op::LoopResult)
        return fail(v, "reads a loop's own value");
    }
    if (!n.regions.empty() && n.op != Op::Loop && n.op != Op::While) return fail(v, "regions on an op that is not a loop");
    if (n.op == Op::Const && !ir::is_float(n.type.dtype) && n.ints.size() != 1) return fail(v, "malformed const");
    if (n.op == Op::LoopResult && n.operands.size() == 1 && g.node(n.operands[0]).op == Op::While) {
      const ir::Node& l = g.node(n.operands[0]);
      if (n.ints.size() != 1 || l.ints.size() != 1 || n.ints[0] < 0 || n.ints[0] >= l.ints[0] ||
          n.type != g.type(l.operands[static_cast<size_t>(n.ints[0]) + 1]))
        return fail(v, "malformed loop_result");
    } else if (n.op == Op::LoopResult) {
      if (n.operands.size() != 1) return fail(v, "malformed loop_result");
      const ir::Node& l = g.node(n.operands[0]);
      if (l.op != Op::Loop || n.ints.size() != 1 || n.ints[0] < 0 || l.ints.size() != 4 || n.ints[0] >= l.ints[1] ||
          n.type != g.type(l.operands[static_cast<size_t>(n.ints[0])]))
        return fail(v, "malformed loop_result");
    }
    if (n.op == Op::While) {
      if (n.regions.size() != 1 || !n.regions[0] || n.ints.size() != 1 || n.operands.empty() || n.ints[0] < 0 ||
          n.ints[0] >= static_cast<int64_t>(n.operands.size()) || g.type(n.operands[0]) != ir::Type::scalar(ir::DType::Bool))
        return fail(v, "malformed while");
      const ir::Graph& b = *n.regions[0];
      const auto nc = static_cast<size_t>(n.ints[0]);
      if (b.params.size() != n.operands.size() || b.results.size() != nc + 1)
        return fail(v, "while body params/results do not match its operands");
      if (Status st = check_graph(b, true); !st.ok()) return st;
      if (b.type(b.params[0]) != ir::Type::scalar(ir::DType::I64)) return fail(v, "iteration number is not i64[]");
      for (size_t j = 1; j < n.operands.size(); ++j)
        if (b.type(b.params[j]) != g.type(n.operands[j])) return fail(v, "while body param type differs from its operand");
      for (size_t c = 0; c < nc; ++c)
        if (b.type(b.results[c]) != g.type(n.operands[c + 1]))
          return fail(v, "while body result type differs from its carried value");
      if (b.type(b.results[nc]) != ir::Type::scalar(ir::DType::Bool)) return fail(v, "while body test is not bool[]");
      continue;
    }
    if (n.op != Op::Loop) continue;
    if (n.regions.size() != 1 || !n.regions[0] || n.ints.size() != 4 || n.ints[0] < 0 || n.ints[1] < 0 ||
        n.ints[1] > static_cast<int64_t>(n.operands.size()))
      return fail(v, "malformed loop");
    const ir::Graph& b = *n.regions[0];
    if (b.params.size() != n.operands.size() + 1 || b.results.size() != static_cast<size_t>(n.ints[1]))
      return fail(v, "loop body params/results do not match its operands");
    if (Status st = check_graph(b, true); !st.ok()) return st;
    if (b.type(b.params[0]) != ir::Type::scalar(ir::DType::I64)) return fail(v, "induction variable is not i64[]");
    for (size_t j = 0; j < n.operands.size(); ++j)
      if (b.type(b.params[j + 1]) != g.type(n.operands[j])) return fail(v, "loop body param type differs from its operand");
    for (size_t c = 0; c < b.results.size(); ++c)
      if (b.type(b.results[c]) != g.type(n.operands[c])) return fail(v, "loop body result type differs from its carried value");
  }
  return ok_status();
}

// The carried values of loop body `b` (run at least once) that can live in one buffer for the
// whole loop: body result c is reached from param c + 1 by a chain of writers, each turning the
// current version of the array into the next:
//  - a dyn_update of it, done in place (an UpdateStep: only the window is written);
//  - a nested loop carrying it (as its carried value c') that is itself in place for c': that
//    loop then runs directly in this buffer, and its loop_results are the next version.
// Each version is read by nothing after the writer that replaces it (graph order is step order:
// in-place updates and loops are steps of their own), its writer reads it only once, and no
// version but the last is a result. Returns, per carried value, the chain (empty: not in place).
std::vector<std::vector<Link>> in_place_chains(const ir::Graph& b) {
  const size_t nv = static_cast<size_t>(b.size());
  std::vector<std::vector<ValueId>> users(nv);
  for (ValueId v = 0; v < b.size(); ++v)
    for (ValueId o : b.node(v).operands) users[static_cast<size_t>(o)].push_back(v);
  std::vector<char> is_result(nv, 0);
  for (ValueId r : b.results) is_result[static_cast<size_t>(r)] = 1;
  std::map<ValueId, std::vector<std::vector<Link>>> nested;  // memo: a nested loop's own chains
  auto nested_in_place = [&](ValueId l, int64_t c) {
    const ir::Node& ln = b.node(l);
    if (ln.ints[0] < 1 || c < 0 || c >= ln.ints[1]) return false;
    auto it = nested.find(l);
    if (it == nested.end()) it = nested.emplace(l, in_place_chains(*ln.regions[0])).first;
    return !it->second[static_cast<size_t>(c)].empty();
  };
  std::vector<char> claimed(nv, 0);  // a version of some chain already
  std::vector<std::vector<Link>> chains(b.results.size());
  for (size_t c = 0; c < b.results.size(); ++c) {
    ValueId p = b.params[c + 1];
    if (b.type(p).rank() == 0) continue;  // nothing to save
    if (!b.type(p).is_static()) continue;  // update steps and buffers are laid out statically
    std::vector<Link> chain;
    ValueId x = b.results[c];
    for (;;) {
      const ir::Node& xn = b.node(x);
      if (xn.op == Op::DynUpdate) {
        chain.insert(chain.begin(), Link{x, -1});
        x = xn.operands[0];
      } else if (xn.op == Op::LoopResult && b.node(xn.operands[0]).op == Op::Loop &&
                 nested_in_place(xn.operands[0], xn.ints[0])) {
        chain.insert(chain.begin(), Link{xn.operands[0], xn.ints[0]});
        x = b.node(xn.operands[0]).operands[static_cast<size_t>(xn.ints[0])];
      } else {
        break;
      }
    }
    if (x != p || chain.empty()) continue;
    bool ok = true;
    std::vector<ValueId> version = {p};
    for (const Link& w : chain) {
      const ir::Node& wn = b.node(w.writer);
      ValueId slot_operand = wn.operands[w.carried < 0 ? 0 : static_cast<size_t>(w.carried)];
      int reads = 0;  // operands of the writer that are this version
      for (ValueId vn : version) {
        ok = ok && !is_result[static_cast<size_t>(vn)] && !claimed[static_cast<size_t>(vn)];
        reads += static_cast<int>(std::count(wn.operands.begin(), wn.operands.end(), vn));
        for (ValueId u : users[static_cast<size_t>(vn)]) {
          if (u == w.writer) continue;
          // A later reader, or a loop that runs zero times (its loop_result would be this buffer).
          // A while copies its carried values first: its loop_results never alias this buffer.
          const ir::Node& un = b.node(u);
          ok = ok && u < w.writer && !(un.op == Op::Loop && un.ints[0] == 0);
        }
      }
      // The writer reads the version exactly once, as the buffer it writes.
      ok = ok && reads == 1 && std::find(version.begin(), version.end(), slot_operand) != version.end();
      if (w.carried < 0) {
        version = {w.writer};
      } else {
        version.clear();
        for (ValueId u : users[static_cast<size_t>(w.writer)])
          if (b.node(u).op == Op::LoopResult && b.node(u).ints[0] == w.carried) version.push_back(u);
      }
    }
    if (!ok) continue;
    claimed[static_cast<size_t>(p)] = 1;
    for (const Link& w : chain) {
      if (w.carried < 0) claimed[static_cast<size_t>(w.writer)] = 1;
      else
        for (ValueId u : users[static_cast<size_t>(w.writer)])
          if (b.node(u).op == Op::LoopResult && b.node(u).ints[0] == w.carried) claimed[static_cast<size_t>(u)] = 1;
    }
    chains[c] = std::move(chain);
  }
  return chains;
}

InPlace in_place_of(const ir::Graph& b, const std::vector<std::vector<Link>>& chains) {
  InPlace ip;
  ip.updates.assign(static_cast<size_t>(b.size()), 0);
  for (const auto& chain : chains)
    for (const Link& w : chain) {
      if (w.carried < 0) {
        ip.updates[static_cast<size_t>(w.writer)] = 1;
        continue;
      }
      std::vector<char>& l = ip.loops[w.writer];
      l.resize(static_cast<size_t>(b.node(w.writer).ints[1]), 0);
      l[static_cast<size_t>(w.carried)] = 1;
    }
  return ip;
}

Expected<std::unique_ptr<Part>> Builder::build(const ir::Graph& g, bool body, const std::string& name,
                                               const InPlace* in_place) {
  const size_t nv = static_cast<size_t>(g.size());
  auto part = std::make_unique<Part>();
  std::vector<Slot>& slots = part->slots;

  // Values the results need.
  std::vector<char> needed(nv, 0);
  for (ValueId r : g.results) needed[static_cast<size_t>(r)] = 1;
  for (size_t v = nv; v-- > 0;) {
    if (ir::has_side_effects(g.nodes[v])) needed[v] = 1;  // host effects, loops performing them
    if (needed[v])
      for (ValueId o : g.nodes[v].operands) needed[static_cast<size_t>(o)] = 1;
  }

  // Steps in graph order: a segment of consecutive non-loop nodes, then a loop, and so on.
  // Params and consts belong to no step; a loop_result belongs to its loop's step.
  struct Plan {
    ValueId loop = ir::kNoValue;    // a loop step; else a segment of `nodes`
    std::vector<ValueId> nodes;
    ValueId update = ir::kNoValue;  // an in-place dyn_update step
    ValueId effect = ir::kNoValue;  // a host effect step
  };
  std::vector<Plan> plans;
  std::vector<int> step_of(nv, -1);
  std::vector<std::vector<ValueId>> loop_results(nv);
  int segment = -1;
  for (ValueId v = 0; v < g.size(); ++v) {
    const ir::Node& n = g.node(v);
    if (!needed[static_cast<size_t>(v)] || n.op == Op::Param || n.op == Op::Const) continue;
    if (n.op == Op::Loop || n.op == Op::While) {
      step_of[static_cast<size_t>(v)] = static_cast<int>(plans.size());
      plans.push_back({v, {}});
      segment = -1;
    } else if (in_place && in_place->updates[static_cast<size_t>(v)]) {
      step_of[static_cast<size_t>(v)] = static_cast<int>(plans.size());
      plans.push_back({ir::kNoValue, {}, v});
      segment = -1;
    } else if (n.op == Op::Effect) {
      step_of[static_cast<size_t>(v)] = static_cast<int>(plans.size());
      plans.push_back({ir::kNoValue, {}, ir::kNoValue, v});
      segment = -1;
    } else if (n.op == Op::LoopResult) {
      step_of[static_cast<size_t>(v)] = step_of[static_cast<size_t>(n.operands[0])];
      loop_results[static_cast<size_t>(n.operands[0])].push_back(v);
    } else {
      if (segment < 0) {
        segment = static_cast<int>(plans.size());
        plans.push_back({});
      }
      plans[static_cast<size_t>(segment)].nodes.push_back(v);
      step_of[static_cast<size_t>(v)] = segment;
    }
  }
  // Segment values read by another step or returned.
  std::vector<char> exported(nv, 0);
  std::vector<int> first_result(nv, -1);
  for (size_t k = g.results.size(); k-- > 0;) {
    exported[static_cast<size_t>(g.results[k])] = 1;
    first_result[static_cast<size_t>(g.results[k])] = static_cast<int>(k);
  }
  for (ValueId v = 0; v < g.size(); ++v)
    if (needed[static_cast<size_t>(v)])
      for (ValueId o : g.node(v).operands)
        if (step_of[static_cast<size_t>(o)] != step_of[static_cast<size_t>(v)]) exported[static_cast<size_t>(o)] = 1;

  // The last step that reads each value (-1: none).
  std::vector<int> last_reader_step(nv, -1);
  for (ValueId v = 0; v < g.size(); ++v)
    if (needed[static_cast<size_t>(v)])
      for (ValueId o : g.node(v).operands)
        last_reader_step[static_cast<size_t>(o)] =
            std::max(last_reader_step[static_cast<size_t>(o)], step_of[static_cast<size_t>(v)]);

  std::vector<int> slot_of(nv, -1);
  auto new_slot = [&](SlotKind kind, int64_t index, const ir::Type& t) {
    Slot s;
    s.kind = kind;
    s.index = kind == SlotKind::Scratch ? alloc(Bytes::of(t)) : index;
    s.type = t;
    s.strides = contiguous_strides(t);
    slots.push_back(std::move(s));
    return static_cast<int>(slots.size() - 1);
  };
  // The slot of a value some step reads or the graph returns.
  auto value_slot = [&](ValueId v) -> int {
    int& s = slot_of[static_cast<size_t>(v)];
    if (s >= 0) return s;
    const ir::Node& n = g.node(v);
    if (n.op == Op::Param) {
      s = new_slot(SlotKind::Input, n.ints[0], n.type);
      slots[static_cast<size_t>(s)].contiguous =
          body || n.type.rank() == 0 || n.ints[1] != static_cast<int64_t>(ir::ParamLayout::Strided);
    } else if (n.op == Op::Const) {
      s = new_slot(SlotKind::Const, 0, n.type);
      slots[static_cast<size_t>(s)].bits = const_bits(n);
    }
    return s;  // others: assigned by the step that computes them
  };
  std::vector<int> contiguous_copy(nv, -1);  // of strided inputs that loops read

  for (size_t i = 0; i < plans.size(); ++i) {
    const Plan& plan = plans[i];
    if (plan.effect != ir::kNoValue) {
      if (!body) return Status::error("cpu backend: a host effect outside a loop body");
      const ir::Node& en = g.node(plan.effect);
      EffectStep st;
      st.id = en.ints[0];
      st.stops = ir::effect_stops(en);
      size_t first = 0;
      if (en.ints[1] != 0) {
        st.cond = value_slot(en.operands[0]);
        first = 1;
      }
      for (size_t j = first; j < en.operands.size(); ++j) {
        int s = value_slot(en.operands[j]);
        if (s < 0) return Status::error("cpu backend: internal: an effect's value has no slot");
        st.values.push_back(s);
      }
      ++info.effects;
      slot_of[static_cast<size_t>(plan.effect)] = -1;
      part->steps.emplace_back(std::move(st));
      continue;
    }
    if (plan.update != ir::kNoValue) {
      const ir::Node& un = g.node(plan.update);
      const ir::Type &xt = un.type, &vt = g.type(un.operands[1]);
      UpdateStep st;
      st.buf = value_slot(un.operands[0]);  // the carried param's slot (the chain's buffer)
      st.v = value_slot(un.operands[1]);
      for (size_t a = 2; a < un.operands.size(); ++a) st.starts.push_back(value_slot(un.operands[a]));
      st.steps = un.ints;
      st.x_strides = contiguous_strides(xt);
      for (const ir::Dim& d : vt.shape) st.window.push_back(d.size);
      st.elem = ir::dtype_size(xt.dtype);
      slot_of[static_cast<size_t>(plan.update)] = st.buf;
      part->steps.emplace_back(std::move(st));
      continue;
    }
    if (plan.loop == ir::kNoValue) {
      // A segment: its own graph, whose params are the values it reads from outside.
      ir::Graph sg;
      sg.name = name + "_s" + std::to_string(i);
      sg.files = g.files;
      SegmentStep st;
      std::vector<ValueId> local(nv, ir::kNoValue);
      auto operand = [&](ValueId o) -> ValueId {
        ValueId& l = local[static_cast<size_t>(o)];
        if (l != ir::kNoValue) return l;
        const ir::Node& on = g.node(o);
        if (on.op == Op::Const) {  // cloned into every segment that reads it
          ir::Node c = on;
          return l = sg.add(std::move(c));
        }
        int s = value_slot(o);
        ir::ParamLayout layout = on.op == Op::Param && !body ? static_cast<ir::ParamLayout>(on.ints[1])
                                 : on.type.rank() == 0       ? ir::ParamLayout::Scalar
                                                             : ir::ParamLayout::Contiguous;
        l = sg.add_param(on.type, layout, on.loc);
        st.in_slots.push_back(s);
        return l;
      };
      for (ValueId v : plan.nodes) {
        ir::Node c = g.node(v);
        for (ValueId& o : c.operands) o = operand(o);
        local[static_cast<size_t>(v)] = sg.add(std::move(c));
      }
      for (ValueId v : plan.nodes) {
        if (!exported[static_cast<size_t>(v)]) continue;
        int k = first_result[static_cast<size_t>(v)];
        int s = k >= 0 ? new_slot(SlotKind::Output, k, g.type(v)) : new_slot(SlotKind::Scratch, 0, g.type(v));
        slot_of[static_cast<size_t>(v)] = s;
        sg.results.push_back(local[static_cast<size_t>(v)]);
        st.out_slots.push_back(s);
      }
      auto k = compile_kernel(sg, opts_);
      if (!k) return Status::error(k.message() + " (in segment " + sg.name + ")");
      st.kernel = std::move(k.value());
      compile_ms += st.kernel->compile_ms();
      all_cached = all_cached && st.kernel->from_cache();
      ++info.kernels;
      st.table = table;
      table += st.in_slots.size() + st.out_slots.size();
      part->steps.emplace_back(std::move(st));
      continue;
    }
    // A loop.
    const ir::Node& ln = g.node(plan.loop);
    const ir::Graph& bg = *ln.regions[0];
    // Operands the loop reads, as contiguous buffers.
    auto operand_slot = [&](ValueId o) {
      int s = value_slot(o);
      if (!slots[static_cast<size_t>(s)].contiguous) {  // bodies read contiguous buffers
        int& c = contiguous_copy[static_cast<size_t>(o)];
        if (c < 0) {
          c = new_slot(SlotKind::Scratch, 0, g.type(o));
          part->steps.emplace_back(CopyStep{s, c});
        }
        s = c;
      }
      return s;
    };
    // Carried values this loop runs directly in their operand's buffer (the enclosing body's
    // in-place chain goes through it); their loop_results live there too.
    // Carried value c's initial value is operand co(c) (a while's operand 0 is its test).
    const bool is_while = ln.op == Op::While;
    const size_t nc = static_cast<size_t>(is_while ? ln.ints[0] : ln.ints[1]);
    auto co = [&](size_t c) { return is_while ? c + 1 : c; };
    std::vector<char> in_operand(nc, 0);
    if (in_place)
      if (auto it = in_place->loops.find(plan.loop); it != in_place->loops.end()) in_operand = it->second;
    // A scalar nest: one native kernel over the loop graph, run as a segment whose outputs are
    // the carried values (see scalar_loop.h); else the loop steps below.
    if (native_loops_) {
      ir::Graph lg = native_loop_graph(g, plan.loop, name + "_n" + std::to_string(i));
      std::string why = scalar_loop_rejection(lg);
      if (why.empty()) {
        auto k = compile_kernel(lg, opts_);
        if (k) {
          SegmentStep st;
          st.kernel = std::move(k.value());
          st.may_stop = lg.has_effects();  // (only stopping ones: scalar_loop_rejection)
          info.effects += count_effects(lg);
          for (ValueId o : ln.operands) st.in_slots.push_back(operand_slot(o));
          for (size_t c = 0; c < nc; ++c) {
            std::vector<ValueId> lrs;
            int first = -1;
            for (ValueId r : loop_results[static_cast<size_t>(plan.loop)])
              if (g.node(r).ints[0] == static_cast<int64_t>(c)) {
                lrs.push_back(r);
                int kr = first_result[static_cast<size_t>(r)];
                if (kr >= 0 && (first < 0 || kr < first)) first = kr;
              }
            const ir::Type& t = g.type(ln.operands[co(c)]);
            // The initial value's own scratch buffer, when no later step reads it and the loop
            // reads it only here: the nest then runs in it without a copy (a chain of loops over
            // one array, like an edit distance's fills and recurrence, shares one buffer).
            ValueId o = ln.operands[co(c)];
            int in_slot = st.in_slots[co(c)];
            // Every value living in that buffer (loop_results of one carried value share one)
            // must be dead after this step.
            auto dead_after = [&](ValueId v) {
              return first_result[static_cast<size_t>(v)] < 0 && last_reader_step[static_cast<size_t>(v)] <= static_cast<int>(i);
            };
            bool donate = first < 0 && slots[static_cast<size_t>(in_slot)].kind == SlotKind::Scratch && dead_after(o) &&
                          std::count(st.in_slots.begin(), st.in_slots.end(), in_slot) == 1;
            for (ValueId v = 0; donate && v < g.size(); ++v)
              if (slot_of[static_cast<size_t>(v)] == in_slot) donate = dead_after(v);
            info.donated_buffers += donate ? 1 : 0;
            int s = donate || in_operand[c] ? in_slot
                    : first >= 0 ? new_slot(SlotKind::Output, first, t)
                                 : new_slot(SlotKind::Scratch, 0, t);
            for (ValueId r : lrs) slot_of[static_cast<size_t>(r)] = s;
            st.out_slots.push_back(s);
          }
          compile_ms += st.kernel->compile_ms();
          all_cached = all_cached && st.kernel->from_cache();
          ++info.kernels;
          ++info.loops;
          ++info.native_loops;
          st.table = table;
          table += st.in_slots.size() + st.out_slots.size();
          part->steps.emplace_back(std::move(st));
          continue;
        }
        why = k.message();
      }
      info.native_rejections.push_back(loop_label(name, i) + why);
    }
    if (is_while) {
      if (has_extent_symbols(bg))
        return Status::error("cpu backend: " + loop_label(name, i) + "windows of runtime extent in a while body");
      WhileStep st;
      st.carried = static_cast<size_t>(ln.ints[0]);
      for (ValueId o : ln.operands) st.operand_slots.push_back(operand_slot(o));
      auto b = build(bg, true, name + "_w" + std::to_string(i));
      if (!b) return b.status();
      st.body = std::move(b.value());
      ++info.loops;
      st.strides.push_back({});  // the iteration number, i64[]
      for (size_t j = 1; j < ln.operands.size(); ++j) st.strides.push_back(contiguous_strides(g.type(ln.operands[j])));
      for (const auto& s : st.strides) st.stride_ptrs.push_back(s.data());
      st.iv = alloc(Bytes{sizeof(int64_t), {}});
      st.test = alloc(Bytes{1, {}});
      for (size_t c = 0; c < st.carried; ++c) {
        const ir::Type& t = g.type(ln.operands[c + 1]);
        st.carried_types.push_back(t);
        st.bufs.push_back({alloc(Bytes::of(t)), alloc(Bytes::of(t))});
        int s = -1;
        for (ValueId r : loop_results[static_cast<size_t>(plan.loop)]) {
          if (g.node(r).ints[0] != static_cast<int64_t>(c)) continue;
          if (s < 0) s = new_slot(SlotKind::Dynamic, 0, t);
          slot_of[static_cast<size_t>(r)] = s;
        }
        st.result_slot.push_back(s);
      }
      st.table = table;
      table += ln.operands.size() + st.carried + 1;
      part->steps.emplace_back(std::move(st));
      continue;
    }
    if (has_extent_symbols(bg))
      return Status::error("cpu backend: " + loop_label(name, i) +
                           "windows of runtime extent run only as a native loop nest, which refused this loop: " +
                           (info.native_rejections.empty() || !native_loops_ ? std::string("native loops are off")
                                                                             : info.native_rejections.back()));
    LoopStep st;
    st.trip = ln.ints[0];
    st.carried = static_cast<size_t>(ln.ints[1]);
    st.start = ln.ints[2];
    st.step = ln.ints[3];
    for (ValueId o : ln.operands) st.operand_slots.push_back(operand_slot(o));
    std::vector<std::vector<Link>> chains =
        st.trip >= 1 ? in_place_chains(bg) : std::vector<std::vector<Link>>(st.carried);
    InPlace body_in_place = in_place_of(bg, chains);
    auto b = build(bg, true, name + "_l" + std::to_string(i), &body_in_place);
    if (!b) return b.status();
    st.body = std::move(b.value());
    ++info.loops;
    st.strides.push_back({});  // the induction variable, i64[]
    for (ValueId o : ln.operands) st.strides.push_back(contiguous_strides(g.type(o)));
    for (const auto& s : st.strides) st.stride_ptrs.push_back(s.data());
    st.iv = alloc(Bytes{sizeof(int64_t), {}});
    for (size_t c = 0; c < st.carried; ++c) {
      const ir::Type& t = g.type(ln.operands[c]);
      // Where the carried value ends: the first result position among its loop_results goes
      // straight into the caller's output (when the loop runs at all); else a dynamic pointer.
      std::vector<ValueId> lrs;
      for (ValueId r : loop_results[static_cast<size_t>(plan.loop)])
        if (g.node(r).ints[0] == static_cast<int64_t>(c)) lrs.push_back(r);
      int first = -1;
      for (ValueId r : lrs) {
        int k = first_result[static_cast<size_t>(r)];
        if (k >= 0 && (first < 0 || k < first)) first = k;
      }
      int final_slot = -1, result_slot = -1, s = -1;
      if (in_operand[c] && !chains[c].empty()) {  // in the enclosing chain's buffer
        for (ValueId r : lrs) slot_of[static_cast<size_t>(r)] = st.operand_slots[c];
        st.final_slot.push_back(-1);
        st.result_slot.push_back(-1);
        st.carried_types.push_back(t);
        st.in_place_buf.push_back(-3);
        st.bufs.push_back({-1, -1});
        ++info.in_place_carried;
        continue;
      }
      if (!lrs.empty()) {
        if (first >= 0 && st.trip >= 1) s = final_slot = new_slot(SlotKind::Output, first, t);
        else s = result_slot = new_slot(SlotKind::Dynamic, 0, t);
      }
      for (ValueId r : lrs) slot_of[static_cast<size_t>(r)] = s;
      st.final_slot.push_back(final_slot);
      st.result_slot.push_back(result_slot);
      st.carried_types.push_back(t);
      if (!chains[c].empty()) {  // one buffer: the output, or scratch
        st.in_place_buf.push_back(final_slot >= 0 ? -1 : alloc(Bytes::of(t)));
        st.bufs.push_back({-1, -1});
        ++info.in_place_carried;
        continue;
      }
      st.in_place_buf.push_back(-2);
      // Iteration k writes buffer k & 1, except the last one when it writes the output.
      std::array<int64_t, 2> bufs{-1, -1};
      for (int64_t j = 0; j < 2; ++j) {
        bool used = j < st.trip && !(j == st.trip - 1 && final_slot >= 0);
        if (used) bufs[static_cast<size_t>(j)] = alloc(Bytes::of(t));
      }
      st.bufs.push_back(bufs);
    }
    st.table = table;
    table += 1 + ln.operands.size() + st.carried;
    part->steps.emplace_back(std::move(st));
  }
  for (ValueId r : g.results) {
    int s = value_slot(r);
    if (s < 0) return Status::error("cpu backend: internal: result %" + std::to_string(r) + " has no slot");
    part->result_slots.push_back(s);
  }
  part->table = table;
  table += slots.size();
  return part;
}

std::string program_symbol(const ir::Graph& g) {
  std::string s = "tjprog_" + to_hex(object_key(ir::print(g))).substr(0, 16);
  if (!g.name.empty()) s += "_";
  for (char c : g.name.substr(0, 48)) s += (std::isalnum(static_cast<unsigned char>(c)) || c == '_') ? c : '_';
  return s;
}

}  // namespace

Expected<std::unique_ptr<CompiledKernel>> compile_program(const ir::Graph& g, const CpuCompileOptions& opts) {
  if (Status st = check_graph(g); !st.ok()) return st;
  Builder b(opts);
  auto main = b.build(g, false, g.name.empty() ? "program" : g.name);
  if (!main) return main.status();
  b.info.frame_bytes = b.arena;
  bool from_cache = b.info.kernels > 0 && b.all_cached;
  return std::unique_ptr<CompiledKernel>(std::make_unique<Program>(std::move(main.value()), std::move(b.allocs), b.table,
                                                                   b.info, b.compile_ms, program_symbol(g), from_cache));
}

EffectSink* set_effect_sink(EffectSink* sink) {
  EffectSink* old = t_effect_sink;
  t_effect_sink = sink;
  return old;
}

const ProgramInfo* program_info(const CompiledKernel& k) {
  const auto* p = dynamic_cast<const Program*>(&k);
  return p ? &p->info() : nullptr;
}

}  // namespace tracejit::backends

extern "C" void tracejit_loop_stop(int64_t id, const void* const* values, int64_t n) {
  if (tracejit::backends::EffectSink* sink = tracejit::backends::t_effect_sink)
    sink->effect(id, values, static_cast<size_t>(n));
  tracejit::backends::t_stopped = true;
}
