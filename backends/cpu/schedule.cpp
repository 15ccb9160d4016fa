// Scheduling and lowering of graphs with structural ops: which values get buffers, one loop nest
// per buffered value with everything else computed inline (views as index remaps), row fusion of
// consecutive nests, blocked-pairwise vectorized reductions, BLAS matmul.
#include "backends/cpu/sort_rt.h"
#include "backends/cpu/schedule.h"

#include <fmt/format.h>
#include <llvm/IR/Constants.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Support/raw_ostream.h>

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <map>
#include <optional>
#include <set>

#include "backends/cpu/blas.h"
#include "backends/cpu/block_pool.h"
#include "backends/cpu/elementwise_ext.h"
#include "backends/cpu/fp_flags.h"
#include "backends/cpu/materialize.h"
#include "backends/cpu/scalar_ops.h"
#include "ir/passes/split_reduce.h"


namespace tracejit::backends {
namespace {

using ir::DType;
using ir::Op;
using ir::ValueId;
using llvm::Value;

constexpr int kCblasRowMajor = 101, kCblasNoTrans = 111, kCblasTrans = 112;
constexpr int64_t kSumBlock = 128;  // elements per vector-accumulated block of a float sum
constexpr int64_t kScratchAlign = 64;
// Output nests large enough for non-temporal stores (stream_output, lower.h) whose rows are at
// least kStreamMinRowBytes store their aligned middle part of each row non-temporally: no
// read-for-ownership of the output lines (a third of a row softmax's memory traffic).
constexpr int64_t kStreamMinRowBytes = 1024;

bool is_reduce(Op op) { return ir::has_trait(op, ir::kReduce); }
bool is_scan(Op op) { return op == Op::ScanSum || op == Op::ScanProd; }

std::vector<int64_t> sizes(const ir::Type& t) {
  std::vector<int64_t> s;
  for (const ir::Dim& d : t.shape) s.push_back(d.size);
  return s;
}

int64_t numel(const std::vector<int64_t>& s) {
  int64_t n = 1;
  for (int64_t x : s) n *= x;
  return n;
}

std::vector<int64_t> c_strides(const std::vector<int64_t>& shape, int64_t elem) {
  std::vector<int64_t> st(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    st[d] = elem;
    elem *= shape[d];
  }
  return st;
}

// Symbolic dims (runtime sizes s<k>, read from the kernel's sym_dims; always >= 2, so a symbolic
// dim is never 0 and never broadcasts). Sizes are then monomials over the symbols: decisions
// that need a number (threading, scratch sizes) are made at run time.
using Mono = ir::DimProduct;


// True when some dim is statically 0 (symbolic dims never are).
bool static_empty(const ir::Type& t) {
  for (const ir::Dim& d : t.shape)
    if (d.is_static() && d.size == 0) return true;
  return false;
}

bool is_one(const ir::Dim& d) { return d.is_static() && d.size == 1; }

// ---- Plan: which values are buffered and where their buffers live. ----

struct Plan {
  std::vector<bool> needed, buffered;
  std::vector<int> home_out;  // output index that holds the value, or -1
  std::vector<int> slot;      // scratch slot, or -1
  std::vector<Mono> slot_bytes;  // per slot (static: rounded up to kScratchAlign); placed by pack_scratch
};

bool is_strided_param(const ir::Node& n) {
  return n.op == Op::Param && static_cast<ir::ParamLayout>(n.ints[1]) == ir::ParamLayout::Strided;
}

// A value as (buffer, byte offset, byte strides), known at compile time: what BLAS can be handed.
struct Desc {
  ValueId base = ir::kNoValue;
  int64_t offset = 0;
  std::vector<int64_t> strides;
};

std::optional<Desc> describe(const ir::Graph& g, const Plan& p, ValueId v) {
  const ir::Node& n = g.node(v);
  if (!n.type.is_static()) return std::nullopt;  // symbolic: Lowerer::describe_rt
  auto shape = sizes(n.type);
  int64_t elem = ir::dtype_size(n.type.dtype);
  if (p.buffered[static_cast<size_t>(v)]) {
    if (is_strided_param(n)) return std::nullopt;
    Desc d{v, 0, c_strides(shape, elem)};
    if (n.op == Op::Param && static_cast<ir::ParamLayout>(n.ints[1]) == ir::ParamLayout::Scalar)
      std::fill(d.strides.begin(), d.strides.end(), 0);
    return d;
  }
  if (n.operands.size() != 1) return std::nullopt;
  auto in = describe(g, p, n.operands[0]);
  if (!in) return std::nullopt;
  const auto in_shape = sizes(g.type(n.operands[0]));
  Desc d{in->base, in->offset, {}};
  switch (n.op) {
    case Op::Transpose:
      for (int64_t a : n.ints) d.strides.push_back(in->strides[static_cast<size_t>(a)]);
      return d;
    case Op::Slice:
      for (size_t a = 0; a < shape.size(); ++a) {
        d.offset += n.ints[2 * a] * in->strides[a];
        d.strides.push_back(n.ints[2 * a + 1] * in->strides[a]);
      }
      return d;
    case Op::Broadcast: {
      size_t lead = shape.size() - in_shape.size();
      for (size_t a = 0; a < shape.size(); ++a)
        d.strides.push_back(a < lead || in_shape[a - lead] == 1 ? 0 : in->strides[a - lead]);
      return d;
    }
    case Op::Reshape: {
      auto want = c_strides(in_shape, elem);
      for (size_t a = 0; a < in_shape.size(); ++a)
        if (in_shape[a] != 1 && in->strides[a] != want[a]) return std::nullopt;
      d.strides = c_strides(shape, elem);
      return d;
    }
    default: return std::nullopt;
  }
}

// How BLAS reads an [rows, cols] matrix with byte strides (rs, cs): transposed or not, and its
// leading dimension; nullopt when it cannot (then the operand is copied to a contiguous buffer).
struct BlasMat {
  bool trans = false;
  int64_t ld = 1;
};

std::optional<BlasMat> blas_layout(int64_t rs, int64_t cs, int64_t rows, int64_t cols, int64_t e) {
  if ((cs == e || cols <= 1) && (rows <= 1 || (rs > 0 && rs % e == 0 && rs / e >= std::max<int64_t>(1, cols))))
    return BlasMat{false, rows <= 1 ? std::max<int64_t>(1, cols) : rs / e};
  if ((rs == e || rows <= 1) && (cols <= 1 || (cs > 0 && cs % e == 0 && cs / e >= std::max<int64_t>(1, rows))))
    return BlasMat{true, cols <= 1 ? std::max<int64_t>(1, rows) : cs / e};
  return std::nullopt;
}

bool blas_dtype(DType d) { return d == DType::F32 || d == DType::F64; }

// True when reshaping `in` to `out` only inserts or drops size-1 dims: the other dims keep
// their order and strides (a vector's reshape to a row or a column, for matmul).
bool unit_reshape(const std::vector<ir::Dim>& in, const std::vector<ir::Dim>& out) {
  std::vector<ir::Dim> a, b;
  for (const ir::Dim& x : in)
    if (!is_one(x)) a.push_back(x);
  for (const ir::Dim& x : out)
    if (!is_one(x)) b.push_back(x);
  return a == b;
}

// True when `v` has a layout BLAS could be handed once the strides of Strided params are read
// at run time (Lowerer::describe_rt): describe() succeeds, or `v` is a Strided param or a view
// of one through transposes, slices, broadcasts and reshapes that only insert/drop size-1 dims.
bool rt_describable(const ir::Graph& g, const Plan& p, ValueId v) {
  if (describe(g, p, v)) return true;
  const ir::Node& n = g.node(v);
  // A buffer with symbolic dims: C strides known at run time.
  if (p.buffered[static_cast<size_t>(v)]) return is_strided_param(n) || !n.type.is_static();
  if (n.operands.size() != 1) return false;
  switch (n.op) {
    case Op::Transpose: case Op::Slice: case Op::Broadcast: return rt_describable(g, p, n.operands[0]);
    case Op::Reshape:
      return unit_reshape(g.type(n.operands[0]).shape, n.type.shape) && rt_describable(g, p, n.operands[0]);
    default: return false;
  }
}

// A concat along axis 0 (np.roll/np.concatenate of rows) is evaluated inline: its consumer's
// outer loop picks the operand per row, the inner loops stay contiguous. Other axes keep a
// buffer (a per-element pick would turn the inner loop's loads into gathers).
bool inline_concat(const ir::Node& n) { return n.type.rank() > 0 && n.ints[0] == 0; }

Expected<Plan> make_plan(const ir::Graph& g) {
  size_t nv = static_cast<size_t>(g.size());
  Plan p;
  p.needed.assign(nv, false);
  p.buffered.assign(nv, false);
  p.home_out.assign(nv, -1);
  p.slot.assign(nv, -1);
  for (ValueId r : g.results) p.needed[static_cast<size_t>(r)] = true;
  for (size_t v = nv; v-- > 0;)
    if (p.needed[v])
      for (ValueId o : g.nodes[v].operands) p.needed[static_cast<size_t>(o)] = true;
  for (size_t v = 0; v < nv; ++v) {
    const ir::Node& n = g.nodes[v];
    if (!p.needed[v]) continue;
    // A dyn_update is buffered (one select pass over its operand): inline, a chain of updates
    // would be re-evaluated at every read of every later version.
    if (n.op == Op::Param || is_reduce(n.op) || n.op == Op::ArgMax || n.op == Op::ArgMin ||
        n.op == Op::MatMul || n.op == Op::DynUpdate || n.op == Op::Scatter || is_scan(n.op) || n.op == Op::Sort ||
        (n.op == Op::Concat && !inline_concat(n)))
      p.buffered[v] = true;
    if (n.op == Op::MatMul) {
      for (int k = 0; k < 2; ++k) {
        ValueId o = n.operands[static_cast<size_t>(k)];
        auto d = describe(g, p, o);
        bool ok = d.has_value();
        if (ok && blas_dtype(n.type.dtype)) {
          auto s = sizes(g.type(o));
          size_t r = s.size();
          ok = blas_layout(d->strides[r - 2], d->strides[r - 1], s[r - 2], s[r - 1],
                           ir::dtype_size(n.type.dtype)).has_value();
        } else if (!ok) {
          ok = rt_describable(g, p, o);  // strides known at run time: BLAS in place or packed then
        }
        if (!ok) p.buffered[static_cast<size_t>(o)] = true;
      }
    }
    // A scatter writes on one thread, evaluating its indices and values where it writes: an
    // index or value whose inline expression costs more than materialize.h's bound (np.histogram's
    // bin index, with its division and two gathers) is evaluated first, vectorized over every
    // core, into a buffer of its own; a cheap one (`w[idx] -= lr * g`) stays fused.
    if (n.op == Op::Scatter) {
      for (size_t k = 1; k < 3; ++k) {
        const ValueId o = n.operands[k];
        if (inline_cost(g, p.buffered, o, kInlineCostBound) > kInlineCostBound) p.buffered[static_cast<size_t>(o)] = true;
      }
    }
  }
  for (size_t k = 0; k < g.results.size(); ++k) {
    auto v = static_cast<size_t>(g.results[k]);
    if (g.nodes[v].op == Op::Param) continue;  // copied by a nest of its own
    p.buffered[v] = true;
    if (p.home_out[v] < 0) p.home_out[v] = static_cast<int>(k);
  }
  p.buffered = materialize_shared(g, p.needed, std::move(p.buffered));
  for (size_t v = 0; v < nv; ++v) {
    if (!p.buffered[v] || g.nodes[v].op == Op::Param || p.home_out[v] >= 0) continue;
    p.slot[v] = static_cast<int>(p.slot_bytes.size());
    Mono bytes = Mono::numel(g.nodes[v].type) * Mono{ir::dtype_size(g.nodes[v].type.dtype), {}};
    if (bytes.is_static()) bytes.factor = (bytes.factor + kScratchAlign - 1) / kScratchAlign * kScratchAlign;
    p.slot_bytes.push_back(bytes);
  }
  return p;
}

// Places scratch slots (sizes `bytes`, live from group first[s] to group last[s], both
// inclusive) in one allocation, reusing the space of slots dead before a slot's first group:
// an unrolled time loop then needs a few steps' worth of scratch, not one buffer per step.
// Returns the offsets and the total size.
std::pair<std::vector<int64_t>, int64_t> pack_scratch(const std::vector<int64_t>& bytes, const std::vector<int>& first,
                                                      const std::vector<int>& last) {
  std::vector<size_t> order(bytes.size());
  for (size_t s = 0; s < order.size(); ++s) order[s] = s;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return first[a] < first[b]; });
  std::vector<int64_t> offset(bytes.size(), 0);
  std::multimap<int64_t, int64_t> free_blocks;  // size -> offset
  std::vector<size_t> live;
  int64_t total = 0;
  for (size_t s : order) {
    for (size_t k = live.size(); k-- > 0;)
      if (last[live[k]] < first[s]) {
        free_blocks.emplace(bytes[live[k]], offset[live[k]]);
        live.erase(live.begin() + static_cast<std::ptrdiff_t>(k));
      }
    if (auto it = free_blocks.lower_bound(bytes[s]); it != free_blocks.end()) {
      offset[s] = it->second;
      if (it->first > bytes[s]) free_blocks.emplace(it->first - bytes[s], it->second + bytes[s]);
      free_blocks.erase(it);
    } else {
      offset[s] = total;
      total += bytes[s];
    }
    live.push_back(s);
  }
  return {offset, total};
}

// ---- Nests. ----

// ConcatPart writes operand `part` of a concat into its buffer at its offset along the axis
// (a scatter's operand 0, x, at offset 0: the copy its ScatterWrite nest then writes into).
enum class NestKind { Eval, Copy, Reduce, Arg, Scan, MatMul, ConcatPart, ScatterWrite, Sort };

struct Nest {
  NestKind kind = NestKind::Eval;
  ValueId v = ir::kNoValue;  // the value computed (Copy: the value copied)
  int out = -1;              // Copy: destination output
  int part = 0;              // ConcatPart: operand index
  ir::Dim outer = ir::Dim::fixed(1);  // extent of the outer loop ([begin, end) of the helper)
  bool independent = false;  // outer iterations write disjoint data and read none of it
  bool row_axis0 = false;    // the outer loop is axis 0 of the iteration space and of the dest
  bool streaming = false;    // has non-temporal stores: the group body ends with a fence
  int64_t row_tile = 1;      // the helper walks its outer rows in tiles of this many: chunks are multiples
  Mono work{0, {}};
  llvm::Function* helper = nullptr;
  std::vector<unsigned> args;  // helper parameter k is the kernel argument args[k] (see emit_helper)
};

class Lowerer {
 public:
  Lowerer(const ir::Graph& g, const Plan& p, llvm::Module& m, const std::string& symbol)
      : g_(g), p_(p), m_(m), ctx_(m.getContext()), b_(ctx_), symbol_(symbol) {}

  Expected<std::vector<Nest>> plan_nests();
  Status emit_helper(Nest& nest, int index);
  bool aligned_reads(ValueId u, bool al, ValueId root, const std::set<ValueId>& group) const;
  bool group_reads_ok(const Nest& n, const std::set<ValueId>& group) const;
  Status emit_kernel(std::vector<Nest>& nests, const LowerOptions& opts);

 private:
  // Helper-function state.
  Value* kernel_arg(unsigned k);
  llvm::FunctionCallee placeholder_fn();
  llvm::Function* finish_helper(llvm::Function* tmp, std::vector<unsigned>& args);
  Value* buffer_ptr(ValueId v);
  Value* byte_offset(ValueId v, const std::vector<Value*>& idx);
  bool inbounds_buffer(ValueId v) const;
  Value* load(ValueId v, const std::vector<Value*>& idx);
  void store(ValueId buffer_of, int out, const std::vector<Value*>& idx, Value* x, DType d);
  Expected<Value*> eval(ValueId v, const std::vector<Value*>& idx);
  Expected<Value*> compute(ValueId v, const std::vector<Value*>& idx);
  template <class F>
  Status loop(Value* lo, Value* hi, const char* name, F&& body);
  template <class F>
  Status loops(const std::vector<Value*>& ext, const std::vector<int>& axes, size_t level,
               std::vector<Value*>& idx, F&& body);
  // Runtime sizes (constants when static), loaded once per helper in its entry block.
  unsigned sym_arg() const {
    return static_cast<unsigned>(g_.params.size() + 1 + g_.results.size() + p_.slot_bytes.size());
  }
  Value* dimv(const ir::Dim& d);
  std::vector<Value*> extv(const ir::Type& t) {
    std::vector<Value*> e;
    for (const ir::Dim& d : t.shape) e.push_back(dimv(d));
    return e;
  }
  std::vector<Value*> cstrides_v(const ir::Type& t, int64_t elem);
  Value* entry_alloca(llvm::Type* t, const char* name);
  Status emit_eval(Nest& n);
  bool simple_rows(ValueId v, ValueId root) const;
  bool transposed_reads(ValueId v, ValueId root, size_t rank) const;
  int64_t read_bytes(ValueId v, ValueId root, std::set<ValueId>& seen) const;
  Status emit_reduce(Nest& n);
  Status emit_arg(Nest& n);
  Status emit_arg_inner(Nest& n);
  Status emit_scan(Nest& n);
  Status emit_scatter(Nest& n);
  Status emit_matmul(Nest& n);
  Status emit_sort(Nest& n);
  struct RtDesc;
  std::optional<RtDesc> describe_rt(ValueId v);
  Value* param_stride(ValueId v, size_t d);
  Status emit_matmul_rt(Nest& n);
  Value* identity(Op op, DType d);
  // acc op x; float max/min propagate NaN and raise no flag for it (quiet_fcmp).
  Value* combine(Op op, DType d, Value* acc, Value* x);

  const ir::Graph& g_;
  const Plan& p_;
  llvm::Module& m_;
  llvm::LLVMContext& ctx_;
  llvm::IRBuilder<> b_;
  std::string symbol_;
  int64_t llc_bytes_ = int64_t{32} << 20;  // LowerOptions::llc_bytes, set by emit_kernel
  // Per helper.
  std::map<unsigned, Value*> placeholders_;  // kernel argument -> placeholder (see kernel_arg)
  Value* begin_ = nullptr;
  Value* end_ = nullptr;
  llvm::BranchInst* last_backedge_ = nullptr;  // of the loop loop() emitted last
  int gather_depth(ValueId v, ValueId root);
  std::map<ValueId, int> gather_depth_;  // memo (buffering is fixed once nests are emitted)
  llvm::BasicBlock* entry_ = nullptr;
  std::map<std::pair<ValueId, int>, Value*> dyn_stride_;
  std::map<int32_t, Value*> sym_vals_;
  std::map<std::pair<ValueId, std::vector<Value*>>, Value*> memo_;
  ValueId root_ = ir::kNoValue;
};

Value* Lowerer::dimv(const ir::Dim& d) {
  if (d.is_static()) return b_.getInt64(d.size);
  Value*& s = sym_vals_[d.sym];
  if (!s) {
    llvm::IRBuilder<> eb(entry_->getTerminator());
    s = eb.CreateLoad(eb.getInt64Ty(), eb.CreateConstInBoundsGEP1_64(eb.getInt64Ty(), kernel_arg(sym_arg()), static_cast<uint64_t>(d.sym)),
                      fmt::format("s{}", d.sym));
  }
  return s;
}

std::vector<Value*> Lowerer::cstrides_v(const ir::Type& t, int64_t elem) {
  std::vector<Value*> st(t.shape.size());
  Value* e = b_.getInt64(elem);
  for (size_t d = t.shape.size(); d-- > 0;) {
    st[d] = e;
    e = b_.CreateMul(e, dimv(t.shape[d]), "", true, true);
  }
  return st;
}

Value* Lowerer::entry_alloca(llvm::Type* t, const char* name) {
  llvm::IRBuilder<> eb(entry_, entry_->begin());
  return eb.CreateAlloca(t, nullptr, name);
}

template <class F>
Status Lowerer::loop(Value* lo, Value* hi, const char* name, F&& body) {
  llvm::Function* f = b_.GetInsertBlock()->getParent();
  llvm::BasicBlock* pre = b_.GetInsertBlock();
  auto* head = llvm::BasicBlock::Create(ctx_, std::string(name) + ".head", f);
  auto* bb = llvm::BasicBlock::Create(ctx_, std::string(name) + ".body", f);
  auto* exit = llvm::BasicBlock::Create(ctx_, std::string(name) + ".exit", f);
  b_.CreateBr(head);
  b_.SetInsertPoint(head);
  llvm::PHINode* i = b_.CreatePHI(b_.getInt64Ty(), 2, name);
  i->addIncoming(lo, pre);
  b_.CreateCondBr(b_.CreateICmpSLT(i, hi), bb, exit);
  b_.SetInsertPoint(bb);
  if (Status s = body(static_cast<Value*>(i)); !s) return s;
  Value* next = b_.CreateAdd(i, b_.getInt64(1), "", true, true);
  i->addIncoming(next, b_.GetInsertBlock());
  last_backedge_ = b_.CreateBr(head);
  b_.SetInsertPoint(exit);
  memo_.clear();  // values from inside the loop do not dominate what follows
  return ok_status();
}

// Loops over axes[level..] (extents ext[axis]), writing idx[axis]; then body().
template <class F>
Status Lowerer::loops(const std::vector<Value*>& ext, const std::vector<int>& axes, size_t level,
                      std::vector<Value*>& idx, F&& body) {
  if (level == axes.size()) {
    memo_.clear();
    return body();
  }
  auto a = static_cast<size_t>(axes[level]);
  return loop(b_.getInt64(0), ext[a], "l", [&](Value* i) -> Status {
    idx[a] = i;
    return loops(ext, axes, level + 1, idx, body);
  });
}

Value* Lowerer::buffer_ptr(ValueId v) {
  const ir::Node& n = g_.node(v);
  auto np = static_cast<unsigned>(g_.params.size()), nr = static_cast<unsigned>(g_.results.size());
  auto i = static_cast<size_t>(v);
  if (n.op == Op::Param) return kernel_arg(static_cast<unsigned>(n.ints[0]));
  if (p_.home_out[i] >= 0) return kernel_arg(np + 1 + static_cast<unsigned>(p_.home_out[i]));
  return kernel_arg(np + 1 + nr + static_cast<unsigned>(p_.slot[i]));
}

Value* Lowerer::byte_offset(ValueId v, const std::vector<Value*>& idx) {
  const ir::Node& n = g_.node(v);
  const auto& shape = n.type.shape;
  Value* off = nullptr;
  auto add = [&](Value* t) { off = off ? b_.CreateAdd(off, t, "", true, true) : t; };
  if (n.op == Op::Param && static_cast<ir::ParamLayout>(n.ints[1]) == ir::ParamLayout::Scalar) return b_.getInt64(0);
  if (is_strided_param(n)) {
    for (size_t d = 0; d < shape.size(); ++d) {
      if (is_one(shape[d])) continue;
      Value*& s = dyn_stride_[{v, static_cast<int>(d)}];
      if (!s) {
        llvm::IRBuilder<> eb(entry_->getTerminator());
        Value* arr = eb.CreateLoad(eb.getPtrTy(), eb.CreateConstInBoundsGEP1_64(eb.getPtrTy(), kernel_arg(static_cast<unsigned>(g_.params.size())), static_cast<uint64_t>(n.ints[0])));
        s = eb.CreateLoad(eb.getInt64Ty(), eb.CreateConstInBoundsGEP1_64(eb.getInt64Ty(), arr, d));
      }
      add(b_.CreateMul(idx[d], s));
    }
  } else {
    auto st = cstrides_v(n.type, ir::dtype_size(n.type.dtype));
    for (size_t d = 0; d < shape.size(); ++d)
      if (!is_one(shape[d])) add(b_.CreateMul(idx[d], st[d], "", true, true));
  }
  return off ? off : b_.getInt64(0);
}

// Inputs and outputs are addressed with inbounds GEPs: the loop vectorizer then knows a strided
// address does not wrap, and loads x[::2] as wide loads and shuffles (an interleave group with
// a gap) instead of a gather. Not scratch: a row-local slot's helper gets a pointer shifted back
// by the row index (emit_kernel), outside the row buffer it addresses into.
bool Lowerer::inbounds_buffer(ValueId v) const {
  return g_.node(v).op == Op::Param || p_.home_out[static_cast<size_t>(v)] >= 0;
}

Value* Lowerer::load(ValueId v, const std::vector<Value*>& idx) {
  DType d = g_.type(v).dtype;
  Value* ptr = inbounds_buffer(v) ? b_.CreateInBoundsGEP(b_.getInt8Ty(), buffer_ptr(v), byte_offset(v, idx))
                                  : b_.CreateGEP(b_.getInt8Ty(), buffer_ptr(v), byte_offset(v, idx));
  Value* x = b_.CreateAlignedLoad(memory_type(ctx_, d), ptr, llvm::Align(1));
  return from_memory(b_, x, d);
}

void Lowerer::store(ValueId buffer_of, int out, const std::vector<Value*>& idx, Value* x, DType d) {
  Value* base = out >= 0 ? kernel_arg(static_cast<unsigned>(g_.params.size() + 1) + static_cast<unsigned>(out))
                        : buffer_ptr(buffer_of);
  const auto& shape = g_.type(buffer_of).shape;
  auto st = cstrides_v(g_.type(buffer_of), ir::dtype_size(d));
  Value* off = b_.getInt64(0);
  for (size_t a = 0; a < shape.size(); ++a)
    if (!is_one(shape[a])) off = b_.CreateAdd(off, b_.CreateMul(idx[a], st[a], "", true, true), "", true, true);
  Value* ptr = out >= 0 || inbounds_buffer(buffer_of) ? b_.CreateInBoundsGEP(b_.getInt8Ty(), base, off)
                                                     : b_.CreateGEP(b_.getInt8Ty(), base, off);
  b_.CreateAlignedStore(to_memory(b_, x, d), ptr, llvm::Align(static_cast<uint64_t>(ir::dtype_size(d))));
}

// The index of operand `o` (right-aligned, broadcast) for result index `idx` of shape `shape`.
std::vector<Value*> broadcast_index(llvm::IRBuilderBase& b, const ir::Type& o, const std::vector<Value*>& idx) {
  std::vector<Value*> j(static_cast<size_t>(o.rank()));
  size_t lead = idx.size() - j.size();
  for (size_t d = 0; d < j.size(); ++d) j[d] = is_one(o.shape[d]) ? b.getInt64(0) : idx[lead + d];
  return j;
}

Expected<Value*> Lowerer::eval(ValueId v, const std::vector<Value*>& idx) {
  if (v != root_ && p_.buffered[static_cast<size_t>(v)]) {
    auto key = std::make_pair(v, idx);
    if (auto it = memo_.find(key); it != memo_.end()) return it->second;
    return memo_[key] = load(v, idx);
  }
  auto key = std::make_pair(v, idx);
  if (auto it = memo_.find(key); it != memo_.end()) return it->second;
  auto r = compute(v, idx);
  if (!r) return r;
  return memo_[key] = *r;
}

Expected<Value*> Lowerer::compute(ValueId v, const std::vector<Value*>& idx) {
  const ir::Node& n = g_.node(v);
  DType d = n.type.dtype;
  switch (n.op) {
    case Op::Const: return emit_const(b_, n);
    case Op::Iota: {
      Value* i = idx[static_cast<size_t>(n.ints[0])];
      llvm::Type* t = register_type(ctx_, d);
      if (ir::is_float(d)) return b_.CreateSIToFP(i, t);
      if (ir::is_bool(d)) return b_.CreateICmpNE(i, b_.getInt64(0));
      return b_.CreateTrunc(i, t);
    }
    case Op::Broadcast: return eval(n.operands[0], broadcast_index(b_, g_.type(n.operands[0]), idx));
    case Op::Transpose: {
      std::vector<Value*> j(idx.size());
      for (size_t a = 0; a < idx.size(); ++a) j[static_cast<size_t>(n.ints[a])] = idx[a];
      return eval(n.operands[0], j);
    }
    case Op::Slice: {
      std::vector<Value*> j(idx.size());
      for (size_t a = 0; a < idx.size(); ++a)
        j[a] = b_.CreateAdd(b_.getInt64(n.ints[2 * a]), b_.CreateMul(idx[a], b_.getInt64(n.ints[2 * a + 1]), "", false, true),
                            "", false, true);  // in [0, extent): no signed wrap
      return eval(n.operands[0], j);
    }
    case Op::DynSlice: {  // starts are 0-d runtime values (in bounds by construction)
      std::vector<Value*> j(idx.size());
      for (size_t a = 0; a < idx.size(); ++a) {
        auto s = eval(n.operands[a + 1], {});
        if (!s) return s;
        j[a] = b_.CreateAdd(*s, b_.CreateMul(idx[a], b_.getInt64(n.ints[a])));
      }
      return eval(n.operands[0], j);
    }
    case Op::DynUpdate: {
      // x at idx, unless idx lies on the window: per axis, rel = idx - start is a multiple of
      // the step and rel / step (the window index) is below the extent. v is read at the window
      // index clamped into the window, so the read is in bounds whether or not it is selected.
      const ir::Type& vt = g_.type(n.operands[1]);
      Value* in = b_.getTrue();
      std::vector<Value*> q(idx.size());
      for (size_t a = 0; a < idx.size(); ++a) {
        int64_t w = vt.shape[a].size, step = n.ints[a];
        if (w == 0) return eval(n.operands[0], idx);  // an empty window writes nothing
        auto s = eval(n.operands[a + 2], {});
        if (!s) return s;
        Value* rel = b_.CreateSub(idx[a], *s);
        Value* k = rel;
        if (step != 1) {
          in = b_.CreateAnd(in, b_.CreateICmpEQ(b_.CreateSRem(rel, b_.getInt64(step)), b_.getInt64(0)));
          k = b_.CreateSDiv(rel, b_.getInt64(step));
        }
        in = b_.CreateAnd(in, b_.CreateICmpULT(k, b_.getInt64(w)));
        q[a] = w == 1 ? static_cast<Value*>(b_.getInt64(0))
                      : b_.CreateBinaryIntrinsic(llvm::Intrinsic::smax,
                                                 b_.CreateBinaryIntrinsic(llvm::Intrinsic::smin, k, b_.getInt64(w - 1)),
                                                 b_.getInt64(0));
      }
      auto x = eval(n.operands[0], idx);
      if (!x) return x;
      auto y = eval(n.operands[1], q);
      if (!y) return y;
      return b_.CreateSelect(in, *y, *x);
    }
    case Op::Gather: {
      // x at the index read from idx (the result's axes axis .. axis + rank(idx) - 1), mapped
      // by the mode and always in bounds (ir/ops.def).
      const ir::Type& it = g_.type(n.operands[1]);
      const auto a = static_cast<size_t>(n.ints[0]);
      const auto ri = static_cast<size_t>(it.rank());
      auto k = eval(n.operands[1], std::vector<Value*>(idx.begin() + static_cast<std::ptrdiff_t>(a),
                                                       idx.begin() + static_cast<std::ptrdiff_t>(a + ri)));
      if (!k) return k;
      // NumPy converts the indices to intp: uint64 reinterpreted (2**64 - 1 is -1), the
      // narrower unsigned types zero-extended.
      const bool uns = ir::is_unsigned_int(it.dtype) && it.dtype != DType::U64;
      Value* i = uns ? b_.CreateZExtOrTrunc(*k, b_.getInt64Ty()) : b_.CreateSExtOrTrunc(*k, b_.getInt64Ty());
      const int64_t len = g_.type(n.operands[0]).shape[a].size;
      Value* nv = b_.getInt64(len);
      Value* last = b_.getInt64(len - 1);
      switch (n.ints[1]) {
        case 1:  // wrap: Python's modulo
          if (uns) {
            i = b_.CreateURem(i, nv);
          } else {
            i = b_.CreateSRem(i, nv);
            i = b_.CreateSelect(b_.CreateICmpSLT(i, b_.getInt64(0)), b_.CreateAdd(i, nv), i);
          }
          break;
        case 2:  // clip
          i = uns ? b_.CreateBinaryIntrinsic(llvm::Intrinsic::umin, i, last)
                  : b_.CreateBinaryIntrinsic(llvm::Intrinsic::smax,
                                             b_.CreateBinaryIntrinsic(llvm::Intrinsic::smin, i, last), b_.getInt64(0));
          break;
        default:  // raise: from the end when negative; still outside [0, n): element 0
          if (!uns) i = b_.CreateSelect(b_.CreateICmpSLT(i, b_.getInt64(0)), b_.CreateAdd(i, nv), i);
          i = b_.CreateSelect(b_.CreateICmpULT(i, nv), i, b_.getInt64(0));
          break;
      }
      std::vector<Value*> j(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(a));
      j.push_back(i);
      j.insert(j.end(), idx.begin() + static_cast<std::ptrdiff_t>(a + ri), idx.end());
      return eval(n.operands[0], j);
    }
    case Op::Concat: {
      // Each operand at its clamped index (always in bounds), then pick by position along the axis.
      auto a = static_cast<size_t>(n.ints[0]);
      Value* j = idx[a];
      Value* r = nullptr;
      Value* off = b_.getInt64(0);
      for (ValueId o : n.operands) {
        const ir::Dim& dim = g_.type(o).shape[a];
        if (dim.is_static() && dim.size == 0) continue;
        Value* len = dimv(dim);
        std::vector<Value*> k = idx;
        k[a] = b_.CreateBinaryIntrinsic(llvm::Intrinsic::smax,
                                        b_.CreateBinaryIntrinsic(llvm::Intrinsic::smin, b_.CreateSub(j, off), b_.CreateSub(len, b_.getInt64(1))),
                                        b_.getInt64(0));
        auto x = eval(o, k);
        if (!x) return x;
        r = r ? b_.CreateSelect(b_.CreateICmpSLT(j, off), r, *x) : *x;
        off = b_.CreateAdd(off, len);
      }
      if (!r) return Status::error("cpu backend: inline concat of empty operands");
      return r;
    }
    case Op::Reshape: {
      ValueId o = n.operands[0];
      const auto& shape = n.type.shape;
      const auto& in_shape = g_.type(o).shape;
      auto at_least_1 = [&](const ir::Dim& d) { return d.is_static() ? b_.getInt64(std::max<int64_t>(1, d.size)) : dimv(d); };
      // Leading and trailing axes the reshape keeps map through unchanged; only the middle
      // goes through a flat index (a split of axis 0 into [chunks, n / chunks, ...] then
      // costs one multiply-add, no division per element).
      size_t pre = 0, suf = 0;
      while (pre < shape.size() && pre < in_shape.size() && shape[pre] == in_shape[pre]) ++pre;
      while (suf + pre < shape.size() && suf + pre < in_shape.size() &&
             shape[shape.size() - 1 - suf] == in_shape[in_shape.size() - 1 - suf])
        ++suf;
      std::vector<Value*> j(in_shape.size());
      for (size_t a = 0; a < pre; ++a) j[a] = idx[a];
      for (size_t a = 0; a < suf; ++a) j[in_shape.size() - 1 - a] = idx[shape.size() - 1 - a];
      Value* flat = b_.getInt64(0);
      for (size_t a = pre; a + suf < shape.size(); ++a)
        flat = b_.CreateAdd(b_.CreateMul(flat, dimv(shape[a]), "", true, true), idx[a], "", true, true);
      // The middle's size-1 axes read index 0; the outermost other axis takes what is left of
      // the flat index (no division when it is the only one: [c, l] -> [1, n]).
      std::vector<size_t> mid;
      for (size_t a = pre; a + suf < in_shape.size(); ++a) {
        if (is_one(in_shape[a])) j[a] = b_.getInt64(0);
        else mid.push_back(a);
      }
      for (size_t k = mid.size(); k-- > 0;) {
        size_t a = mid[k];
        if (k == 0) j[a] = flat;
        else {
          j[a] = b_.CreateURem(flat, at_least_1(in_shape[a]));
          flat = b_.CreateUDiv(flat, at_least_1(in_shape[a]));
        }
      }
      return eval(o, j);
    }
    default: break;
  }
  if (!ir::has_trait(n.op, ir::kElementwise))
    return Status::error(fmt::format("cpu backend: {} reached inline evaluation", ir::op_name(n.op)));
  std::vector<Value*> args;
  std::vector<DType> arg_dtypes;
  for (ValueId o : n.operands) {
    auto x = eval(o, broadcast_index(b_, g_.type(o), idx));
    if (!x) return x;
    args.push_back(*x);
    arg_dtypes.push_back(g_.type(o).dtype);
  }
  return emit_scalar_op(b_, n, arg_dtypes, args);  // ext ops too, with NumPy's flags noted
}

// True when `v` evaluates inline from buffers read contiguously or broadcast along the last
// axis with only cheap arithmetic: consecutive scalar evaluations of it vectorize (SLP) reliably.
bool Lowerer::simple_rows(ValueId v, ValueId root) const {
  const ir::Node& n = g_.node(v);
  if (v != root && p_.buffered[static_cast<size_t>(v)]) return !is_strided_param(n);
  switch (n.op) {
    case Op::Const: return true;
    case Op::Broadcast: case Op::Add: case Op::Sub: case Op::Mul: case Op::Div: case Op::Sqrt:
    case Op::Neg: case Op::Abs: case Op::Maximum: case Op::Minimum: case Op::Cast:
      break;
    default: return false;
  }
  for (ValueId o : n.operands)
    if (!simple_rows(o, root)) return false;
  return true;
}

// Whether the expression `v` (the nest computing `root`, of rank `rank` >= 2) reads a buffer
// through a view that walks the last axis across cache lines while the second-to-last is unit
// stride: a transpose (`x.T + 1`, `np.exp(x.T)`). Row by row, such a read touches a new line
// (and a new page) per element: emit_eval then walks the last two axes in tiles.
bool Lowerer::transposed_reads(ValueId v, ValueId root, size_t rank) const {
  const ir::Node& n = g_.node(v);
  if (v != root && n.type.rank() >= 2) {
    if (auto d = describe(g_, p_, v)) {
      const size_t k = d->strides.size();
      const int64_t elem = ir::dtype_size(n.type.dtype);
      const int64_t last = d->strides[k - 1], second = d->strides[k - 2];
      return k <= rank && std::abs(second) == elem && std::abs(last) >= 256;
    }
  }
  if (v != root && p_.buffered[static_cast<size_t>(v)]) return false;
  if (!ir::has_trait(n.op, ir::kElementwise) && n.op != Op::Broadcast) return false;
  for (ValueId o : n.operands)
    if (transposed_reads(o, root, rank)) return true;
  return false;
}

// Bytes of the buffers (params, buffered values) a simple_rows expression reads, each once.
int64_t Lowerer::read_bytes(ValueId v, ValueId root, std::set<ValueId>& seen) const {
  if (!seen.insert(v).second) return 0;
  const ir::Node& n = g_.node(v);
  if (n.op == Op::Param || (v != root && p_.buffered[static_cast<size_t>(v)])) {
    const ir::Type& t = g_.type(v);
    return t.is_static() ? numel(sizes(t)) * ir::dtype_size(t.dtype) : 0;
  }
  int64_t total = 0;
  for (ValueId o : n.operands) total += read_bytes(o, root, seen);
  return total;
}

// Marks the loop whose back edge is `br` "do not unroll".
void no_unroll(llvm::BranchInst* br) {
  llvm::LLVMContext& ctx = br->getContext();
  llvm::Metadata* off = llvm::MDNode::get(ctx, llvm::MDString::get(ctx, "llvm.loop.unroll.disable"));
  llvm::MDNode* md = llvm::MDNode::getDistinct(ctx, {nullptr, off});
  md->replaceOperandWith(0, md);
  br->setMetadata(llvm::LLVMContext::MD_loop, md);
}

// Asks the loop vectorizer to interleave `count` vectors in the loop whose back edge is `br`.
void interleave(llvm::BranchInst* br, int count) {
  llvm::LLVMContext& ctx = br->getContext();
  llvm::Metadata* ic = llvm::MDNode::get(
      ctx, {llvm::MDString::get(ctx, "llvm.loop.interleave.count"),
            llvm::ConstantAsMetadata::get(llvm::ConstantInt::get(llvm::Type::getInt32Ty(ctx), count))});
  llvm::MDNode* md = llvm::MDNode::getDistinct(ctx, {nullptr, ic});
  md->replaceOperandWith(0, md);
  br->setMetadata(llvm::LLVMContext::MD_loop, md);
}

// The most gathers on one path of v's inline expression (buffered values end it), each
// gather's position depending on the one below it.
int Lowerer::gather_depth(ValueId v, ValueId root) {
  if (v != root && p_.buffered[static_cast<size_t>(v)]) return 0;
  if (auto it = gather_depth_.find(v); it != gather_depth_.end()) return it->second;
  const ir::Node& n = g_.node(v);
  int d = 0;
  for (ValueId o : n.operands) d = std::max(d, gather_depth(o, root));
  if (n.op == Op::Gather) ++d;
  return gather_depth_[v] = d;
}

Status Lowerer::emit_eval(Nest& n) {
  ValueId src = n.kind == NestKind::ConcatPart ? g_.node(n.v).operands[static_cast<size_t>(n.part)] : n.v;
  auto shape = sizes(g_.type(src));
  auto ext = extv(g_.type(src));
  DType d = g_.type(src).dtype;
  root_ = n.kind == NestKind::Eval ? n.v : ir::kNoValue;
  Value* axis_off = b_.getInt64(0);
  size_t cat_axis = 0;
  if (n.kind == NestKind::ConcatPart) {
    cat_axis = static_cast<size_t>(g_.node(n.v).ints[0]);
    for (int k = 0; k < n.part; ++k)
      axis_off = b_.CreateAdd(axis_off, dimv(g_.type(g_.node(n.v).operands[static_cast<size_t>(k)]).shape[cat_axis]));
  }
  std::vector<Value*> idx(shape.size(), nullptr);
  std::vector<int> rest;
  for (size_t a = 1; a < shape.size(); ++a) rest.push_back(static_cast<int>(a));
  // A large output written row by row (rank >= 2) from a simple expression: each innermost
  // row is split into a peel up to the first 64-byte boundary, a middle part of whole 64-byte
  // lines (one aligned non-temporal vector store each) and a tail.
  int64_t esz = ir::dtype_size(d);
  bool to_output = (n.kind == NestKind::Eval && p_.home_out[static_cast<size_t>(n.v)] >= 0) || n.kind == NestKind::Copy;
  ValueId expr_root = n.kind == NestKind::Eval ? src : ir::kNoValue;
  n.streaming = to_output && g_.type(src).is_static() && esz >= 4 && shape.size() >= 2 &&
                shape.back() * esz >= kStreamMinRowBytes && simple_rows(src, expr_root);
  if (n.streaming) {
    std::set<ValueId> seen;
    int64_t out_bytes = numel(shape) * esz;
    n.streaming = stream_output(out_bytes, out_bytes + read_bytes(src, expr_root, seen), llc_bytes_);
  }
  if (n.streaming) rest.pop_back();
  // Transposed reads (`x.T + 1`, `np.exp(x.T)`): the last two axes in N x N tiles, N elements
  // to a 64-byte line. Per tile, N vectors of the expression along the row axis (N rows, one
  // column each: the transposed operand's N consecutive elements, one line), transposed in
  // registers (log2 N rounds of interleaving shuffles) and stored as N row pieces of one line
  // each. Row by row instead, every element of the transposed operand is a new line and page
  // (x.T + 1 over 2048^2 float32: 24 ms, NumPy 1.3 ms). Edges: element by element.
  // Only from 1 MiB: below, the strided lines mostly stay in L2 and the tiles' code (~60 ms more
  // to compile) does not pay.
  constexpr int64_t kTiledMinBytes = int64_t{1} << 20;
  const size_t r = shape.size();
  const int64_t tn = 64 / esz;
  if (n.kind == NestKind::Eval && r >= 2 && (esz == 4 || esz == 8) && g_.type(src).is_static() &&
      shape[r - 1] >= tn && shape[r - 2] >= tn && numel(shape) * esz >= kTiledMinBytes && transposed_reads(src, src, r)) {
    n.streaming = false;
    const size_t ra = r - 2, ca = r - 1;
    std::vector<int> mid(rest.begin(), rest.end());
    mid.erase(std::remove_if(mid.begin(), mid.end(), [&](int a) { return a >= static_cast<int>(ra); }), mid.end());
    auto element = [&]() -> Status {
      memo_.clear();
      auto x = eval(src, idx);
      if (!x) return x.status();
      store(src, -1, idx, *x, d);
      return ok_status();
    };
    auto* vt = llvm::FixedVectorType::get(memory_type(ctx_, d), static_cast<unsigned>(tn));
    // The tile's values in a stack buffer first, column by column (buf[jj][l] = tile(l, jj)): a
    // loop over l the vectorizer widens, so the expression (its vector math included) runs as
    // vectors over the transposed operand's contiguous rows.
    auto* tile_ty = llvm::ArrayType::get(memory_type(ctx_, d), static_cast<uint64_t>(tn * tn));
    llvm::AllocaInst* buf = nullptr;
    auto tile = [&](Value* i0, Value* j0) -> Status {
      if (!buf) {
        llvm::IRBuilder<> eb(entry_->getTerminator());
        buf = eb.CreateAlloca(tile_ty, nullptr, "tile");
        buf->setAlignment(llvm::Align(64));
      }
      Status st = loop(b_.getInt64(0), b_.getInt64(tn), "tj", [&](Value* jj) -> Status {
        idx[ca] = b_.CreateAdd(j0, jj, "", true, true);
        Value* row = b_.CreateMul(jj, b_.getInt64(tn), "", true, true);
        Status st = loop(b_.getInt64(0), b_.getInt64(tn), "tl", [&](Value* l) -> Status {
          memo_.clear();
          idx[ra] = b_.CreateAdd(i0, l, "", true, true);
          auto x = eval(src, idx);
          if (!x) return x.status();
          Value* at = b_.CreateInBoundsGEP(tile_ty, buf, {b_.getInt64(0), b_.CreateAdd(row, l, "", true, true)});
          b_.CreateAlignedStore(to_memory(b_, *x, d), at, llvm::Align(static_cast<uint64_t>(esz)));
          return ok_status();
        });
        // Not unrolled: it must stay the innermost loop, the one the vectorizer widens (the
        // column loop around it widened instead gathers and scatters).
        no_unroll(last_backedge_);
        return st;
      });
      if (!st) return st;
      no_unroll(last_backedge_);  // the column loop: one copy of the expression (compile time)
      std::vector<Value*> v(static_cast<size_t>(tn));
      for (int64_t jj = 0; jj < tn; ++jj)
        v[static_cast<size_t>(jj)] = b_.CreateAlignedLoad(
            vt, b_.CreateConstInBoundsGEP2_64(tile_ty, buf, 0, static_cast<uint64_t>(jj * tn)), llvm::Align(64));
      // v[jj][l] = tile(l, jj); rounds of (lo, hi) interleaves of v[k] and v[k + N/2] give v[l][jj].
      const auto half = static_cast<size_t>(tn / 2);
      llvm::SmallVector<int, 64> lo, hi;
      for (int k = 0; k < tn / 2; ++k) {
        lo.append({k, static_cast<int>(tn) + k});
        hi.append({static_cast<int>(tn / 2) + k, static_cast<int>(tn + tn / 2) + k});
      }
      for (int64_t round = 1; round < tn; round *= 2) {
        std::vector<Value*> next(v.size());
        for (size_t k = 0; k < half; ++k) {
          next[2 * k] = b_.CreateShuffleVector(v[k], v[k + half], lo);
          next[2 * k + 1] = b_.CreateShuffleVector(v[k], v[k + half], hi);
        }
        v = std::move(next);
      }
      for (int64_t l = 0; l < tn; ++l) {  // row i0 + l, columns j0 .. j0 + N - 1
        idx[ra] = b_.CreateAdd(i0, b_.getInt64(l), "", true, true);
        idx[ca] = j0;
        store(src, -1, idx, v[static_cast<size_t>(l)], d);
      }
      return ok_status();
    };
    const int64_t cols = shape[ca], cols_full = cols / tn * tn;
    // Tiles go in blocks of up to kBlock x kBlock tiles (256 x 256 float32, 128 x 128 float64):
    // within a block, per column tile the tiles down the block's rows, so each line run of the
    // transposed operand and of the result is 1 KiB long and a block's lines stay in L2. With a
    // band of k tiles per row block: k = kBlock, smaller when the rows would leave fewer than 4
    // bands (a band is the unit the thread pool splits).
    constexpr int64_t kBlock = 16;
    const int64_t ntiles_c = cols_full / tn;
    int64_t k_rows = kBlock;
    while (k_rows > 1 && shape[ra] < 4 * k_rows * tn) k_rows /= 2;
    auto band = [&](Value* i0, int64_t k) -> Status {
      const int64_t nblocks = (ntiles_c + kBlock - 1) / kBlock;
      if (Status s = loop(b_.getInt64(0), b_.getInt64(nblocks), "tb", [&](Value* cb) -> Status {
            Value* u0 = b_.CreateMul(cb, b_.getInt64(kBlock), "", true, true);
            Value* u1 = b_.CreateBinaryIntrinsic(llvm::Intrinsic::smin, b_.CreateAdd(u0, b_.getInt64(kBlock), "", true, true),
                                                 b_.getInt64(ntiles_c));
            Status st = loop(u0, u1, "tc", [&](Value* u) -> Status {
              Value* j0 = b_.CreateMul(u, b_.getInt64(tn), "", true, true);
              if (k == 1) return tile(i0, j0);
              Status st = loop(b_.getInt64(0), b_.getInt64(k), "tk", [&](Value* t) -> Status {
                return tile(b_.CreateAdd(i0, b_.CreateMul(t, b_.getInt64(tn), "", true, true), "", true, true), j0);
              });
              no_unroll(last_backedge_);  // one copy of the tile's code, not k
              return st;
            });
            no_unroll(last_backedge_);
            return st;
          }); !s)
        return s;
      if (cols_full == cols) return ok_status();
      return loop(i0, b_.CreateAdd(i0, b_.getInt64(k * tn)), "er", [&](Value* i) -> Status {
        idx[ra] = i;
        return loop(b_.getInt64(cols_full), b_.getInt64(cols), "ec", [&](Value* j) -> Status {
          idx[ca] = j;
          return element();
        });
      });
    };
    auto rows = [&](Value* lo, Value* hi) -> Status {
      const int64_t big = k_rows * tn;
      Value* n_big = b_.CreateUDiv(b_.CreateSub(hi, lo), b_.getInt64(big));
      if (Status s = loop(b_.getInt64(0), n_big, "tb", [&](Value* t) -> Status {
            return band(b_.CreateAdd(lo, b_.CreateMul(t, b_.getInt64(big), "", true, true), "", true, true), k_rows);
          }); !s)
        return s;
      Value* rest_lo = b_.CreateAdd(lo, b_.CreateMul(n_big, b_.getInt64(big)));
      Value* n_one = b_.CreateUDiv(b_.CreateSub(hi, rest_lo), b_.getInt64(tn));
      if (Status s = loop(b_.getInt64(0), n_one, "tr", [&](Value* t) -> Status {
            return band(b_.CreateAdd(rest_lo, b_.CreateMul(t, b_.getInt64(tn), "", true, true), "", true, true), 1);
          }); !s)
        return s;
      Value* full = b_.CreateAdd(rest_lo, b_.CreateMul(n_one, b_.getInt64(tn)));
      return loop(full, hi, "lr", [&](Value* i) -> Status {
        idx[ra] = i;
        return loop(b_.getInt64(0), b_.getInt64(cols), "lc", [&](Value* j) -> Status {
          idx[ca] = j;
          return element();
        });
      });
    };
    if (r == 2) {
      n.row_tile = k_rows * tn;
      return rows(begin_, end_);
    }
    return loop(begin_, end_, "o", [&](Value* o) -> Status {
      idx[0] = o;
      return loops(ext, mid, 0, idx, [&]() -> Status { return rows(b_.getInt64(0), b_.getInt64(shape[ra])); });
    });
  }
  // A chain of dependent gathers (a binary search's probes: each position comes from the
  // compare of the element the last one loaded) is latency-bound one vector at a time: eight
  // interleaved vectors of keys keep eight chains in flight (1M keys into 1K sorted values:
  // 5.2 ms with one, 3.2 with four, 2.4 with eight).
  const bool chained_gathers = shape.size() == 1 && gather_depth(src, src) >= 3;
  Status looped = loop(begin_, end_, "o", [&](Value* o) -> Status {
    if (!shape.empty()) idx[0] = o;
    return loops(ext, rest, 0, idx, [&]() -> Status {
      if (!n.streaming) {
        auto x = eval(src, idx);
        if (!x) return x.status();
        std::vector<Value*> didx = idx;
        if (n.kind == NestKind::ConcatPart) didx[cat_axis] = b_.CreateAdd(idx[cat_axis], axis_off);
        store(n.kind == NestKind::ConcatPart ? n.v : src, n.kind == NestKind::Copy ? n.out : -1, didx, *x, d);
        return ok_status();
      }
      size_t la = shape.size() - 1;
      int64_t len = shape[la];
      idx[la] = b_.getInt64(0);
      Value* base = n.kind == NestKind::Copy
                        ? kernel_arg(static_cast<unsigned>(g_.params.size() + 1) + static_cast<unsigned>(n.out))
                        : buffer_ptr(src);
      auto st = c_strides(shape, esz);
      Value* off = b_.getInt64(0);
      for (size_t a = 0; a < la; ++a)
        if (shape[a] != 1) off = b_.CreateAdd(off, b_.CreateMul(idx[a], b_.getInt64(st[a]), "", true, true), "", true, true);
      Value* row = b_.CreateGEP(b_.getInt8Ty(), base, off);
      Value* addr = b_.CreatePtrToInt(row, b_.getInt64Ty());
      Value* peel = b_.CreateUDiv(b_.CreateAnd(b_.CreateNeg(addr), b_.getInt64(63)), b_.getInt64(esz));
      Value* elem_aligned = b_.CreateICmpEQ(b_.CreateAnd(addr, b_.getInt64(esz - 1)), b_.getInt64(0));
      peel = b_.CreateSelect(elem_aligned, b_.CreateBinaryIntrinsic(llvm::Intrinsic::umin, peel, b_.getInt64(len)),
                             b_.getInt64(len));
      Value* nmid = b_.CreateAnd(b_.CreateSub(b_.getInt64(len), peel), b_.getInt64(~(64 / esz - 1)));
      Value* mid_end = b_.CreateAdd(peel, nmid);
      auto plain = [&](Value* j) -> Status {
        memo_.clear();
        idx[la] = j;
        auto x = eval(src, idx);
        if (!x) return x.status();
        b_.CreateAlignedStore(to_memory(b_, *x, d), b_.CreateGEP(b_.getInt8Ty(), row, b_.CreateMul(j, b_.getInt64(esz))),
                              llvm::Align(static_cast<uint64_t>(esz)));
        return ok_status();
      };
      if (Status s = loop(b_.getInt64(0), peel, "peel", plain); !s) return s;
      Value* mid = b_.CreateGEP(b_.getInt8Ty(), row, b_.CreateMul(peel, b_.getInt64(esz)));
      // One 64-byte line per iteration: V consecutive scalar evaluations (which the SLP
      // vectorizer turns into vector code) stored as one aligned non-temporal vector store.
      int64_t lanes = 64 / esz;
      auto* vt = llvm::FixedVectorType::get(memory_type(ctx_, d), static_cast<unsigned>(lanes));
      if (Status s = loop(b_.getInt64(0), b_.CreateUDiv(nmid, b_.getInt64(lanes)), "nt", [&](Value* q) -> Status {
            memo_.clear();
            Value* v = llvm::PoisonValue::get(vt);
            Value* j0 = b_.CreateAdd(peel, b_.CreateMul(q, b_.getInt64(lanes)));
            for (int64_t l = 0; l < lanes; ++l) {
              idx[la] = b_.CreateAdd(j0, b_.getInt64(l));
              auto x = eval(src, idx);
              if (!x) return x.status();
              v = b_.CreateInsertElement(v, to_memory(b_, *x, d), static_cast<uint64_t>(l));
            }
            auto* stv = b_.CreateAlignedStore(v, b_.CreateGEP(b_.getInt8Ty(), mid, b_.CreateMul(q, b_.getInt64(64))),
                                              llvm::Align(64));
            stv->setMetadata(llvm::LLVMContext::MD_nontemporal,
                             llvm::MDNode::get(ctx_, llvm::ConstantAsMetadata::get(b_.getInt32(1))));
            return ok_status();
          }); !s)
        return s;
      return loop(mid_end, b_.getInt64(len), "tail", plain);
    });
  });
  if (looped && chained_gathers) interleave(last_backedge_, 8);
  return looped;
}

Value* Lowerer::identity(Op op, DType d) {
  llvm::Type* t = register_type(ctx_, d);
  bool f = ir::is_float(d);
  unsigned bits = t->getScalarSizeInBits();
  switch (op) {
    case Op::ReduceSum: case Op::ReduceAny:
      return f ? llvm::ConstantFP::get(t, 0.0) : llvm::ConstantInt::get(t, 0);
    case Op::ReduceProd: case Op::ReduceAll:
      return f ? llvm::ConstantFP::get(t, 1.0) : llvm::ConstantInt::get(t, 1);
    case Op::ReduceMax:
      if (f) return llvm::ConstantFP::getInfinity(t, true);
      if (ir::is_bool(d)) return b_.getFalse();
      return llvm::ConstantInt::get(ctx_, ir::is_signed_int(d) ? llvm::APInt::getSignedMinValue(bits) : llvm::APInt::getMinValue(bits));
    default:  // ReduceMin
      if (f) return llvm::ConstantFP::getInfinity(t, false);
      if (ir::is_bool(d)) return b_.getTrue();
      return llvm::ConstantInt::get(ctx_, ir::is_signed_int(d) ? llvm::APInt::getSignedMaxValue(bits) : llvm::APInt::getMaxValue(bits));
  }
}

// acc (op) x, one element at a time, exactly as NumPy's reduction loop (no reassociation).
Value* Lowerer::combine(Op op, DType d, Value* acc, Value* x) {
  bool f = ir::is_float(d), bl = ir::is_bool(d), s = ir::is_signed_int(d);
  switch (op) {
    case Op::ReduceSum: return f ? b_.CreateFAdd(acc, x) : bl ? b_.CreateOr(acc, x) : b_.CreateAdd(acc, x);
    case Op::ReduceProd: return f ? b_.CreateFMul(acc, x) : bl ? b_.CreateAnd(acc, x) : b_.CreateMul(acc, x);
    case Op::ReduceAny: return b_.CreateOr(acc, x);
    case Op::ReduceAll: return b_.CreateAnd(acc, x);
    case Op::ReduceMax:
      if (f) {
        Value* gt = quiet_fcmp(b_, llvm::CmpInst::FCMP_OGT, acc, x);
        return b_.CreateSelect(b_.CreateOr(gt, b_.CreateFCmpUNO(acc, acc)), acc, x);
      }
      if (bl) return b_.CreateOr(acc, x);
      return b_.CreateBinaryIntrinsic(s ? llvm::Intrinsic::smax : llvm::Intrinsic::umax, acc, x);
    default:
      if (f) {
        Value* lt = quiet_fcmp(b_, llvm::CmpInst::FCMP_OLT, acc, x);
        return b_.CreateSelect(b_.CreateOr(lt, b_.CreateFCmpUNO(acc, acc)), acc, x);
      }
      if (bl) return b_.CreateAnd(acc, x);
      return b_.CreateBinaryIntrinsic(s ? llvm::Intrinsic::smin : llvm::Intrinsic::umin, acc, x);
  }
}

Status Lowerer::emit_reduce(Nest& n) {
  const ir::Node& node = g_.node(n.v);
  ValueId x = node.operands[0];
  DType d = node.type.dtype;
  Op op = node.op;
  auto shape = extv(g_.type(x));
  size_t rank = shape.size();
  std::vector<bool> red(rank, false);
  for (int64_t a : node.ints) red[static_cast<size_t>(a)] = true;
  std::vector<int> kept, reduced;
  for (size_t a = 0; a < rank; ++a) (red[a] ? reduced : kept).push_back(static_cast<int>(a));
  llvm::Type* t = register_type(ctx_, d);
  root_ = ir::kNoValue;
  std::vector<Value*> idx(rank, nullptr);
  bool inner_mode = !reduced.empty() && red[rank - 1];

  if (!inner_mode) {
    // Accumulate into the destination, walking the operand in memory order: the innermost
    // (kept) axis vectorizes. The outer loop is axis 0 if it is kept, else a single iteration.
    bool row = rank > 0 && !red[0];
    std::vector<int> init_axes, acc_axes;
    for (size_t a = row ? 1 : 0; a < rank; ++a) {
      acc_axes.push_back(static_cast<int>(a));
      init_axes.push_back(static_cast<int>(a));
    }
    std::vector<Value*> rshape = extv(node.type);
    return loop(begin_, end_, "o", [&](Value* o) -> Status {
      if (row) idx[0] = o;
      std::vector<Value*> ridx(rank, nullptr);
      if (row) ridx[0] = o;
      if (Status s = loops(rshape, init_axes, 0, ridx, [&]() -> Status {
            store(n.v, -1, ridx, identity(op, d), d);
            return ok_status();
          }); !s)
        return s;
      return loops(shape, acc_axes, 0, idx, [&]() -> Status {
        auto xv = eval(x, idx);
        if (!xv) return xv.status();
        std::vector<Value*> didx = idx;
        for (int a : reduced) didx[static_cast<size_t>(a)] = b_.getInt64(0);
        Value* acc = load(n.v, didx);
        store(n.v, -1, didx, combine(op, d, acc, *xv), d);
        return ok_status();
      });
    });
  }

  // Inner mode: per kept index, a register reduction over the reduced axes; the last reduced
  // axis is the operand's innermost one and vectorizes with several accumulators.
  bool fsum = op == Op::ReduceSum && ir::is_float(d);
  bool fext = (op == Op::ReduceMax || op == Op::ReduceMin) && ir::is_float(d);
  // The zero-tie check (ops.def, fval 1 or 2): besides the extreme, the unsigned and the signed
  // minimum of the elements' bit patterns. A zero extreme with both zeros in the slice is one
  // whose unsigned minimum is 0 (a +0.0) and whose signed minimum is the sign bit alone (a -0.0,
  // the only pattern that low). Two integer min ops per vector next to the compare and select.
  const int tie = fext ? static_cast<int>(node.fval) : 0;
  llvm::IntegerType* bits_t = llvm::IntegerType::get(ctx_, t->getPrimitiveSizeInBits().getFixedValue());
  const unsigned nbits = bits_t->getBitWidth();
  Value* umin_slot = tie ? entry_alloca(bits_t, "tie.umin") : nullptr;
  Value* smin_slot = tie ? entry_alloca(bits_t, "tie.smin") : nullptr;
  Value* mark_slot = tie == 2 ? entry_alloca(b_.getInt1Ty(), "tie.mark") : nullptr;  // an element was the mark
  Value* mark = tie ? llvm::ConstantFP::get(t, ir::zero_tie_mark(d == DType::F32)) : nullptr;
  auto tie_note = [&](Value* xv) {  // one element (scalar) into the tie slots
    Value* bits = b_.CreateBitCast(xv, bits_t);
    b_.CreateStore(b_.CreateBinaryIntrinsic(llvm::Intrinsic::umin, b_.CreateLoad(bits_t, umin_slot), bits), umin_slot);
    b_.CreateStore(b_.CreateBinaryIntrinsic(llvm::Intrinsic::smin, b_.CreateLoad(bits_t, smin_slot), bits), smin_slot);
    if (mark_slot)
      b_.CreateStore(b_.CreateOr(b_.CreateLoad(b_.getInt1Ty(), mark_slot), b_.CreateFCmpOEQ(xv, mark)), mark_slot);
  };
  Value* acc_slot = entry_alloca(t, "acc");
  constexpr int kLanes = 16;
  // Independent accumulator vectors: one compare + select chain per vector is latency-bound
  // (about 6 cycles per 16 elements); four chains keep the loads busy.
  constexpr int kChains = 4;
  std::vector<Value*> lane_vec, umin_vec, smin_vec;
  if (fext)
    for (int c = 0; c < kChains; ++c) {
      lane_vec.push_back(entry_alloca(llvm::FixedVectorType::get(t, kLanes), "lanes"));
      if (tie) {
        umin_vec.push_back(entry_alloca(llvm::FixedVectorType::get(bits_t, kLanes), "tie.ulanes"));
        smin_vec.push_back(entry_alloca(llvm::FixedVectorType::get(bits_t, kLanes), "tie.slanes"));
      }
    }
  Value* stack = fsum ? entry_alloca(llvm::ArrayType::get(t, 64), "pairwise") : nullptr;
  Value* top_slot = fsum ? entry_alloca(b_.getInt64Ty(), "top") : nullptr;
  Value* cnt_slot = fsum ? entry_alloca(b_.getInt64Ty(), "blocks") : nullptr;
  int last = reduced.back();
  const ir::Dim& len_dim = g_.type(x).shape[static_cast<size_t>(last)];
  Value* len = shape[static_cast<size_t>(last)];
  std::vector<int> outer_red(reduced.begin(), reduced.end() - 1);
  std::vector<int> kept_rest(kept.size() > 1 ? kept.begin() + 1 : kept.end(), kept.end());
  auto reassoc = [](Value* v) {
    if (auto* i = llvm::dyn_cast<llvm::Instruction>(v)) i->setHasAllowReassoc(true);
    return v;
  };

  auto block_sum = [&](Value* start, Value* stop) -> Status {
    // One block: vector accumulators (reassociation allowed on these adds only).
    b_.CreateStore(llvm::ConstantFP::get(t, -0.0), acc_slot);
    if (Status s = loop(start, stop, "j", [&](Value* j) -> Status {
          idx[static_cast<size_t>(last)] = j;
          memo_.clear();
          auto xv = eval(x, idx);
          if (!xv) return xv.status();
          b_.CreateStore(reassoc(b_.CreateFAdd(b_.CreateLoad(t, acc_slot), *xv)), acc_slot);
          return ok_status();
        }); !s)
      return s;
    // Push the block sum on the pairwise stack: merge equal-size partial sums (binary counter).
    Value* s0 = b_.CreateLoad(t, acc_slot);
    Value* c0 = b_.CreateAdd(b_.CreateLoad(b_.getInt64Ty(), cnt_slot), b_.getInt64(1));
    b_.CreateStore(c0, cnt_slot);
    Value* top0 = b_.CreateLoad(b_.getInt64Ty(), top_slot);
    llvm::Function* f = b_.GetInsertBlock()->getParent();
    llvm::BasicBlock* pre = b_.GetInsertBlock();
    auto* head = llvm::BasicBlock::Create(ctx_, "merge.head", f);
    auto* body = llvm::BasicBlock::Create(ctx_, "merge.body", f);
    auto* exit = llvm::BasicBlock::Create(ctx_, "merge.exit", f);
    b_.CreateBr(head);
    b_.SetInsertPoint(head);
    auto* c = b_.CreatePHI(b_.getInt64Ty(), 2);
    auto* s = b_.CreatePHI(t, 2);
    auto* top = b_.CreatePHI(b_.getInt64Ty(), 2);
    c->addIncoming(c0, pre), s->addIncoming(s0, pre), top->addIncoming(top0, pre);
    b_.CreateCondBr(b_.CreateICmpEQ(b_.CreateAnd(c, b_.getInt64(1)), b_.getInt64(0)), body, exit);
    b_.SetInsertPoint(body);
    Value* top1 = b_.CreateSub(top, b_.getInt64(1));
    Value* below = b_.CreateLoad(t, b_.CreateInBoundsGEP(t, stack, {top1}));
    c->addIncoming(b_.CreateLShr(c, b_.getInt64(1)), body);
    s->addIncoming(b_.CreateFAdd(below, s), body);
    top->addIncoming(top1, body);
    b_.CreateBr(head);
    b_.SetInsertPoint(exit);
    b_.CreateStore(s, b_.CreateInBoundsGEP(t, stack, {top}));
    b_.CreateStore(b_.CreateAdd(top, b_.getInt64(1)), top_slot);
    return ok_status();
  };

  auto inner = [&]() -> Status {
    if (fsum) {
      Value* nblocks = b_.CreateUDiv(b_.CreateAdd(len, b_.getInt64(kSumBlock - 1)), b_.getInt64(kSumBlock));
      return loop(b_.getInt64(0), nblocks, "blk", [&](Value* bi) -> Status {
        Value* start = b_.CreateMul(bi, b_.getInt64(kSumBlock));
        Value* stop = b_.CreateBinaryIntrinsic(llvm::Intrinsic::smin, b_.CreateAdd(start, b_.getInt64(kSumBlock)), len);
        return block_sum(start, stop);
      });
    }
    Value* lanes_end = b_.getInt64(0);
    // A runtime length takes the lane path always (it runs len / kLanes times: none when short).
    // The second stage of a split (tie 2: at most 64 partials) stays scalar, to see the mark.
    if (fext && tie != 2 && (!len_dim.is_static() || len_dim.size >= 2 * kLanes)) {
      // Float max/min: kLanes * chains independent NaN-propagating chains over
      // j = kLanes * (chains * q + c) + l, held in explicit <kLanes x T> accumulators (vector
      // compare + select per step; each vector is built from kLanes consecutive scalar
      // evaluations, which the SLP vectorizer turns into vector loads and arithmetic), then
      // folded into acc. LLVM 16 does not vectorize a NaN-exact max reduction loop itself.
      // Rows shorter than 8 vectors use one chain.
      const int chains = !len_dim.is_static() || len_dim.size >= 8 * kLanes ? kChains : 1;
      const int64_t step = int64_t{kLanes} * chains;
      Value* nq = b_.CreateUDiv(len, b_.getInt64(step));
      lanes_end = b_.CreateMul(nq, b_.getInt64(step));
      auto* vt = llvm::FixedVectorType::get(t, kLanes);
      auto* bvt = llvm::FixedVectorType::get(bits_t, kLanes);
      for (int c = 0; c < chains; ++c) {
        b_.CreateStore(b_.CreateVectorSplat(kLanes, identity(op, d)), lane_vec[static_cast<size_t>(c)]);
        if (tie) {
          b_.CreateStore(llvm::Constant::getAllOnesValue(bvt), umin_vec[static_cast<size_t>(c)]);
          b_.CreateStore(llvm::ConstantInt::get(bvt, llvm::APInt::getSignedMaxValue(nbits)), smin_vec[static_cast<size_t>(c)]);
        }
      }
      if (Status s = loop(b_.getInt64(0), nq, "q", [&](Value* q) -> Status {
            memo_.clear();
            for (int c = 0; c < chains; ++c) {
              Value* v = llvm::PoisonValue::get(vt);
              Value* base = b_.CreateAdd(b_.CreateMul(q, b_.getInt64(step)), b_.getInt64(int64_t{kLanes} * c));
              for (int l = 0; l < kLanes; ++l) {
                idx[static_cast<size_t>(last)] = b_.CreateAdd(base, b_.getInt64(l));
                auto xv = eval(x, idx);
                if (!xv) return xv.status();
                v = b_.CreateInsertElement(v, *xv, static_cast<uint64_t>(l));
              }
              Value* slot = lane_vec[static_cast<size_t>(c)];
              b_.CreateStore(combine(op, d, b_.CreateLoad(vt, slot), v), slot);
              if (tie) {
                Value* bits = b_.CreateBitCast(v, bvt);
                Value* us = umin_vec[static_cast<size_t>(c)];
                Value* ss = smin_vec[static_cast<size_t>(c)];
                b_.CreateStore(b_.CreateBinaryIntrinsic(llvm::Intrinsic::umin, b_.CreateLoad(bvt, us), bits), us);
                b_.CreateStore(b_.CreateBinaryIntrinsic(llvm::Intrinsic::smin, b_.CreateLoad(bvt, ss), bits), ss);
              }
            }
            return ok_status();
          }); !s)
        return s;
      // The chains fold lane-wise into one vector first (chain order: a tie keeps the later
      // element, as the loop does), then its lanes into acc in lane order.
      Value* lanes = b_.CreateLoad(vt, lane_vec[0]);
      for (int c = 1; c < chains; ++c) lanes = combine(op, d, lanes, b_.CreateLoad(vt, lane_vec[static_cast<size_t>(c)]));
      Value* acc = b_.CreateLoad(t, acc_slot);
      for (int l = 0; l < kLanes; ++l) acc = combine(op, d, acc, b_.CreateExtractElement(lanes, static_cast<uint64_t>(l)));
      b_.CreateStore(acc, acc_slot);
      if (tie) {
        Value* u = b_.CreateLoad(bvt, umin_vec[0]);
        Value* sm = b_.CreateLoad(bvt, smin_vec[0]);
        for (int c = 1; c < chains; ++c) {
          u = b_.CreateBinaryIntrinsic(llvm::Intrinsic::umin, u, b_.CreateLoad(bvt, umin_vec[static_cast<size_t>(c)]));
          sm = b_.CreateBinaryIntrinsic(llvm::Intrinsic::smin, sm, b_.CreateLoad(bvt, smin_vec[static_cast<size_t>(c)]));
        }
        b_.CreateStore(b_.CreateBinaryIntrinsic(llvm::Intrinsic::umin, b_.CreateLoad(bits_t, umin_slot), b_.CreateUnaryIntrinsic(llvm::Intrinsic::vector_reduce_umin, u)), umin_slot);
        b_.CreateStore(b_.CreateBinaryIntrinsic(llvm::Intrinsic::smin, b_.CreateLoad(bits_t, smin_slot), b_.CreateUnaryIntrinsic(llvm::Intrinsic::vector_reduce_smin, sm)), smin_slot);
      }
    }
    return loop(lanes_end, len, "j", [&](Value* j) -> Status {
      idx[static_cast<size_t>(last)] = j;
      memo_.clear();
      auto xv = eval(x, idx);
      if (!xv) return xv.status();
      Value* acc = b_.CreateLoad(t, acc_slot);
      Value* r;
      if (op == Op::ReduceProd && ir::is_float(d)) {
        r = reassoc(b_.CreateFMul(acc, *xv));
      } else {
        r = combine(op, d, acc, *xv);
      }
      b_.CreateStore(r, acc_slot);
      if (tie) tie_note(*xv);
      return ok_status();
    });
  };

  return loop(begin_, end_, "o", [&](Value* o) -> Status {
    if (!kept.empty()) idx[static_cast<size_t>(kept[0])] = o;
    return loops(shape, kept_rest, 0, idx, [&]() -> Status {
      if (fsum) {
        b_.CreateStore(b_.getInt64(0), top_slot);
        b_.CreateStore(b_.getInt64(0), cnt_slot);
      } else {
        b_.CreateStore(identity(op, d), acc_slot);
      }
      if (tie) {
        b_.CreateStore(llvm::Constant::getAllOnesValue(bits_t), umin_slot);
        b_.CreateStore(llvm::ConstantInt::get(ctx_, llvm::APInt::getSignedMaxValue(nbits)), smin_slot);
        if (mark_slot) b_.CreateStore(b_.getFalse(), mark_slot);
      }
      if (Status s = loops(shape, outer_red, 0, idx, inner); !s) return s;
      Value* result;
      if (fsum) {
        // Combine the stack top-down (smallest partial sums first), then add to NumPy's +0.
        Value* top = b_.CreateLoad(b_.getInt64Ty(), top_slot);
        b_.CreateStore(llvm::ConstantFP::get(t, -0.0), acc_slot);
        if (Status s = loop(b_.getInt64(0), top, "fin", [&](Value* k) -> Status {
              Value* e = b_.CreateSub(b_.CreateSub(top, k), b_.getInt64(1));
              Value* part = b_.CreateLoad(t, b_.CreateInBoundsGEP(t, stack, {e}));
              b_.CreateStore(b_.CreateFAdd(part, b_.CreateLoad(t, acc_slot)), acc_slot);
              return ok_status();
            }); !s)
          return s;
        result = b_.CreateFAdd(llvm::ConstantFP::get(t, 0.0), b_.CreateLoad(t, acc_slot));
      } else {
        result = b_.CreateLoad(t, acc_slot);
      }
      if (tie) {
        Value* both = b_.CreateAnd(b_.CreateICmpEQ(b_.CreateLoad(bits_t, umin_slot), llvm::ConstantInt::get(bits_t, 0)),
                                   b_.CreateICmpEQ(b_.CreateLoad(bits_t, smin_slot),
                                                   llvm::ConstantInt::get(ctx_, llvm::APInt::getSignedMinValue(nbits))));
        Value* hit = b_.CreateAnd(both, b_.CreateFCmpOEQ(result, llvm::ConstantFP::get(t, 0.0)));
        if (mark_slot) hit = b_.CreateOr(hit, b_.CreateLoad(b_.getInt1Ty(), mark_slot));
        result = b_.CreateSelect(hit, mark, result);
      }
      std::vector<Value*> didx = idx;
      for (int a : reduced) didx[static_cast<size_t>(a)] = b_.getInt64(0);
      store(n.v, -1, didx, result, d);
      return ok_status();
    });
  });
}

Status Lowerer::emit_arg(Nest& n) {
  const ir::Node& node = g_.node(n.v);
  ValueId x = node.operands[0];
  DType d = g_.type(x).dtype;
  auto shape = extv(g_.type(x));
  const ir::Dim& axis_dim = g_.type(x).shape[static_cast<size_t>(node.ints[0])];
  auto axis = static_cast<size_t>(node.ints[0]);
  std::vector<int> kept;
  for (size_t a = 0; a < shape.size(); ++a)
    if (a != axis) kept.push_back(static_cast<int>(a));
  std::vector<int> kept_rest(kept.size() > 1 ? kept.begin() + 1 : kept.end(), kept.end());
  llvm::Type* t = register_type(ctx_, d);
  Value* best_slot = entry_alloca(t, "best");
  Value* bi_slot = entry_alloca(b_.getInt64Ty(), "best_index");
  root_ = ir::kNoValue;
  bool is_max = node.op == Op::ArgMax;
  std::vector<Value*> idx(shape.size(), nullptr);
  if (axis + 1 == shape.size()) return emit_arg_inner(n);
  return loop(begin_, end_, "o", [&](Value* o) -> Status {
    if (!kept.empty()) idx[static_cast<size_t>(kept[0])] = o;
    return loops(shape, kept_rest, 0, idx, [&]() -> Status {
      b_.CreateStore(b_.getInt64(0), bi_slot);
      if (!axis_dim.is_static() || axis_dim.size > 0) {
        idx[axis] = b_.getInt64(0);
        auto first = eval(x, idx);
        if (!first) return first.status();
        b_.CreateStore(*first, best_slot);
        if (Status s = loop(b_.getInt64(1), shape[axis], "a", [&](Value* j) -> Status {
              idx[axis] = j;
              memo_.clear();
              auto xv = eval(x, idx);
              if (!xv) return xv.status();
              Value* best = b_.CreateLoad(t, best_slot);
              Value* upd;
              if (ir::is_float(d)) {  // strictly better, or the first NaN
                upd = quiet_fcmp(b_, is_max ? llvm::CmpInst::FCMP_OGT : llvm::CmpInst::FCMP_OLT, *xv, best);
                upd = b_.CreateOr(upd, b_.CreateAnd(b_.CreateFCmpUNO(*xv, *xv), b_.CreateFCmpORD(best, best)));
              } else if (ir::is_signed_int(d)) {
                upd = is_max ? b_.CreateICmpSGT(*xv, best) : b_.CreateICmpSLT(*xv, best);
              } else {
                upd = is_max ? b_.CreateICmpUGT(*xv, best) : b_.CreateICmpULT(*xv, best);
              }
              b_.CreateStore(b_.CreateSelect(upd, *xv, best), best_slot);
              b_.CreateStore(b_.CreateSelect(upd, j, b_.CreateLoad(b_.getInt64Ty(), bi_slot)), bi_slot);
              return ok_status();
            }); !s)
          return s;
      }
      std::vector<Value*> didx = idx;
      didx[axis] = b_.getInt64(0);
      store(n.v, -1, didx, b_.CreateLoad(b_.getInt64Ty(), bi_slot), DType::I64);
      return ok_status();
    });
  });
}

// argmax/argmin along the last (contiguous) axis, vectorized. Each element becomes an integer
// key ordered as NumPy compares: a float's bits with the negative half mirrored (so -0.0 and
// +0.0 are one key) and every NaN the extreme key (NaN wins, its first occurrence is the
// answer); integers are their own keys (bool zero-extended). Integer compares raise no
// floating-point flag, where a float compare would raise `invalid` on NaN data. Per row: the
// best key of each block of kArgBlock elements (an integer max/min reduction the loop
// vectorizer handles), the first block whose key is strictly better than all before it, then
// the first index of that key inside that block (a vectorized min over matching indices).
Status Lowerer::emit_arg_inner(Nest& n) {
  constexpr int64_t kArgBlock = 512;
  const ir::Node& node = g_.node(n.v);
  ValueId x = node.operands[0];
  DType d = g_.type(x).dtype;
  auto shape = extv(g_.type(x));
  const size_t axis = shape.size() - 1;
  std::vector<int> kept;
  for (size_t a = 0; a < axis; ++a) kept.push_back(static_cast<int>(a));
  std::vector<int> kept_rest(kept.size() > 1 ? kept.begin() + 1 : kept.end(), kept.end());
  const bool is_max = node.op == Op::ArgMax, f = ir::is_float(d);
  const bool sgn = f || ir::is_signed_int(d);
  const unsigned kbits = ir::is_bool(d) ? 8u : static_cast<unsigned>(ir::dtype_size(d) * 8);
  llvm::IntegerType* kt = b_.getIntNTy(kbits);
  llvm::Type* i64 = b_.getInt64Ty();
  const llvm::APInt smin = llvm::APInt::getSignedMinValue(kbits), smax = llvm::APInt::getSignedMaxValue(kbits);
  Value* ident = llvm::ConstantInt::get(kt, is_max ? (sgn ? smin : llvm::APInt::getMinValue(kbits))
                                                   : (sgn ? smax : llvm::APInt::getMaxValue(kbits)));
  auto key = [&](Value* v) -> Value* {
    if (ir::is_bool(d)) return b_.CreateZExt(v, kt);
    if (!f) return v;
    Value* i = b_.CreateBitCast(v, kt);
    Value* k = b_.CreateSelect(b_.CreateICmpSLT(i, llvm::ConstantInt::get(kt, 0)),
                               b_.CreateSub(llvm::ConstantInt::get(kt, smin), i), i);
    llvm::APInt inf = kbits == 32 ? llvm::APInt(32, 0x7f800000u) : llvm::APInt(64, 0x7ff0000000000000ull);
    Value* nan = b_.CreateICmpUGT(b_.CreateAnd(i, llvm::ConstantInt::get(kt, smax)), llvm::ConstantInt::get(kt, inf));
    return b_.CreateSelect(nan, llvm::ConstantInt::get(kt, is_max ? smax : smin), k);
  };
  const llvm::Intrinsic::ID pick = is_max ? (sgn ? llvm::Intrinsic::smax : llvm::Intrinsic::umax)
                                          : (sgn ? llvm::Intrinsic::smin : llvm::Intrinsic::umin);
  auto better = [&](Value* a, Value* b) {
    return is_max ? (sgn ? b_.CreateICmpSGT(a, b) : b_.CreateICmpUGT(a, b))
                  : (sgn ? b_.CreateICmpSLT(a, b) : b_.CreateICmpULT(a, b));
  };
  Value* best_slot = entry_alloca(kt, "best_key");
  Value* blk_slot = entry_alloca(i64, "best_block");
  Value* bk_slot = entry_alloca(kt, "block_key");
  Value* first_slot = entry_alloca(i64, "first");
  root_ = ir::kNoValue;
  std::vector<Value*> idx(shape.size(), nullptr);
  Value* len = shape[axis];
  Value* none = b_.getInt64(std::numeric_limits<int64_t>::max());
  return loop(begin_, end_, "o", [&](Value* o) -> Status {
    if (!kept.empty()) idx[static_cast<size_t>(kept[0])] = o;
    return loops(shape, kept_rest, 0, idx, [&]() -> Status {
      b_.CreateStore(ident, best_slot);
      b_.CreateStore(b_.getInt64(0), blk_slot);
      Value* nblocks = b_.CreateUDiv(b_.CreateAdd(len, b_.getInt64(kArgBlock - 1)), b_.getInt64(kArgBlock));
      if (Status s = loop(b_.getInt64(0), nblocks, "blk", [&](Value* bi) -> Status {
            Value* start = b_.CreateMul(bi, b_.getInt64(kArgBlock));
            Value* stop = b_.CreateBinaryIntrinsic(llvm::Intrinsic::smin, b_.CreateAdd(start, b_.getInt64(kArgBlock)), len);
            b_.CreateStore(ident, bk_slot);
            if (Status s = loop(start, stop, "j", [&](Value* j) -> Status {
                  idx[axis] = j;
                  memo_.clear();
                  auto xv = eval(x, idx);
                  if (!xv) return xv.status();
                  b_.CreateStore(b_.CreateBinaryIntrinsic(pick, b_.CreateLoad(kt, bk_slot), key(*xv)), bk_slot);
                  return ok_status();
                }); !s)
              return s;
            Value* bk = b_.CreateLoad(kt, bk_slot);
            Value* best = b_.CreateLoad(kt, best_slot);
            Value* upd = better(bk, best);
            b_.CreateStore(b_.CreateSelect(upd, bk, best), best_slot);
            b_.CreateStore(b_.CreateSelect(upd, bi, b_.CreateLoad(i64, blk_slot)), blk_slot);
            return ok_status();
          }); !s)
        return s;
      Value* best = b_.CreateLoad(kt, best_slot);
      Value* bstart = b_.CreateMul(b_.CreateLoad(i64, blk_slot), b_.getInt64(kArgBlock));
      Value* bstop = b_.CreateBinaryIntrinsic(llvm::Intrinsic::smin, b_.CreateAdd(bstart, b_.getInt64(kArgBlock)), len);
      b_.CreateStore(none, first_slot);
      if (Status s = loop(bstart, bstop, "f", [&](Value* j) -> Status {
            idx[axis] = j;
            memo_.clear();
            auto xv = eval(x, idx);
            if (!xv) return xv.status();
            Value* hit = b_.CreateICmpEQ(key(*xv), best);
            b_.CreateStore(b_.CreateBinaryIntrinsic(llvm::Intrinsic::smin, b_.CreateLoad(i64, first_slot),
                                                    b_.CreateSelect(hit, j, none)),
                           first_slot);
            return ok_status();
          }); !s)
        return s;
      Value* first = b_.CreateLoad(i64, first_slot);
      first = b_.CreateSelect(b_.CreateICmpEQ(first, none), b_.getInt64(0), first);  // an empty axis
      std::vector<Value*> didx = idx;
      didx[axis] = b_.getInt64(0);
      store(n.v, -1, didx, first, DType::I64);
      return ok_status();
    });
  });
}

// An inclusive scan along `axis`, in NumPy's order: r[0] = x[0], r[j] = r[j - 1] op x[j], so
// every rounding is the one add/multiply.accumulate makes. The other axes keep their C order
// around it; axes after the scan axis stay innermost (contiguous, vectorizable), each step
// reading the previous step's results back from the buffer. With no axis after it, the carry
// is a register (a stack slot mem2reg promotes). The outer (threaded) loop is axis 0 when the
// scan runs along another axis: rows are then independent.
Status Lowerer::emit_scan(Nest& n) {
  const ir::Node& node = g_.node(n.v);
  ValueId x = node.operands[0];
  DType d = node.type.dtype;
  auto shape = extv(node.type);
  auto axis = static_cast<size_t>(node.ints[0]);
  const Op op = node.op == Op::ScanSum ? Op::ReduceSum : Op::ReduceProd;
  std::vector<int> pre, post;
  for (size_t a = 0; a < shape.size(); ++a)
    if (a != axis) (a < axis ? pre : post).push_back(static_cast<int>(a));
  std::vector<int> pre_rest(pre.size() > 1 ? pre.begin() + 1 : pre.end(), pre.end());
  Value* acc_slot = post.empty() ? entry_alloca(register_type(ctx_, d), "carry") : nullptr;
  root_ = ir::kNoValue;
  std::vector<Value*> idx(shape.size(), nullptr);
  auto step = [&](Value* j, bool first) -> Status {
    idx[axis] = j;
    return loops(shape, post, 0, idx, [&]() -> Status {
      auto xv = eval(x, idx);
      if (!xv) return xv.status();
      Value* r = *xv;
      if (!first) {
        Value* prev;
        if (acc_slot) {
          prev = b_.CreateLoad(register_type(ctx_, d), acc_slot);
        } else {
          std::vector<Value*> pidx = idx;
          pidx[axis] = b_.CreateSub(j, b_.getInt64(1), "", true, true);
          prev = load(n.v, pidx);
        }
        r = combine(op, d, prev, r);
      }
      if (acc_slot) b_.CreateStore(r, acc_slot);
      store(n.v, -1, idx, r, d);
      return ok_status();
    });
  };
  return loop(begin_, end_, "o", [&](Value* o) -> Status {
    if (!pre.empty()) idx[static_cast<size_t>(pre[0])] = o;
    return loops(shape, pre_rest, 0, idx, [&]() -> Status {
      if (Status s = step(b_.getInt64(0), true); !s) return s;
      return loop(b_.getInt64(1), shape[axis], "scan", [&](Value* j) -> Status { return step(j, false); });
    });
  });
}

// x[..., idx, ...] = v (ir/ops.def): the nest before this one copied x into the buffer; this
// one runs on one thread (outer extent 1) and writes v's elements in C order, so a repeated
// index keeps the last value, as NumPy's assignment does (or, for ufunc.at, combines each
// into the current value in that order). An index outside the axis (the
// producer's check makes the runtime re-run the call eagerly) writes nothing.
Status Lowerer::emit_scatter(Nest& n) {
  const ir::Node& node = g_.node(n.v);
  const ValueId iv = node.operands[1], vv = node.operands[2];
  const ir::Type& it = g_.type(iv);
  const ir::Type& vt = g_.type(vv);
  const DType d = node.type.dtype;
  const auto a = static_cast<size_t>(node.ints[0]);
  const auto ri = static_cast<size_t>(it.rank());
  const int64_t len = node.type.shape[a].size;
  // NumPy converts the indices to intp: uint64 reinterpreted, the narrower unsigned types
  // zero-extended (as gather).
  const bool uns = ir::is_unsigned_int(it.dtype) && it.dtype != DType::U64;
  const int64_t how = node.ints.size() > 1 ? node.ints[1] : 0;
  const Op combine = how == 1 ? Op::ReduceSum : how == 2 ? Op::ReduceProd : how == 3 ? Op::ReduceMax
                   : how == 4 ? Op::ReduceMin : Op::Param;  // Param: assignment
  root_ = ir::kNoValue;
  auto ext = extv(vt);
  std::vector<int> axes(ext.size());
  for (size_t k = 0; k < axes.size(); ++k) axes[k] = static_cast<int>(k);
  std::vector<Value*> idx(ext.size(), nullptr);
  llvm::Function* f = b_.GetInsertBlock()->getParent();
  return loop(begin_, end_, "o", [&](Value*) -> Status {
    return loops(ext, axes, 0, idx, [&]() -> Status {
      auto k = eval(iv, std::vector<Value*>(idx.begin() + static_cast<std::ptrdiff_t>(a),
                                            idx.begin() + static_cast<std::ptrdiff_t>(a + ri)));
      if (!k) return k.status();
      Value* i = uns ? b_.CreateZExtOrTrunc(*k, b_.getInt64Ty()) : b_.CreateSExtOrTrunc(*k, b_.getInt64Ty());
      if (!uns) i = b_.CreateSelect(b_.CreateICmpSLT(i, b_.getInt64(0)), b_.CreateAdd(i, b_.getInt64(len)), i);
      Value* in = b_.CreateICmpULT(i, b_.getInt64(len));
      auto x = eval(vv, idx);
      if (!x) return x.status();
      std::vector<Value*> didx(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(a));
      didx.push_back(i);
      didx.insert(didx.end(), idx.begin() + static_cast<std::ptrdiff_t>(a + ri), idx.end());
      auto* write = llvm::BasicBlock::Create(ctx_, "scatter.write", f);
      auto* next = llvm::BasicBlock::Create(ctx_, "scatter.next", f);
      b_.CreateCondBr(in, write, next);
      b_.SetInsertPoint(write);
      Value* val = *x;
      if (combine != Op::Param) {  // ufunc.at: old op v
        Value* old = load(n.v, didx);
        // NumPy's maximum.at/minimum.at raise invalid on a NaN operand (its compare signals).
        if (ir::is_float(d) && (combine == Op::ReduceMax || combine == Op::ReduceMin))
          note_fp_flags(b_, b_.CreateFCmpUNO(old, val), fp::kInvalid);
        val = this->combine(combine, d, old, val);
      }
      store(n.v, -1, didx, val, d);
      b_.CreateBr(next);
      b_.SetInsertPoint(next);
      return ok_status();
    });
  });
}

// sort x (ir/ops.def): for each row along the last axis, the operand's elements (its producer
// fused) are written into this thread's scratch (tracejit_sort_scratch), which
// tracejit_sort_row (sort_rt.cpp) sorts into the row of the buffer: the values, or their
// positions. The outer loop is axis 0 of a matrix (rows are independent).
Status Lowerer::emit_sort(Nest& n) {
  const ir::Node& node = g_.node(n.v);
  const ValueId x = node.operands[0];
  const DType xd = g_.type(x).dtype;
  const int64_t xe = ir::dtype_size(xd);
  auto shape = extv(node.type);
  const size_t last = shape.size() - 1;
  std::vector<int> pre;
  for (size_t a = 0; a < last; ++a) pre.push_back(static_cast<int>(a));
  std::vector<int> pre_rest(pre.size() > 1 ? pre.begin() + 1 : pre.end(), pre.end());
  llvm::Type* ptr = b_.getPtrTy();
  llvm::Type* i64 = b_.getInt64Ty();
  auto scratch_fn = m_.getOrInsertFunction("tracejit_sort_scratch", llvm::FunctionType::get(ptr, {i64}, false));
  auto row_fn = m_.getOrInsertFunction("tracejit_sort_row", llvm::FunctionType::get(b_.getVoidTy(), {i64, i64, i64, ptr, i64, ptr, ptr, i64}, false));
  // mode 2: the positions to partition at, a constant array of the module.
  Value* ks = llvm::ConstantPointerNull::get(llvm::PointerType::get(ctx_, 0));
  const int64_t nk = static_cast<int64_t>(node.ints.size()) - 2;
  if (node.ints[0] == 2 && nk > 0) {
    std::vector<uint64_t> kv(node.ints.begin() + 2, node.ints.end());
    auto* init = llvm::ConstantDataArray::get(ctx_, kv);
    ks = new llvm::GlobalVariable(m_, init->getType(), true, llvm::GlobalValue::PrivateLinkage, init, "sort.kth");
  }
  root_ = ir::kNoValue;
  std::vector<Value*> idx(shape.size(), nullptr);
  llvm::Type* mt = memory_type(ctx_, xd);
  return loop(begin_, end_, "o", [&](Value* o) -> Status {
    if (!pre.empty()) idx[static_cast<size_t>(pre[0])] = o;
    return loops(shape, pre_rest, 0, idx, [&]() -> Status {
      Value* len = shape[last];
      Value* scratch = b_.CreateCall(scratch_fn, {b_.CreateMul(len, b_.getInt64(xe), "", true, true)});
      if (Status s = loop(b_.getInt64(0), len, "fill", [&](Value* j) -> Status {
            idx[last] = j;
            auto v = eval(x, idx);
            if (!v) return v.status();
            Value* p = b_.CreateGEP(mt, scratch, j);
            b_.CreateAlignedStore(to_memory(b_, *v, xd), p, llvm::Align(static_cast<uint64_t>(xe)));
            return ok_status();
          });
          !s)
        return s;
      idx[last] = b_.getInt64(0);
      Value* dst = b_.CreateGEP(b_.getInt8Ty(), buffer_ptr(n.v), byte_offset(n.v, idx));
      b_.CreateCall(row_fn, {b_.getInt64(static_cast<int64_t>(xd)), b_.getInt64(node.ints[0]), b_.getInt64(node.ints[1]), scratch, len, dst, ks,
                              b_.getInt64(node.ints[0] == 2 ? nk : 0)});
      return ok_status();
    });
  });
}

Status Lowerer::emit_matmul(Nest& n) {
  const ir::Node& node = g_.node(n.v);
  DType d = node.type.dtype;
  int64_t e = ir::dtype_size(d);
  ValueId av = node.operands[0], bv = node.operands[1];
  if (!node.type.is_static() || !g_.type(av).is_static() || !g_.type(bv).is_static()) return emit_matmul_rt(n);
  auto rshape = sizes(node.type);
  size_t rank = rshape.size();
  int64_t M = rshape[rank - 2], N = rshape[rank - 1];
  auto ashape = sizes(g_.type(av)), bshape = sizes(g_.type(bv));
  int64_t K = ashape.back();
  auto ad = describe(g_, p_, av), bd = describe(g_, p_, bv);
  if (!ad || !bd) return emit_matmul_rt(n);  // strides known only at run time
  root_ = ir::kNoValue;
  // Batch loops over the result's leading dims; operands broadcast (right-aligned).
  std::vector<int> batch_axes;
  for (size_t a = 0; a + 2 < rank; ++a) batch_axes.push_back(static_cast<int>(a));
  std::vector<Value*> bidx(rank, nullptr);
  auto operand_ptr = [&](const Desc& desc, const std::vector<int64_t>& oshape) {
    Value* off = b_.getInt64(desc.offset);
    size_t lead = rank - oshape.size();
    for (size_t a = 0; a + 2 < oshape.size(); ++a)
      if (oshape[a] != 1) off = b_.CreateAdd(off, b_.CreateMul(bidx[lead + a], b_.getInt64(desc.strides[a])));
    return b_.CreateGEP(b_.getInt8Ty(), buffer_ptr(desc.base), off);
  };
  auto cst = c_strides(rshape, e);
  auto rext = extv(node.type);
  return loop(begin_, end_, "o", [&](Value*) -> Status {
    if (M == 0 || N == 0) return ok_status();
    return loops(rext, batch_axes, 0, bidx, [&]() -> Status {
      Value* coff = b_.getInt64(0);
      for (int a : batch_axes) coff = b_.CreateAdd(coff, b_.CreateMul(bidx[static_cast<size_t>(a)], b_.getInt64(cst[static_cast<size_t>(a)])));
      Value* cptr = b_.CreateGEP(b_.getInt8Ty(), buffer_ptr(n.v), coff);
      Value* aptr = operand_ptr(*ad, ashape);
      Value* bptr = operand_ptr(*bd, bshape);
      size_t ar = ashape.size(), br = bshape.size();
      if (blas_dtype(d) && K > 0) {
        auto la = blas_layout(ad->strides[ar - 2], ad->strides[ar - 1], M, K, e);
        auto lb = blas_layout(bd->strides[br - 2], bd->strides[br - 1], K, N, e);
        if (!la || !lb) return Status::error("cpu backend: matmul operand not BLAS-compatible");
        llvm::Type* ft = register_type(ctx_, d);
        llvm::Type* i32 = b_.getInt32Ty();
        llvm::Type* ptr = b_.getPtrTy();
        auto callee = m_.getOrInsertFunction(
            d == DType::F32 ? "cblas_sgemm" : "cblas_dgemm",
            llvm::FunctionType::get(b_.getVoidTy(), {i32, i32, i32, i32, i32, i32, ft, ptr, i32, ptr, i32, ft, ptr, i32}, false));
        auto i = [&](int64_t v) { return b_.getInt32(static_cast<uint32_t>(v)); };
        b_.CreateCall(callee, {i(kCblasRowMajor), i(la->trans ? kCblasTrans : kCblasNoTrans),
                               i(lb->trans ? kCblasTrans : kCblasNoTrans), i(M), i(N), i(K),
                               llvm::ConstantFP::get(ft, 1.0), aptr, i(la->ld), bptr, i(lb->ld),
                               llvm::ConstantFP::get(ft, 0.0), cptr, i(N)});
        return ok_status();
      }
      // Integer/bool (and K == 0): C[i, :] = sum_k A[i, k] * B[k, :], wrapping; the j loop vectorizes.
      llvm::Type* t = register_type(ctx_, d);
      llvm::Type* mt = memory_type(ctx_, d);
      bool bl = ir::is_bool(d), f = ir::is_float(d);
      auto at = [&](Value* base, Value* r, Value* c, int64_t rs, int64_t cs) {
        Value* off = b_.CreateAdd(b_.CreateMul(r, b_.getInt64(rs)), b_.CreateMul(c, b_.getInt64(cs)));
        return b_.CreateGEP(b_.getInt8Ty(), base, off);
      };
      return loop(b_.getInt64(0), b_.getInt64(M), "mi", [&](Value* mi) -> Status {
        if (Status s = loop(b_.getInt64(0), b_.getInt64(N), "mj", [&](Value* mj) -> Status {
              b_.CreateAlignedStore(to_memory(b_, f ? llvm::ConstantFP::get(t, 0.0) : llvm::ConstantInt::get(t, 0), d),
                                    at(cptr, mi, mj, N * e, e), llvm::Align(1));
              return ok_status();
            }); !s)
          return s;
        return loop(b_.getInt64(0), b_.getInt64(K), "mk", [&](Value* mk) -> Status {
          Value* a = from_memory(b_, b_.CreateAlignedLoad(mt, at(aptr, mi, mk, ad->strides[ar - 2], ad->strides[ar - 1]), llvm::Align(1)), d);
          return loop(b_.getInt64(0), b_.getInt64(N), "mj", [&](Value* mj) -> Status {
            Value* bx = from_memory(b_, b_.CreateAlignedLoad(mt, at(bptr, mk, mj, bd->strides[br - 2], bd->strides[br - 1]), llvm::Align(1)), d);
            Value* cp = at(cptr, mi, mj, N * e, e);
            Value* c = from_memory(b_, b_.CreateAlignedLoad(mt, cp, llvm::Align(1)), d);
            Value* prod = bl ? b_.CreateAnd(a, bx) : f ? b_.CreateFMul(a, bx) : b_.CreateMul(a, bx);
            Value* sum = bl ? b_.CreateOr(c, prod) : f ? b_.CreateFAdd(c, prod) : b_.CreateAdd(c, prod);
            b_.CreateAlignedStore(to_memory(b_, sum, d), cp, llvm::Align(1));
            return ok_status();
          });
        });
      });
    });
  });
}

// A value as (buffer, byte offset, byte strides) with the strides of Strided params read at run
// time from the kernel's input_strides (size-1 dims: stride 0).
struct Lowerer::RtDesc {
  ValueId base = ir::kNoValue;
  Value* offset = nullptr;
  std::vector<Value*> strides;
};

// Byte stride `d` of Strided param `v`, loaded once in the helper's entry block.
Value* Lowerer::param_stride(ValueId v, size_t d) {
  Value*& s = dyn_stride_[{v, static_cast<int>(d)}];
  if (!s) {
    llvm::IRBuilder<> eb(entry_->getTerminator());
    Value* all = kernel_arg(static_cast<unsigned>(g_.params.size()));
    Value* arr = eb.CreateLoad(eb.getPtrTy(), eb.CreateConstInBoundsGEP1_64(eb.getPtrTy(), all, static_cast<uint64_t>(g_.node(v).ints[0])));
    s = eb.CreateLoad(eb.getInt64Ty(), eb.CreateConstInBoundsGEP1_64(eb.getInt64Ty(), arr, d));
  }
  return s;
}

// describe() with runtime strides: succeeds where rt_describable() says so.
std::optional<Lowerer::RtDesc> Lowerer::describe_rt(ValueId v) {
  if (auto d = describe(g_, p_, v)) {
    RtDesc r{d->base, b_.getInt64(d->offset), {}};
    for (int64_t st : d->strides) r.strides.push_back(b_.getInt64(st));
    return r;
  }
  const ir::Node& n = g_.node(v);
  const auto& shape = n.type.shape;
  if (p_.buffered[static_cast<size_t>(v)]) {
    if (!is_strided_param(n)) {
      if (n.type.is_static()) return std::nullopt;
      RtDesc r{v, b_.getInt64(0), cstrides_v(n.type, ir::dtype_size(n.type.dtype))};  // symbolic dims
      return r;
    }
    RtDesc r{v, b_.getInt64(0), {}};
    for (size_t a = 0; a < shape.size(); ++a) r.strides.push_back(is_one(shape[a]) ? b_.getInt64(0) : param_stride(v, a));
    return r;
  }
  if (n.operands.size() != 1) return std::nullopt;
  auto in = describe_rt(n.operands[0]);
  if (!in) return std::nullopt;
  const auto& in_shape = g_.type(n.operands[0]).shape;
  RtDesc r{in->base, in->offset, {}};
  switch (n.op) {
    case Op::Transpose:
      for (int64_t a : n.ints) r.strides.push_back(in->strides[static_cast<size_t>(a)]);
      return r;
    case Op::Slice:
      for (size_t a = 0; a < shape.size(); ++a) {
        r.offset = b_.CreateAdd(r.offset, b_.CreateMul(b_.getInt64(n.ints[2 * a]), in->strides[a]));
        r.strides.push_back(b_.CreateMul(b_.getInt64(n.ints[2 * a + 1]), in->strides[a]));
      }
      return r;
    case Op::Broadcast: {
      size_t lead = shape.size() - in_shape.size();
      for (size_t a = 0; a < shape.size(); ++a)
        r.strides.push_back(a < lead || is_one(in_shape[a - lead]) ? b_.getInt64(0) : in->strides[a - lead]);
      return r;
    }
    case Op::Reshape: {
      if (!unit_reshape(in_shape, shape)) return std::nullopt;
      std::vector<Value*> kept;
      for (size_t a = 0; a < in_shape.size(); ++a)
        if (!is_one(in_shape[a])) kept.push_back(in->strides[a]);
      size_t k = 0;
      for (const ir::Dim& x : shape) r.strides.push_back(is_one(x) ? b_.getInt64(0) : kept[k++]);
      return r;
    }
    default: return std::nullopt;
  }
}

// Matmul with an operand whose strides are only known at run time (a Strided param, e.g. a
// transposed or Fortran-ordered argument, a stepped, reversed or broadcast view, or a view of
// one). Float: per operand and per call, BLAS reads the operand in place (transposed or not,
// with its leading dimension) when its strides allow; otherwise (zero, negative, unaligned or
// stepped-in-both-axes strides) each matrix is first copied into a contiguous scratch buffer,
// allocated only then (once for an operand without batch dims of its own, else per batch).
// Integers and K == 0: the reference loops with runtime strides.
Status Lowerer::emit_matmul_rt(Nest& n) {
  const ir::Node& node = g_.node(n.v);
  DType d = node.type.dtype;
  int64_t e = ir::dtype_size(d);
  // Sizes may be symbolic (runtime values, >= 2): Md/Nd/Kd say what is known now, M/N/K are
  // the values.
  const auto& rshape = node.type.shape;
  size_t rank = rshape.size();
  ValueId av = node.operands[0], bv = node.operands[1];
  const auto& ashape = g_.type(av).shape;
  const auto& bshape = g_.type(bv).shape;
  ir::Dim Md = rshape[rank - 2], Nd = rshape[rank - 1], Kd = ashape.back();
  Value *M = dimv(Md), *N = dimv(Nd), *K = dimv(Kd);
  auto is_zero = [](const ir::Dim& x) { return x.is_static() && x.size == 0; };
  auto gt1 = [](const ir::Dim& x) { return !x.is_static() || x.size > 1; };
  auto at_least_1 = [&](const ir::Dim& x) { return x.is_static() ? b_.getInt64(std::max<int64_t>(1, x.size)) : dimv(x); };
  auto rext = extv(node.type);
  auto ad = describe_rt(av), bd = describe_rt(bv);
  if (!ad || !bd) return Status::error("cpu backend: matmul operand has no layout");
  root_ = ir::kNoValue;
  std::vector<int> batch_axes;
  for (size_t a = 0; a + 2 < rank; ++a) batch_axes.push_back(static_cast<int>(a));
  std::vector<Value*> bidx(rank, nullptr);
  llvm::Type* ptr = b_.getPtrTy();
  llvm::Type* i64 = b_.getInt64Ty();
  auto cst = cstrides_v(node.type, e);
  // The operand's matrix for the current batch index (bidx).
  auto matrix_ptr = [&](const RtDesc& desc, const std::vector<ir::Dim>& oshape) {
    Value* off = desc.offset;
    size_t lead = rank - oshape.size();
    for (size_t a = 0; a + 2 < oshape.size(); ++a)
      if (!is_one(oshape[a])) off = b_.CreateAdd(off, b_.CreateMul(bidx[lead + a], desc.strides[a]));
    return b_.CreateGEP(b_.getInt8Ty(), buffer_ptr(desc.base), off);
  };
  auto result_ptr = [&]() {
    Value* coff = b_.getInt64(0);
    for (int a : batch_axes) coff = b_.CreateAdd(coff, b_.CreateMul(bidx[static_cast<size_t>(a)], cst[static_cast<size_t>(a)]));
    return b_.CreateGEP(b_.getInt8Ty(), buffer_ptr(n.v), coff);
  };
  auto at = [&](Value* base, Value* r, Value* c, Value* rs, Value* cs) {
    return b_.CreateGEP(b_.getInt8Ty(), base, b_.CreateAdd(b_.CreateMul(r, rs), b_.CreateMul(c, cs)));
  };
  // if (cond) body(); in straight-line code.
  auto when = [&](Value* cond, const auto& body) -> Status {
    llvm::Function* f = b_.GetInsertBlock()->getParent();
    auto* then = llvm::BasicBlock::Create(ctx_, "then", f);
    auto* cont = llvm::BasicBlock::Create(ctx_, "cont", f);
    b_.CreateCondBr(cond, then, cont);
    b_.SetInsertPoint(then);
    if (Status s = body(); !s) return s;
    b_.CreateBr(cont);
    b_.SetInsertPoint(cont);
    memo_.clear();
    return ok_status();
  };
  llvm::Type* mt = memory_type(ctx_, d);
  auto ld_st = [&](const RtDesc& desc, size_t r) { return std::make_pair(desc.strides[r - 2], desc.strides[r - 1]); };

  if (!blas_dtype(d) || is_zero(Kd)) {
    // C[i, :] = sum_k A[i, k] * B[k, :], wrapping (as emit_matmul's integer loops).
    llvm::Type* t = register_type(ctx_, d);
    bool bl = ir::is_bool(d), f = ir::is_float(d);
    Value *ars = ld_st(*ad, ashape.size()).first, *acs = ld_st(*ad, ashape.size()).second;
    Value *brs = ld_st(*bd, bshape.size()).first, *bcs = ld_st(*bd, bshape.size()).second;
    return loop(begin_, end_, "o", [&](Value*) -> Status {
      if (is_zero(Md) || is_zero(Nd)) return ok_status();
      return loops(rext, batch_axes, 0, bidx, [&]() -> Status {
        Value* cptr = result_ptr();
        Value* aptr = matrix_ptr(*ad, ashape);
        Value* bptr = matrix_ptr(*bd, bshape);
        Value* crs = b_.CreateMul(N, b_.getInt64(e));
        Value* ccs = b_.getInt64(e);
        return loop(b_.getInt64(0), M, "mi", [&](Value* mi) -> Status {
          if (Status s = loop(b_.getInt64(0), N, "mj", [&](Value* mj) -> Status {
                b_.CreateAlignedStore(to_memory(b_, f ? llvm::ConstantFP::get(t, 0.0) : llvm::ConstantInt::get(t, 0), d),
                                      at(cptr, mi, mj, crs, ccs), llvm::Align(1));
                return ok_status();
              }); !s)
            return s;
          return loop(b_.getInt64(0), K, "mk", [&](Value* mk) -> Status {
            Value* a = from_memory(b_, b_.CreateAlignedLoad(mt, at(aptr, mi, mk, ars, acs), llvm::Align(1)), d);
            return loop(b_.getInt64(0), N, "mj", [&](Value* mj) -> Status {
              Value* bx = from_memory(b_, b_.CreateAlignedLoad(mt, at(bptr, mk, mj, brs, bcs), llvm::Align(1)), d);
              Value* cp = at(cptr, mi, mj, crs, ccs);
              Value* c = from_memory(b_, b_.CreateAlignedLoad(mt, cp, llvm::Align(1)), d);
              Value* prod = bl ? b_.CreateAnd(a, bx) : f ? b_.CreateFMul(a, bx) : b_.CreateMul(a, bx);
              Value* sum = bl ? b_.CreateOr(c, prod) : f ? b_.CreateFAdd(c, prod) : b_.CreateAdd(c, prod);
              b_.CreateAlignedStore(to_memory(b_, sum, d), cp, llvm::Align(1));
              return ok_status();
            });
          });
        });
      });
    });
  }

  // BLAS. Per operand: how BLAS reads it (blas_layout's rule, evaluated on runtime strides),
  // or a packing copy.
  struct Operand {
    const RtDesc* desc;
    const std::vector<ir::Dim>* shape;
    ir::Dim rows, cols;
    bool per_batch = false;  // has batch dims of its own: a packed copy per batch
    Value *pack = nullptr, *trans = nullptr, *ld = nullptr, *buf = nullptr;
  };
  Operand ops[2] = {{&*ad, &ashape, Md, Kd}, {&*bd, &bshape, Kd, Nd}};
  auto pack_into = [&](Operand& o, Value* src) -> Status {
    Value *rs = ld_st(*o.desc, o.shape->size()).first, *cs = ld_st(*o.desc, o.shape->size()).second;
    return loop(b_.getInt64(0), dimv(o.rows), "pr", [&](Value* r) -> Status {
      return loop(b_.getInt64(0), dimv(o.cols), "pc", [&](Value* c) -> Status {
        Value* x = b_.CreateAlignedLoad(mt, at(src, r, c, rs, cs), llvm::Align(1));
        Value* dst = at(o.buf, r, c, b_.CreateMul(dimv(o.cols), b_.getInt64(e)), b_.getInt64(e));
        b_.CreateAlignedStore(x, dst, llvm::Align(static_cast<uint64_t>(e)));
        return ok_status();
      });
    });
  };
  return loop(begin_, end_, "o", [&](Value*) -> Status {
    if (is_zero(Md) || is_zero(Nd)) return ok_status();
    for (Operand& o : ops) {
      const auto& sh = *o.shape;
      size_t r = sh.size();
      Value *rs = ld_st(*o.desc, r).first, *cs = ld_st(*o.desc, r).second;
      Value* e64 = b_.getInt64(e);
      auto multiple_of_e = [&](Value* s) { return b_.CreateICmpEQ(b_.CreateSRem(s, e64), b_.getInt64(0)); };
      Value* t = b_.getTrue();
      Value* nt_ok = t;  // row-major as is: unit column stride, ld = row stride
      if (gt1(o.cols)) nt_ok = b_.CreateICmpEQ(cs, e64);
      if (gt1(o.rows))
        nt_ok = b_.CreateAnd(nt_ok, b_.CreateAnd(b_.CreateAnd(b_.CreateICmpSGT(rs, b_.getInt64(0)), multiple_of_e(rs)),
                                                 b_.CreateICmpSGE(b_.CreateSDiv(rs, e64), at_least_1(o.cols))));
      Value* t_ok = t;  // transposed: unit row stride, ld = column stride
      if (gt1(o.rows)) t_ok = b_.CreateICmpEQ(rs, e64);
      if (gt1(o.cols))
        t_ok = b_.CreateAnd(t_ok, b_.CreateAnd(b_.CreateAnd(b_.CreateICmpSGT(cs, b_.getInt64(0)), multiple_of_e(cs)),
                                               b_.CreateICmpSGE(b_.CreateSDiv(cs, e64), at_least_1(o.rows))));
      Value* ld_nt = !gt1(o.rows) ? at_least_1(o.cols) : b_.CreateSDiv(rs, e64);
      Value* ld_t = !gt1(o.cols) ? at_least_1(o.rows) : b_.CreateSDiv(cs, e64);
      Value* ld = b_.CreateSelect(nt_ok, ld_nt, ld_t);
      // Element-aligned base and strides (BLAS reads whole elements), ld within BLAS's int.
      Value* base = b_.CreateGEP(b_.getInt8Ty(), buffer_ptr(o.desc->base), o.desc->offset);
      Value* ok = b_.CreateICmpEQ(b_.CreateAnd(b_.CreatePtrToInt(base, i64), b_.getInt64(e - 1)), b_.getInt64(0));
      for (size_t a = 0; a < r; ++a)
        if (!is_one(sh[a])) ok = b_.CreateAnd(ok, multiple_of_e(o.desc->strides[a]));
      ok = b_.CreateAnd(ok, b_.CreateAnd(b_.CreateOr(nt_ok, t_ok), b_.CreateICmpSLE(ld, b_.getInt64(INT32_MAX))));
      o.pack = b_.CreateNot(ok);
      o.trans = b_.CreateSelect(nt_ok, b_.getInt32(kCblasNoTrans), b_.getInt32(kCblasTrans));
      o.ld = b_.CreateTrunc(ld, b_.getInt32Ty());
      for (size_t a = 0; a + 2 < r; ++a) o.per_batch |= !is_one(sh[a]);
      // The scratch matrix, allocated only when packing.
      llvm::BasicBlock* pre = b_.GetInsertBlock();
      llvm::BasicBlock* then = nullptr;
      Value* fresh = nullptr;
      if (Status s = when(o.pack, [&]() -> Status {
            auto alloc = m_.getOrInsertFunction("tracejit_scratch_alloc", llvm::FunctionType::get(ptr, {i64, i64}, false));
            Value* bytes = b_.CreateMul(b_.CreateMul(dimv(o.rows), dimv(o.cols)), b_.getInt64(e));
            bytes = b_.CreateAnd(b_.CreateAdd(bytes, b_.getInt64(kScratchAlign - 1)), b_.getInt64(-kScratchAlign));
            bytes = b_.CreateBinaryIntrinsic(llvm::Intrinsic::umax, bytes, b_.getInt64(kScratchAlign));
            fresh = b_.CreateCall(alloc, {b_.getInt64(kScratchAlign), bytes});
            then = b_.GetInsertBlock();
            return ok_status();
          }); !s)
        return s;
      auto* phi = b_.CreatePHI(ptr, 2, "pack.buf");
      phi->addIncoming(llvm::ConstantPointerNull::get(llvm::cast<llvm::PointerType>(ptr)), pre);
      phi->addIncoming(fresh, then);
      o.buf = phi;
      if (!o.per_batch)
        if (Status s = when(o.pack, [&]() { return pack_into(o, base); }); !s) return s;
    }
    if (Status s = loops(rext, batch_axes, 0, bidx, [&]() -> Status {
          Value* cptr = result_ptr();
          Value* use[2];
          for (int k = 0; k < 2; ++k) {
            Operand& o = ops[k];
            Value* xp = matrix_ptr(*o.desc, *o.shape);
            if (o.per_batch)
              if (Status s = when(o.pack, [&]() { return pack_into(o, xp); }); !s) return s;
            use[k] = b_.CreateSelect(o.pack, o.buf, xp);
          }
          llvm::Type* ft = register_type(ctx_, d);
          llvm::Type* i32 = b_.getInt32Ty();
          auto callee = m_.getOrInsertFunction(
              d == DType::F32 ? "cblas_sgemm" : "cblas_dgemm",
              llvm::FunctionType::get(b_.getVoidTy(), {i32, i32, i32, i32, i32, i32, ft, ptr, i32, ptr, i32, ft, ptr, i32}, false));
          auto i = [&](int64_t v) { return b_.getInt32(static_cast<uint32_t>(v)); };
          auto i32v = [&](Value* v) { return b_.CreateTrunc(v, i32); };
          auto trans = [&](const Operand& o) { return b_.CreateSelect(o.pack, i(kCblasNoTrans), o.trans); };
          auto ld = [&](const Operand& o) { return b_.CreateSelect(o.pack, i32v(at_least_1(o.cols)), o.ld); };
          b_.CreateCall(callee, {i(kCblasRowMajor), trans(ops[0]), trans(ops[1]), i32v(M), i32v(N), i32v(K),
                                 llvm::ConstantFP::get(ft, 1.0), use[0], ld(ops[0]), use[1], ld(ops[1]),
                                 llvm::ConstantFP::get(ft, 0.0), cptr, i32v(at_least_1(Nd))});
          return ok_status();
        }); !s)
      return s;
    auto fr = m_.getOrInsertFunction("tracejit_scratch_free", llvm::FunctionType::get(b_.getVoidTy(), {ptr}, false));
    for (Operand& o : ops) b_.CreateCall(fr, {o.buf});  // free(NULL) when nothing was packed
    return ok_status();
  });
}

Expected<std::vector<Nest>> Lowerer::plan_nests() {
  std::vector<Nest> nests;
  auto work8 = [&](const ir::Type& t) { return Mono::numel(t) * Mono{8, {}}; };
  auto dim0 = [](const ir::Type& t) { return t.shape.empty() ? ir::Dim::fixed(1) : t.shape[0]; };
  for (ValueId v = 0; v < g_.size(); ++v) {
    const ir::Node& n = g_.node(v);
    auto i = static_cast<size_t>(v);
    if (!p_.needed[i] || !p_.buffered[i] || n.op == Op::Param) continue;
    Nest nest;
    nest.v = v;
    if (is_reduce(n.op) || n.op == Op::ArgMax || n.op == Op::ArgMin) {
      nest.kind = is_reduce(n.op) ? NestKind::Reduce : NestKind::Arg;
      const ir::Type& xt = g_.type(n.operands[0]);
      const auto& xs = xt.shape;
      std::vector<bool> red(xs.size(), false);
      for (int64_t a : n.ints) red[static_cast<size_t>(a)] = true;
      bool inner_mode = nest.kind == NestKind::Arg || (!n.ints.empty() && red.back());
      int first_kept = -1;
      for (size_t a = 0; a < xs.size(); ++a)
        if (!red[a]) {
          first_kept = static_cast<int>(a);
          break;
        }
      if (static_empty(n.type)) continue;
      if (inner_mode) {
        nest.outer = first_kept >= 0 ? xs[static_cast<size_t>(first_kept)] : ir::Dim::fixed(1);
        nest.independent = first_kept >= 0;
        nest.row_axis0 = first_kept == 0;
      } else {
        bool row = !xs.empty() && !red[0];
        nest.outer = row ? xs[0] : ir::Dim::fixed(1);
        nest.independent = nest.row_axis0 = row;
      }
      nest.work = work8(xt);
      nests.push_back(nest);
    } else if (is_scan(n.op)) {
      // Static shapes only (the tracer records scans of static arrays), none of them empty.
      if (static_empty(n.type)) continue;
      nest.kind = NestKind::Scan;
      const auto axis = static_cast<size_t>(n.ints[0]);
      nest.outer = axis > 0 ? n.type.shape[0] : ir::Dim::fixed(1);
      nest.independent = nest.row_axis0 = axis > 0;
      nest.work = work8(n.type);
      nests.push_back(nest);
    } else if (n.op == Op::Sort) {
      // Rows along the last axis, independent: the outer (threaded) loop is axis 0 of a matrix.
      if (static_empty(n.type)) continue;
      nest.kind = NestKind::Sort;
      nest.outer = n.type.rank() > 1 ? n.type.shape[0] : ir::Dim::fixed(1);
      nest.independent = nest.row_axis0 = n.type.rank() > 1;
      nest.work = work8(n.type) * Mono{8, {}};
      nests.push_back(nest);
    } else if (n.op == Op::MatMul) {
      nest.kind = NestKind::MatMul;
      if (static_empty(n.type)) continue;
      nest.work = Mono{0, {}};
      nests.push_back(nest);
    } else if (n.op == Op::Scatter) {
      // x copied into the buffer (threaded, x's expression fused), then v's elements written
      // at their indices by one thread, in C order (a repeated index keeps the last value).
      if (static_empty(n.type)) continue;
      Nest base = nest;
      base.kind = NestKind::ConcatPart;
      base.part = 0;
      base.outer = dim0(n.type);
      base.independent = n.type.rank() > 0;
      base.work = work8(n.type);
      nests.push_back(base);
      if (static_empty(g_.type(n.operands[2]))) continue;
      nest.kind = NestKind::ScatterWrite;
      nest.work = work8(g_.type(n.operands[2]));
      nests.push_back(nest);
    } else if (n.op == Op::Concat) {
      for (size_t k = 0; k < n.operands.size(); ++k) {
        Nest part = nest;
        part.kind = NestKind::ConcatPart;
        part.part = static_cast<int>(k);
        const ir::Type& pt = g_.type(n.operands[k]);
        if (static_empty(pt)) continue;
        part.outer = dim0(pt);
        part.independent = pt.rank() > 0;
        part.work = work8(pt);
        nests.push_back(part);
      }
    } else {
      if (static_empty(n.type)) continue;
      nest.kind = NestKind::Eval;
      nest.outer = dim0(n.type);
      nest.independent = nest.row_axis0 = n.type.rank() > 0;
      nest.work = work8(n.type);
      nests.push_back(nest);
    }
  }
  for (size_t k = 0; k < g_.results.size(); ++k) {
    ValueId v = g_.results[k];
    if (p_.home_out[static_cast<size_t>(v)] == static_cast<int>(k)) continue;
    const ir::Type& t = g_.type(v);
    if (static_empty(t)) continue;
    Nest nest;
    nest.kind = NestKind::Copy;
    nest.v = v;
    nest.out = static_cast<int>(k);
    nest.outer = dim0(t);
    nest.independent = nest.row_axis0 = t.rank() > 0;
    nest.work = work8(t);
    nests.push_back(nest);
  }
  return nests;
}

// True when evaluating `u` (dim 0 of its index is the outer loop variable iff `al`) reads the
// buffers in `group` only at the current outer index.
bool Lowerer::aligned_reads(ValueId u, bool al, ValueId root, const std::set<ValueId>& group) const {
  const ir::Node& n = g_.node(u);
  if (u != root && p_.buffered[static_cast<size_t>(u)]) return !group.count(u) || al;
  auto same0 = [&](ValueId o) {
    const ir::Type &ot = g_.type(o), &ut = n.type;
    return ot.rank() == ut.rank() && ut.rank() > 0 && ot.shape[0] == ut.shape[0];
  };
  switch (n.op) {
    case Op::Transpose: return aligned_reads(n.operands[0], al && n.ints[0] == 0, root, group);
    case Op::Slice: return aligned_reads(n.operands[0], al && n.ints[0] == 0 && n.ints[1] == 1, root, group);
    case Op::DynSlice:
      for (size_t k = 1; k < n.operands.size(); ++k)
        if (!aligned_reads(n.operands[k], false, root, group)) return false;
      return aligned_reads(n.operands[0], false, root, group);
    case Op::Reshape: return aligned_reads(n.operands[0], false, root, group);
    case Op::Gather:  // idx keeps the outer index when the axis is 0, x when it is not
      return aligned_reads(n.operands[1], al && n.ints[0] == 0 && g_.type(n.operands[1]).rank() > 0, root, group) &&
             aligned_reads(n.operands[0], al && n.ints[0] > 0, root, group);
    default: break;
  }
  for (ValueId o : n.operands)
    if (!aligned_reads(o, al && same0(o), root, group)) return false;
  return true;
}

bool Lowerer::group_reads_ok(const Nest& n, const std::set<ValueId>& group) const {
  switch (n.kind) {
    case NestKind::Eval: return aligned_reads(n.v, true, n.v, group);
    case NestKind::Copy: return aligned_reads(n.v, true, ir::kNoValue, group);
    case NestKind::Reduce:
    case NestKind::Arg:
    case NestKind::Scan: return aligned_reads(g_.node(n.v).operands[0], true, ir::kNoValue, group);
    default: return false;
  }
}

// Kernel argument k (inputs, the strides array, outputs, scratch slots) inside the helper being
// emitted: a placeholder until finish_helper makes it a parameter, so a helper takes only the
// buffers it touches and a graph of many nests and buffers stays linear in size.
Value* Lowerer::kernel_arg(unsigned k) {
  auto [it, fresh] = placeholders_.try_emplace(k, nullptr);
  if (fresh) {
    llvm::IRBuilder<> eb(entry_, entry_->begin());
    it->second = eb.CreateCall(placeholder_fn(), {eb.getInt32(k)});
  }
  return it->second;
}

llvm::FunctionCallee Lowerer::placeholder_fn() {
  return m_.getOrInsertFunction("tracejit.schedule.arg", llvm::FunctionType::get(b_.getPtrTy(), {b_.getInt32Ty()}, false));
}

// Moves the body of `tmp` (params: begin, end) into a helper whose parameters are the used
// kernel arguments (in order, recorded in `args`), then begin and end.
llvm::Function* Lowerer::finish_helper(llvm::Function* tmp, std::vector<unsigned>& args) {
  size_t np = g_.params.size();
  args.clear();
  std::vector<llvm::Type*> types;
  for (auto& [k, v] : placeholders_) args.push_back(k), types.push_back(b_.getPtrTy());
  types.push_back(b_.getInt64Ty()), types.push_back(b_.getInt64Ty());
  auto* fn = llvm::Function::Create(llvm::FunctionType::get(b_.getVoidTy(), types, false),
                                    llvm::Function::InternalLinkage, "", m_);
  fn->takeName(tmp);
  fn->addFnAttr(llvm::Attribute::AlwaysInline);
  fn->addFnAttr(llvm::Attribute::NoUnwind);
  unsigned j = 0;
  for (auto& [k, v] : placeholders_) {
    // Inputs are only read; outputs are fresh and scratch buffers are distinct allocations.
    if (k != np) fn->addParamAttr(j, llvm::Attribute::NoAlias);
    v->replaceAllUsesWith(fn->getArg(j++));
    llvm::cast<llvm::Instruction>(v)->eraseFromParent();
  }
  tmp->getArg(0)->replaceAllUsesWith(fn->getArg(j));
  tmp->getArg(1)->replaceAllUsesWith(fn->getArg(j + 1));
  fn->splice(fn->begin(), tmp);
  tmp->eraseFromParent();
  placeholders_.clear();
  return fn;
}

Status Lowerer::emit_helper(Nest& nest, int index) {
  auto* fn = llvm::Function::Create(llvm::FunctionType::get(b_.getVoidTy(), {b_.getInt64Ty(), b_.getInt64Ty()}, false),
                                    llvm::Function::InternalLinkage, fmt::format("{}.nest{}", symbol_, index), m_);
  entry_ = llvm::BasicBlock::Create(ctx_, "entry", fn);
  auto* start = llvm::BasicBlock::Create(ctx_, "start", fn);
  b_.SetInsertPoint(entry_);
  b_.CreateBr(start);
  b_.SetInsertPoint(start);
  placeholders_.clear();
  dyn_stride_.clear();
  sym_vals_.clear();
  memo_.clear();
  begin_ = fn->getArg(0);
  end_ = fn->getArg(1);
  Status st;
  switch (nest.kind) {
    case NestKind::Eval:
    case NestKind::Copy:
    case NestKind::ConcatPart: st = emit_eval(nest); break;
    case NestKind::Reduce: st = emit_reduce(nest); break;
    case NestKind::Arg: st = emit_arg(nest); break;
    case NestKind::Scan: st = emit_scan(nest); break;
    case NestKind::MatMul: st = emit_matmul(nest); break;
    case NestKind::ScatterWrite: st = emit_scatter(nest); break;
    case NestKind::Sort: st = emit_sort(nest); break;
  }
  if (!st) return st;
  b_.CreateRetVoid();
  nest.helper = finish_helper(fn, nest.args);
  return ok_status();
}

Status Lowerer::emit_kernel(std::vector<Nest>& nests, const LowerOptions& opts) {
  llc_bytes_ = opts.llc_bytes;
  for (size_t k = 0; k < nests.size(); ++k)
    if (Status s = emit_helper(nests[k], static_cast<int>(k)); !s) return s;

  // Row fusion: consecutive nests sharing an axis-0 outer loop of one extent.
  std::vector<std::vector<size_t>> groups;
  std::set<ValueId> produced;
  for (size_t k = 0; k < nests.size(); ++k) {
    const Nest& n = nests[k];
    bool joins = false;
    if (!groups.empty()) {
      const Nest& first = nests[groups.back().front()];
      joins = first.row_axis0 && n.row_axis0 && first.independent && n.independent && first.outer == n.outer &&
              (!n.outer.is_static() || n.outer.size > 1) && group_reads_ok(n, produced);
    }
    if (!joins) {
      groups.push_back({});
      produced.clear();
    }
    groups.back().push_back(k);
    if (n.kind != NestKind::Copy) produced.insert(n.v);
  }

  size_t np = g_.params.size(), nr = g_.results.size(), ns = p_.slot_bytes.size();
  llvm::Type* ptr = b_.getPtrTy();
  llvm::Type* i64 = b_.getInt64Ty();
  // Scratch liveness, in groups: a slot is live from the first group whose helpers take it to
  // the last (helpers take exactly the buffers they read or write).
  std::vector<int> first(ns, static_cast<int>(groups.size())), last(ns, -1);
  for (size_t gi = 0; gi < groups.size(); ++gi)
    for (size_t k : groups[gi])
      for (unsigned a : nests[k].args)
        if (a >= np + 1 + nr && a < sym_arg()) {
          size_t s = a - (np + 1 + nr);
          first[s] = std::min(first[s], static_cast<int>(gi));
          last[s] = std::max(last[s], static_cast<int>(gi));
        }
  // Row-local slots: produced and consumed within one row-fused group (whose nests read them
  // only at the current row), row by row. Such a slot needs one row per thread, on the group
  // body's stack, instead of the whole array: softmax's exp(x - m) stays in L1.
  constexpr int64_t kMaxRowLocalBytes = int64_t{64} << 10;
  std::vector<Mono> slot_bytes = p_.slot_bytes;
  std::vector<int64_t> row_bytes(ns, 0);
  for (size_t v = 0; v < p_.slot.size(); ++v) {
    int s = p_.slot[v];
    if (s < 0 || first[s] != last[s] || groups[static_cast<size_t>(first[s])].size() < 2) continue;
    const ir::Type& t = g_.node(static_cast<ValueId>(v)).type;
    const Nest& lead = nests[groups[static_cast<size_t>(first[s])].front()];
    if (t.shape.empty() || t.shape[0] != lead.outer) continue;
    Mono row = Mono{ir::dtype_size(t.dtype), {}};
    for (size_t a = 1; a < t.shape.size(); ++a) row = row * Mono::of(t.shape[a]);
    if (!row.is_static() || row.factor > kMaxRowLocalBytes) continue;  // a row of runtime size: whole array
    row_bytes[static_cast<size_t>(s)] = row.factor;
    slot_bytes[static_cast<size_t>(s)] = Mono{0, {}};
  }

  std::vector<llvm::Function*> bodies;
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    // External linkage: the row range stays a runtime value, as under the thread pool, instead
    // of the constants of the one direct call: that would make LLVM fully unroll and rewrite
    // every outer loop (slow to compile, no faster to run).
    auto* body = llvm::Function::Create(llvm::FunctionType::get(b_.getVoidTy(), {ptr, i64, i64}, false),
                                        llvm::Function::ExternalLinkage, fmt::format("{}.group{}", symbol_, gi), m_);
    body->addFnAttr(llvm::Attribute::NoUnwind);
    // Kept out of the kernel: each group is optimized on its own, so optimization time stays
    // linear in the number of groups (one inlined kernel of thousands of nests is not).
    body->addFnAttr(llvm::Attribute::NoInline);
    b_.SetInsertPoint(llvm::BasicBlock::Create(ctx_, "entry", body));
    // Kernel argument k (inputs, strides, outputs, scratch), loaded once in the entry block.
    // ... and sym_dims (argument sym_arg(), context entry 4).
    std::vector<Value*> kargs(np + 1 + nr + ns + 1, nullptr);
    std::vector<Value*> arrays(5, nullptr);
    auto karg = [&](unsigned k) {
      if (kargs[k]) return kargs[k];
      unsigned a = k < np ? 0 : k == np ? 1 : k < np + 1 + nr ? 2 : k < sym_arg() ? 3 : 4;
      uint64_t i = a == 0 ? k : a == 2 ? k - np - 1 : k - np - 1 - nr;
      llvm::IRBuilder<> eb(&body->getEntryBlock(), body->getEntryBlock().begin());
      if (!arrays[a]) arrays[a] = eb.CreateLoad(ptr, eb.CreateConstInBoundsGEP1_64(ptr, body->getArg(0), a));
      eb.SetInsertPoint(&body->getEntryBlock(), std::next(llvm::cast<llvm::Instruction>(arrays[a])->getIterator()));
      return kargs[k] = a == 1 || a == 4 ? arrays[a] : eb.CreateLoad(ptr, eb.CreateConstInBoundsGEP1_64(ptr, arrays[a], i));
    };
    std::map<unsigned, Value*> row_bufs;
    auto call = [&](const Nest& n, Value* lo, Value* hi) {
      std::vector<Value*> a;
      for (unsigned k : n.args) {
        int64_t rb = k >= np + 1 + nr && k < sym_arg() ? row_bytes[k - np - 1 - nr] : 0;
        if (rb == 0) {
          a.push_back(karg(k));
          continue;
        }
        Value*& buf = row_bufs[k];
        if (!buf) {
          llvm::IRBuilder<> eb(&body->getEntryBlock(), body->getEntryBlock().begin());
          auto* al = eb.CreateAlloca(llvm::ArrayType::get(b_.getInt8Ty(), static_cast<uint64_t>(rb)), nullptr, "row");
          al->setAlignment(llvm::Align(kScratchAlign));
          buf = al;
        }
        // The helper addresses row `lo` of the whole array: hand it the row buffer shifted back
        // by that many rows (a plain, not inbounds, GEP).
        a.push_back(b_.CreateGEP(b_.getInt8Ty(), buf, b_.CreateMul(lo, b_.getInt64(-rb))));
      }
      a.push_back(lo), a.push_back(hi);
      b_.CreateCall(n.helper, a);
    };
    const auto& members = groups[gi];
    if (members.size() == 1) {
      call(nests[members[0]], body->getArg(1), body->getArg(2));
    } else {
      entry_ = b_.GetInsertBlock();
      Status st = loop(body->getArg(1), body->getArg(2), "row", [&](Value* r) -> Status {
        for (size_t k : members) call(nests[k], r, b_.CreateAdd(r, b_.getInt64(1)));
        return ok_status();
      });
      if (!st) return st;
    }
    // Weakly ordered non-temporal stores become visible before the rows are reported done.
    if (std::any_of(members.begin(), members.end(), [&](size_t k) { return nests[k].streaming; }))
      b_.CreateFence(llvm::AtomicOrdering::SequentiallyConsistent);
    b_.CreateRetVoid();
    bodies.push_back(body);
  }

  // Static slots are packed now (pack_scratch); slots of runtime size get blocks after them,
  // a block reused by a later slot of the same symbols and at most its factor once dead.
  std::vector<int64_t> static_bytes(ns, 0);
  for (size_t s = 0; s < ns; ++s)
    if (slot_bytes[s].is_static()) static_bytes[s] = slot_bytes[s].factor;
  auto [slot_offset, scratch_bytes] = pack_scratch(static_bytes, first, last);
  std::vector<int> sym_block(ns, -1);
  std::vector<Mono> blocks;
  {
    std::vector<size_t> order;
    for (size_t s = 0; s < ns; ++s)
      if (!slot_bytes[s].is_static()) order.push_back(s);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return first[a] < first[b]; });
    std::vector<int> block_last;  // last group using each block
    for (size_t s : order) {
      int pick = -1;
      for (size_t bi = 0; bi < blocks.size(); ++bi)
        if (block_last[bi] < first[s] && blocks[bi].syms == slot_bytes[s].syms && blocks[bi].factor >= slot_bytes[s].factor &&
            (pick < 0 || blocks[bi].factor < blocks[static_cast<size_t>(pick)].factor))
          pick = static_cast<int>(bi);
      if (pick < 0) {
        pick = static_cast<int>(blocks.size());
        blocks.push_back(slot_bytes[s]);
        block_last.push_back(-1);
      }
      block_last[static_cast<size_t>(pick)] = last[s];
      sym_block[s] = pick;
    }
  }

  auto* kty = llvm::FunctionType::get(b_.getVoidTy(), {ptr, ptr, ptr, ptr}, false);
  auto* kernel = llvm::Function::Create(kty, llvm::Function::ExternalLinkage, symbol_, m_);
  kernel->addFnAttr(llvm::Attribute::NoUnwind);
  b_.SetInsertPoint(llvm::BasicBlock::Create(ctx_, "entry", kernel));
  // Runtime sizes at kernel level: sym_dims[k].
  std::map<int32_t, Value*> ksyms;
  auto kdim = [&](const ir::Dim& d) -> Value* {
    if (d.is_static()) return b_.getInt64(d.size);
    Value*& v = ksyms[d.sym];
    if (!v) {  // in the entry block: dominates every use
      llvm::IRBuilder<> eb(&kernel->getEntryBlock(), kernel->getEntryBlock().begin());
      v = eb.CreateLoad(i64, eb.CreateConstInBoundsGEP1_64(i64, kernel->getArg(3), static_cast<uint64_t>(d.sym)));
    }
    return v;
  };
  auto kmono = [&](const Mono& m) {
    Value* v = b_.getInt64(m.factor);
    for (int32_t k : m.syms) v = b_.CreateMul(v, kdim(ir::Dim::symbol(k)), "", true, true);
    return v;
  };
  Value* scratch = nullptr;
  auto* scr_ty = llvm::ArrayType::get(ptr, std::max<size_t>(1, ns));
  Value* scr_arr = b_.CreateAlloca(scr_ty, nullptr, "scratch");
  if (ns > 0) {
    // Block offsets: after the static slots, each block rounded up to kScratchAlign.
    std::vector<Value*> block_off;
    Value* total = b_.getInt64(scratch_bytes);
    for (const Mono& m : blocks) {
      block_off.push_back(total);
      Value* bytes = b_.CreateAnd(b_.CreateAdd(kmono(m), b_.getInt64(kScratchAlign - 1)), b_.getInt64(-kScratchAlign));
      total = b_.CreateAdd(total, bytes);
    }
    auto alloc = m_.getOrInsertFunction("tracejit_scratch_alloc", llvm::FunctionType::get(ptr, {i64, i64}, false));
    scratch = b_.CreateCall(alloc, {b_.getInt64(kScratchAlign),
                                    b_.CreateBinaryIntrinsic(llvm::Intrinsic::umax, total, b_.getInt64(kScratchAlign))});
    for (size_t s = 0; s < ns; ++s) {
      Value* at = sym_block[s] >= 0 ? b_.CreateInBoundsGEP(b_.getInt8Ty(), scratch, block_off[static_cast<size_t>(sym_block[s])])
                                    : b_.CreateConstInBoundsGEP1_64(b_.getInt8Ty(), scratch, static_cast<uint64_t>(slot_offset[s]));
      b_.CreateStore(at, b_.CreateConstInBoundsGEP2_32(scr_ty, scr_arr, 0, static_cast<unsigned>(s)));
    }
  }
  auto* ctx_ty = llvm::ArrayType::get(ptr, 5);
  Value* kctx = b_.CreateAlloca(ctx_ty, nullptr, "ctx");
  for (unsigned k = 0; k < 3; ++k) b_.CreateStore(kernel->getArg(k), b_.CreateConstInBoundsGEP2_32(ctx_ty, kctx, 0, k));
  b_.CreateStore(scr_arr, b_.CreateConstInBoundsGEP2_32(ctx_ty, kctx, 0, 3));
  b_.CreateStore(kernel->getArg(3), b_.CreateConstInBoundsGEP2_32(ctx_ty, kctx, 0, 4));
  llvm::FunctionCallee parallel_for;
  auto get_parallel_for = [&]() {
    if (!parallel_for) {
      parallel_for = m_.getOrInsertFunction("tracejit_parallel_for",
                                            llvm::FunctionType::get(b_.getVoidTy(), {ptr, ptr, i64, i64, i64}, false));
      llvm::cast<llvm::Function>(parallel_for.getCallee())->addFnAttr(llvm::Attribute::NoUnwind);
    }
    return parallel_for;
  };
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    const auto& members = groups[gi];
    ir::Dim outer_dim = nests[members[0]].outer;
    bool independent = true, static_work = true;
    int64_t work = 0;
    for (size_t k : members) {
      static_work = static_work && nests[k].work.is_static();
      if (nests[k].work.is_static()) work += nests[k].work.factor;
      independent = independent && nests[k].independent;
    }
    if (outer_dim.is_static()) {
      int64_t outer = outer_dim.size;
      if (outer <= 0) continue;
      if (static_work) {
        bool parallel = opts.parallel_min_work > 0 && work >= opts.parallel_min_work && outer > 1 && independent;
        if (!parallel) {
          b_.CreateCall(bodies[gi], {kctx, b_.getInt64(0), b_.getInt64(outer)});
          continue;
        }
        int64_t per_row = std::max<int64_t>(1, work / outer);
        int64_t grain = std::max<int64_t>(1, (int64_t{32} << 10) / per_row);
        const int64_t tile = nests[members[0]].row_tile;
        grain = (grain + tile - 1) / tile * tile;
        b_.CreateCall(get_parallel_for(), {bodies[gi], kctx, b_.getInt64(outer), b_.getInt64(grain), b_.getInt64(work)});
        continue;
      }
    }
    // Runtime sizes: the same rule, decided at run time (a symbolic outer extent is >= 2).
    Value* outer = kdim(outer_dim);
    if (opts.parallel_min_work <= 0 || !independent || (outer_dim.is_static() && outer_dim.size <= 1)) {
      b_.CreateCall(bodies[gi], {kctx, b_.getInt64(0), outer});
      continue;
    }
    Value* wv = b_.getInt64(0);
    for (size_t k : members) wv = b_.CreateAdd(wv, kmono(nests[k].work), "", true, true);
    llvm::BasicBlock* par = llvm::BasicBlock::Create(ctx_, "par", kernel);
    llvm::BasicBlock* ser = llvm::BasicBlock::Create(ctx_, "ser", kernel);
    llvm::BasicBlock* next = llvm::BasicBlock::Create(ctx_, "next", kernel);
    b_.CreateCondBr(b_.CreateICmpSGE(wv, b_.getInt64(opts.parallel_min_work)), par, ser);
    b_.SetInsertPoint(ser);
    b_.CreateCall(bodies[gi], {kctx, b_.getInt64(0), outer});
    b_.CreateBr(next);
    b_.SetInsertPoint(par);
    Value* per_row = b_.CreateBinaryIntrinsic(llvm::Intrinsic::smax, b_.CreateSDiv(wv, outer), b_.getInt64(1));
    Value* grain = b_.CreateBinaryIntrinsic(llvm::Intrinsic::smax, b_.CreateSDiv(b_.getInt64(int64_t{32} << 10), per_row), b_.getInt64(1));
    b_.CreateCall(get_parallel_for(), {bodies[gi], kctx, outer, grain, wv});
    b_.CreateBr(next);
    b_.SetInsertPoint(next);
  }
  if (scratch) {
    auto fr = m_.getOrInsertFunction("tracejit_scratch_free", llvm::FunctionType::get(b_.getVoidTy(), {ptr}, false));
    b_.CreateCall(fr, {scratch});
  }
  b_.CreateRetVoid();
  if (llvm::Function* f = m_.getFunction("tracejit.schedule.arg")) f->eraseFromParent();
  return ok_status();
}

}  // namespace

bool needs_schedule(const ir::Graph& g) {
  for (const ir::Node& n : g.nodes)
    if (n.op != Op::Param && n.op != Op::Const && !ir::has_trait(n.op, ir::kElementwise)) return true;
  return false;
}

Expected<std::unique_ptr<llvm::Module>> lower_scheduled(const ir::Graph& g, llvm::LLVMContext& ctx,
                                                        const std::string& symbol, const LowerOptions& opts) {
  for (size_t i = 0; i < g.params.size(); ++i) {
    const ir::Node& p = g.node(g.params[i]);
    if (p.op != Op::Param || p.ints.size() < 2 || p.ints[0] != static_cast<int64_t>(i))
      return Status::error(fmt::format("cpu backend: malformed param {}", i));
  }
  // A large reduction that keeps no outer axis would run on one thread: split it in chunks
  // first (ir/passes/split_reduce.h), at the size where a nest goes to the pool.
  std::optional<ir::Graph> split;
  if (opts.parallel_min_work > 0) {
    split = g;
    if (!ir::split_reductions(*split, std::max<int64_t>(1, opts.parallel_min_work / 8))) split.reset();
  }
  const ir::Graph& gs = split ? *split : g;
  auto plan = make_plan(gs);
  if (!plan) return plan.status();
  auto module = std::make_unique<llvm::Module>(symbol, ctx);
  Lowerer lw(gs, *plan, *module, symbol);
  auto nests = lw.plan_nests();
  if (!nests) return nests.status();
  if (Status s = lw.emit_kernel(*nests, opts); !s) return s;
  std::string err;
  llvm::raw_string_ostream os(err);
  if (llvm::verifyModule(*module, &os)) return Status::error("cpu backend: scheduled module is invalid: " + os.str());
  return module;
}

void for_each_schedule_host_symbol(const std::function<void(const char*, void*)>& fn) {
  // Scratch buffers come from the block pool: a large intermediate is not faulted in anew on
  // every call.
  fn("tracejit_scratch_alloc", reinterpret_cast<void*>(&scratch_alloc));
  fn("tracejit_scratch_free", reinterpret_cast<void*>(&scratch_free));
  for_each_blas_host_symbol(fn);  // cblas_sgemm / cblas_dgemm: NumPy's BLAS, gemv for vectors
  for_each_ext_libm_symbol(fn);
  for_each_sort_host_symbol(fn);  // tracejit_sort_scratch / tracejit_sort_row (sort_rt.cpp)
}

}  // namespace tracejit::backends
