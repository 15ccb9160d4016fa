// Lowering of an elementwise graph to fused LLVM loop nests: broadcast strides, dimension
// coalescing, loop-invariant hoisting, per-nest range bodies and the kernel ABI wrapper that runs
// them inline or through the thread pool.
#include "backends/cpu/lower.h"

#include <fmt/format.h>
#include <llvm/IR/Constants.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Support/raw_ostream.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>

#include "backends/cpu/scalar_ops.h"

namespace tracejit::backends {
namespace {

using ir::DType;
using ir::Op;
using ir::ValueId;
using llvm::Value;

// A size known up to symbols (ir::DimProduct): factor * s<syms[0]> * s<syms[1]> * .... Sizes and
// contiguous strides of shapes with symbolic dims are such monomials, so equality (and with it
// dimension coalescing) is decided exactly at compile time; only the value is a runtime one.
using Mono = ir::DimProduct;

// Loads the runtime sizes of the symbols (sym_dims[k]) once, at the builder's insertion point
// when made (a function's entry block), so every later use is dominated by them.
class SymValues {
 public:
  SymValues(llvm::IRBuilderBase& b, const ir::Graph& g, Value* sym_dims) : b_(b) {
    int32_t n = 0;
    for (const ir::Node& node : g.nodes)
      for (const ir::Dim& d : node.type.shape) n = std::max(n, d.sym + 1);
    for (int32_t k = 0; k < n; ++k) {
      Value* p = b.CreateConstInBoundsGEP1_64(b.getInt64Ty(), sym_dims, static_cast<uint64_t>(k));
      syms_.push_back(b.CreateLoad(b.getInt64Ty(), p, fmt::format("s{}", k)));
    }
  }
  // The value of `m`: a constant when static, else a product emitted at the insertion point.
  Value* get(const Mono& m) {
    Value* v = m.factor == 1 && !m.syms.empty() ? nullptr : b_.getInt64(m.factor);
    for (int32_t k : m.syms) {
      Value* s = syms_[static_cast<size_t>(k)];
      v = v ? b_.CreateNUWMul(v, s) : s;
    }
    return v;
  }

 private:
  llvm::IRBuilderBase& b_;
  std::vector<Value*> syms_;
};

// Byte stride of one operand along one loop dimension: known now (up to symbols), or read at run
// time.
struct Stride {
  Mono value{0, {}};     // stride (bytes) when not Strided
  Value* dyn = nullptr;  // runtime stride (ParamLayout::Strided, or `value` materialized)
  bool is_zero() const { return !dyn && value.factor == 0; }
};

// One loop dimension: its trip count and the stride of every operand (params, then outputs).
struct LoopDim {
  Mono size;
  Value* dyn_size = nullptr;  // `size` materialized when symbolic
  std::vector<Stride> strides;
};

// Stride of every dimension of `param` aligned (right) against the result shape `out`.
Expected<std::vector<Stride>> param_strides(llvm::IRBuilderBase& b, const ir::Node& param,
                                            const std::vector<ir::Dim>& out, Value* strides_arg) {
  const ir::Type& t = param.type;
  auto layout = static_cast<ir::ParamLayout>(param.ints.size() > 1 ? param.ints[1] : 0);
  int rank = t.rank(), out_rank = static_cast<int>(out.size());
  if (rank > out_rank) return Status::error("cpu backend: param has higher rank than its result");
  std::vector<Stride> s(out.size());
  if (layout == ir::ParamLayout::Scalar) return s;
  Value* dims_ptr = nullptr;
  if (layout == ir::ParamLayout::Strided) {
    Value* slot = b.CreateConstInBoundsGEP1_64(b.getPtrTy(), strides_arg, static_cast<uint64_t>(param.ints[0]));
    dims_ptr = b.CreateLoad(b.getPtrTy(), slot, "strides");
  }
  Mono contiguous{ir::dtype_size(t.dtype), {}};
  for (int j = rank - 1; j >= 0; --j) {
    const ir::Dim& n = t.shape[static_cast<size_t>(j)];
    const ir::Dim& o = out[static_cast<size_t>(out_rank - rank + j)];
    // A symbol is >= 2 at run time: it never broadcasts, and equals only itself.
    bool broadcast = n == ir::Dim::fixed(1);
    if (!broadcast && n != o) return Status::error("cpu backend: param shape does not broadcast to its result");
    Stride& st = s[static_cast<size_t>(out_rank - rank + j)];
    if (!broadcast) {  // size-1 dims broadcast: stride 0
      if (dims_ptr) {
        Value* p = b.CreateConstInBoundsGEP1_64(b.getInt64Ty(), dims_ptr, static_cast<uint64_t>(j));
        st.dyn = b.CreateLoad(b.getInt64Ty(), p, fmt::format("stride{}", j));
      } else {
        st.value = contiguous;
      }
    }
    contiguous = contiguous * Mono::of(n);
  }
  return s;
}

// Drops size-1 dims and merges adjacent dims across which every operand is contiguous
// (outer stride == inner stride * inner size), so the common case is one flat loop.
std::vector<LoopDim> coalesce(const std::vector<LoopDim>& dims) {
  std::vector<LoopDim> out;
  for (const LoopDim& d : dims) {
    if (d.size == Mono{1, {}}) continue;
    if (!out.empty()) {
      LoopDim& outer = out.back();
      bool mergeable = true;
      for (size_t k = 0; k < d.strides.size() && mergeable; ++k) {
        const Stride &so = outer.strides[k], &si = d.strides[k];
        mergeable = !so.dyn && !si.dyn && so.value == si.value * d.size;
      }
      if (mergeable) {
        outer.size = outer.size * d.size;
        outer.strides = d.strides;
        continue;
      }
    }
    out.push_back(d);
  }
  return out;
}

// Relative per-element cost of an op beyond its memory traffic (1 ~ one byte streamed): only
// scalar libm calls and long-latency divisions stand out.
int64_t op_cost(const ir::Node& n) {
  bool is_float = n.type.dtype == DType::F32 || n.type.dtype == DType::F64;
  switch (n.op) {
    case Op::Exp: case Op::Log: case Op::Tanh: case Op::Sin: case Op::Cos: return 32;
    case Op::Pow: case Op::Mod: case Op::FloorDiv: return is_float ? 32 : 8;
    case Op::Div: case Op::Sqrt: return 4;
    default: return 1;
  }
}

// What the kernel wrapper needs to know about one emitted nest.
// Sizes are monomials over the symbols; the wrapper decides on threading at run time when they
// are symbolic.
struct NestShape {
  bool empty = false;          // zero-size result: the body must not be called
  Mono outer{1, {}};           // trip count of the outermost loop: the body's [begin, end) range
  Mono inner_elems{1, {}};     // elements per outer iteration
  Mono work{0, {}};            // estimated cost of the whole nest (see op_cost)
  bool streaming = false;      // has 64-byte-aligned vector stores meant to be non-temporal
};

class NestEmitter {
 public:
  NestEmitter(const ir::Graph& g, llvm::IRBuilder<>& b, std::vector<Value*> inputs, Value* strides_arg,
              std::vector<Value*> outputs, Value* sym_dims, Value* begin, Value* end, int64_t llc_bytes)
      : g_(g), b_(b), inputs_(std::move(inputs)), strides_arg_(strides_arg), outputs_(std::move(outputs)),
        sym_dims_(sym_dims), begin_(begin), end_(end), llc_bytes_(llc_bytes) {}

  // Emits the loop nest computing results `group` (indices into g.results) of shape `shape`,
  // its outermost loop running over [begin, end) (0 <= begin < end <= NestShape::outer).
  Expected<NestShape> emit(const std::vector<int>& group, const std::vector<ir::Dim>& shape);

 private:
  Status emit_node(ValueId v, const std::vector<Value*>& idx);
  Value* offset(size_t operand, const std::vector<Value*>& idx);
  Status emit_body(const std::vector<int>& group, const std::vector<Value*>& idx);
  Status emit_loops(size_t level, std::vector<Value*>& idx, const std::vector<int>& group);
  Status emit_range(Value* lo, Value* hi, const std::vector<int>& group, bool aligned);
  Status emit_streaming(const std::vector<int>& group);

  const ir::Graph& g_;
  llvm::IRBuilder<>& b_;
  std::vector<Value*> inputs_;
  Value* strides_arg_;
  std::vector<Value*> outputs_;
  Value* sym_dims_;
  Value* begin_;
  Value* end_;
  int64_t llc_bytes_;
  // Per nest state.
  std::vector<LoopDim> dims_;
  std::map<ValueId, size_t> param_operand_;  // param node -> operand slot
  std::vector<bool> needed_, invariant_;
  std::vector<Value*> vals_;
};

Value* NestEmitter::offset(size_t operand, const std::vector<Value*>& idx) {
  Value* off = nullptr;
  for (size_t d = 0; d < dims_.size(); ++d) {
    const Stride& s = dims_[d].strides[operand];
    if (s.is_zero()) continue;
    Value* term = b_.CreateMul(idx[d], s.dyn ? s.dyn : b_.getInt64(s.value.factor));
    off = off ? b_.CreateAdd(off, term) : term;
  }
  return off ? off : b_.getInt64(0);
}

Status NestEmitter::emit_node(ValueId v, const std::vector<Value*>& idx) {
  const ir::Node& n = g_.node(v);
  DType d = n.type.dtype;
  if (n.op == Op::Const) {
    auto c = emit_const(b_, n);
    if (!c) return c.status();
    vals_[static_cast<size_t>(v)] = *c;
    return ok_status();
  }
  if (n.op == Op::Param) {
    auto input = static_cast<size_t>(n.ints[0]);
    Value* ptr = b_.CreateGEP(b_.getInt8Ty(), inputs_[input], offset(param_operand_.at(v), idx));
    Value* x = b_.CreateAlignedLoad(memory_type(b_.getContext(), d), ptr, llvm::Align(1));
    vals_[static_cast<size_t>(v)] = from_memory(b_, x, d);
    return ok_status();
  }
  std::vector<Value*> args;
  std::vector<DType> arg_dtypes;
  for (ValueId o : n.operands) {
    args.push_back(vals_[static_cast<size_t>(o)]);
    arg_dtypes.push_back(g_.type(o).dtype);
  }
  auto r = emit_scalar_op(b_, n, arg_dtypes, args);
  if (!r) return r.status();
  vals_[static_cast<size_t>(v)] = *r;
  return ok_status();
}

Status NestEmitter::emit_body(const std::vector<int>& group, const std::vector<Value*>& idx) {
  for (ValueId v = 0; v < g_.size(); ++v) {
    size_t i = static_cast<size_t>(v);
    if (needed_[i] && !invariant_[i])
      if (Status s = emit_node(v, idx); !s) return s;
  }
  size_t num_params = param_operand_.size();
  for (size_t k = 0; k < group.size(); ++k) {
    auto r = static_cast<size_t>(group[k]);
    ValueId v = g_.results[r];
    DType d = g_.type(v).dtype;
    Value* ptr = b_.CreateGEP(b_.getInt8Ty(), outputs_[r], offset(num_params + k, idx));
    b_.CreateAlignedStore(to_memory(b_, vals_[static_cast<size_t>(v)], d), ptr,
                          llvm::Align(static_cast<uint64_t>(ir::dtype_size(d))));
  }
  return ok_status();
}

Status NestEmitter::emit_loops(size_t level, std::vector<Value*>& idx, const std::vector<int>& group) {
  if (level == dims_.size()) return emit_body(group, idx);
  llvm::Function* f = b_.GetInsertBlock()->getParent();
  llvm::BasicBlock* pre = b_.GetInsertBlock();
  auto* header = llvm::BasicBlock::Create(b_.getContext(), fmt::format("loop{}", level), f);
  auto* exit = llvm::BasicBlock::Create(b_.getContext(), fmt::format("done{}", level), f);
  b_.CreateBr(header);
  b_.SetInsertPoint(header);
  llvm::PHINode* i = b_.CreatePHI(b_.getInt64Ty(), 2, fmt::format("i{}", level));
  i->addIncoming(level == 0 ? begin_ : b_.getInt64(0), pre);
  idx[level] = i;
  if (Status s = emit_loops(level + 1, idx, group); !s) return s;
  // Bottom-tested: every trip count is non-zero (zero-size nests and empty ranges are never run).
  Value* next = b_.CreateAdd(i, b_.getInt64(1));
  i->addIncoming(next, b_.GetInsertBlock());
  Value* limit = level == 0 ? end_ : dims_[level].dyn_size ? dims_[level].dyn_size : b_.getInt64(dims_[level].size.factor);
  b_.CreateCondBr(b_.CreateICmpEQ(next, limit), exit, header);
  b_.SetInsertPoint(exit);
  return ok_status();
}

Expected<NestShape> NestEmitter::emit(const std::vector<int>& group, const std::vector<ir::Dim>& shape) {
  size_t nv = static_cast<size_t>(g_.size());
  needed_.assign(nv, false);
  invariant_.assign(nv, false);
  vals_.assign(nv, nullptr);
  param_operand_.clear();
  for (int r : group) needed_[static_cast<size_t>(g_.results[static_cast<size_t>(r)])] = true;
  for (size_t v = nv; v-- > 0;)
    if (needed_[v])
      for (ValueId o : g_.nodes[v].operands) needed_[static_cast<size_t>(o)] = true;

  // Strides of every operand per result dim: params first, then this group's outputs.
  SymValues syms(b_, g_, sym_dims_);
  std::vector<LoopDim> dims(shape.size());
  for (size_t d = 0; d < shape.size(); ++d) dims[d].size = Mono::of(shape[d]);
  for (ValueId v = 0; v < g_.size(); ++v) {
    const ir::Node& n = g_.node(v);
    if (!needed_[static_cast<size_t>(v)] || n.op != Op::Param) continue;
    auto s = param_strides(b_, n, shape, strides_arg_);
    if (!s) return s.status();
    size_t slot = param_operand_.size();
    param_operand_[v] = slot;
    for (size_t d = 0; d < dims.size(); ++d) dims[d].strides.push_back((*s)[d]);
  }
  for (size_t k = 0; k < group.size(); ++k) {
    Mono contiguous{ir::dtype_size(g_.type(g_.results[static_cast<size_t>(group[k])]).dtype), {}};
    for (size_t d = shape.size(); d-- > 0;) {
      dims[d].strides.push_back(Stride{contiguous, nullptr});
      contiguous = contiguous * Mono::of(shape[d]);
    }
  }
  NestShape ns;
  for (const LoopDim& d : dims)
    if (d.size.factor == 0) {  // zero-size result: nothing to compute
      ns.empty = true;
      return ns;
    }
  dims_ = coalesce(dims);
  Mono elems{1, {}};
  for (size_t d = 0; d < dims_.size(); ++d) {
    elems = elems * dims_[d].size;
    if (d == 0) ns.outer = dims_[d].size;
    else ns.inner_elems = ns.inner_elems * dims_[d].size;
  }
  // Symbolic sizes and strides become values computed once, here in the entry block.
  for (LoopDim& d : dims_) {
    if (!d.size.is_static()) d.dyn_size = syms.get(d.size);
    for (Stride& s : d.strides)
      if (!s.dyn && !s.value.is_static()) s.dyn = syms.get(s.value);
  }
  int64_t cost = 0, moved = 0;  // per element: work units, bytes read or written

  // Loop-invariant values (consts, params broadcast along every loop) are computed once up front.
  for (ValueId v = 0; v < g_.size(); ++v) {
    size_t i = static_cast<size_t>(v);
    const ir::Node& n = g_.node(v);
    if (!needed_[i]) continue;
    bool inv = true;
    if (n.op == Op::Param) {
      for (const LoopDim& d : dims_) inv = inv && d.strides[param_operand_.at(v)].is_zero();
    } else {
      for (ValueId o : n.operands) inv = inv && invariant_[static_cast<size_t>(o)];
    }
    invariant_[i] = inv;
    if (inv) {
      if (Status s = emit_node(v, std::vector<Value*>(dims_.size(), nullptr)); !s) return s;
    } else {
      cost += n.op == Op::Param ? ir::dtype_size(n.type.dtype) : op_cost(n);
      if (n.op == Op::Param) moved += ir::dtype_size(n.type.dtype);
    }
  }
  int64_t out_elem_bytes = 0;
  for (int r : group) out_elem_bytes += ir::dtype_size(g_.type(g_.results[static_cast<size_t>(r)]).dtype);
  cost += out_elem_bytes;
  moved += out_elem_bytes;
  ns.work = elems * Mono{cost, {}};
  // Non-temporal stores from this many elements on: the least count for which stream_output
  // (lower.h) holds, so that a symbolic size is decided per call by one compare.
  int64_t stream_elems = std::min((stream_min_out_bytes(llc_bytes_) + out_elem_bytes - 1) / out_elem_bytes,
                                  (stream_min_moved_bytes(llc_bytes_) + moved - 1) / moved);
  ns.streaming = dims_.size() == 1 && (!elems.is_static() || elems.factor >= stream_elems);
  std::vector<Value*> idx(dims_.size(), nullptr);
  if (!ns.streaming) {
    if (Status s = emit_loops(0, idx, group); !s) return s;
    return ns;
  }
  if (elems.is_static()) {
    if (Status s = emit_streaming(group); !s) return s;
    return ns;
  }
  // Symbolic size: stream only when this call's output is large (checked once per call).
  llvm::Function* f = b_.GetInsertBlock()->getParent();
  auto* stream = llvm::BasicBlock::Create(b_.getContext(), "stream", f);
  auto* plain = llvm::BasicBlock::Create(b_.getContext(), "plain", f);
  auto* joined = llvm::BasicBlock::Create(b_.getContext(), "joined", f);
  b_.CreateCondBr(b_.CreateICmpUGE(syms.get(elems), b_.getInt64(stream_elems)), stream, plain);
  b_.SetInsertPoint(stream);
  if (Status s = emit_streaming(group); !s) return s;
  b_.CreateBr(joined);
  b_.SetInsertPoint(plain);
  if (Status s = emit_loops(0, idx, group); !s) return s;
  b_.CreateBr(joined);
  b_.SetInsertPoint(joined);
  return ns;
}

// The flat loop over [lo, hi) if non-empty. `aligned`: every operand is rebased to element lo
// and the first output is known 64-byte aligned there (an assumption the optimizer propagates
// to the vectorized stores, which jit.cpp then makes non-temporal).
Status NestEmitter::emit_range(Value* lo, Value* hi, const std::vector<int>& group, bool aligned) {
  llvm::Function* f = b_.GetInsertBlock()->getParent();
  auto* run = llvm::BasicBlock::Create(b_.getContext(), aligned ? "main" : "peel", f);
  auto* after = llvm::BasicBlock::Create(b_.getContext(), aligned ? "main.done" : "peel.done", f);
  b_.CreateCondBr(b_.CreateICmpULT(lo, hi), run, after);
  b_.SetInsertPoint(run);
  std::vector<Value*> saved_in = inputs_, saved_out = outputs_;
  Value *saved_begin = begin_, *saved_end = end_;
  auto rebase = [&](Value* ptr, const Stride& s) {
    if (s.is_zero()) return ptr;
    return b_.CreateGEP(b_.getInt8Ty(), ptr, b_.CreateMul(lo, s.dyn ? s.dyn : b_.getInt64(s.value.factor)));
  };
  if (aligned) {
    for (const auto& [v, slot] : param_operand_) {
      auto input = static_cast<size_t>(g_.node(v).ints[0]);
      inputs_[input] = rebase(saved_in[input], dims_[0].strides[slot]);
    }
    size_t np = param_operand_.size();
    for (size_t k = 0; k < group.size(); ++k) {
      auto r = static_cast<size_t>(group[k]);
      outputs_[r] = rebase(saved_out[r], dims_[0].strides[np + k]);
    }
    const llvm::DataLayout& dl = f->getParent()->getDataLayout();
    b_.CreateAlignmentAssumption(dl, outputs_[static_cast<size_t>(group[0])], 64);
    begin_ = b_.getInt64(0);
    end_ = b_.CreateSub(hi, lo);
  } else {
    begin_ = lo, end_ = hi;
  }
  std::vector<Value*> idx(1, nullptr);
  Status st = emit_loops(0, idx, group);
  inputs_ = saved_in, outputs_ = saved_out, begin_ = saved_begin, end_ = saved_end;
  if (!st) return st;
  b_.CreateBr(after);
  b_.SetInsertPoint(after);
  return ok_status();
}

// A flat nest with a large output: a scalar peel up to the first 64-byte boundary of the first
// output, then the main loop on aligned addresses (or only the peel loop when the output is not
// even element-aligned), then a fence so the weakly ordered non-temporal stores are visible
// before the chunk is reported done.
Status NestEmitter::emit_streaming(const std::vector<int>& group) {
  auto r0 = static_cast<size_t>(group[0]);
  int64_t size = ir::dtype_size(g_.type(g_.results[r0]).dtype);
  Value* addr = b_.CreatePtrToInt(outputs_[r0], b_.getInt64Ty());
  Value* start = b_.CreateAdd(addr, b_.CreateMul(begin_, b_.getInt64(size)));
  Value* peel = b_.CreateUDiv(b_.CreateAnd(b_.CreateNeg(start), b_.getInt64(63)), b_.getInt64(size));
  Value* elem_aligned = b_.CreateICmpEQ(b_.CreateAnd(addr, b_.getInt64(size - 1)), b_.getInt64(0));
  Value* mid = b_.CreateSelect(
      elem_aligned, b_.CreateBinaryIntrinsic(llvm::Intrinsic::umin, end_, b_.CreateAdd(begin_, peel)), end_);
  Value* end = end_;
  if (Status s = emit_range(begin_, mid, group, false); !s) return s;
  if (Status s = emit_range(mid, end, group, true); !s) return s;
  b_.CreateFence(llvm::AtomicOrdering::SequentiallyConsistent);
  return ok_status();
}

// Smallest chunk, in elements, the pool hands one thread. A multiple of 64 so that chunks of a
// flat loop start on a cache line (relative to the buffers) and keep whole vector iterations.
constexpr int64_t kMinChunkElems = 4096;

// One loop nest lowered to `void body(ptr ctx, i64 begin, i64 end)`: ctx points at the kernel's
// four ABI arrays {inputs, input_strides, outputs, sym_dims}; the nest itself lives in an always-inline
// helper whose output pointers are noalias, so the body's loads of the arrays stay out of it.
struct NestBody {
  llvm::Function* fn = nullptr;
  NestShape shape;
};

Expected<NestBody> lower_nest(const ir::Graph& g, llvm::Module& m, const std::string& name,
                              const std::vector<int>& group, const std::vector<ir::Dim>& shape,
                              int64_t llc_bytes) {
  llvm::LLVMContext& ctx = m.getContext();
  llvm::IRBuilder<> b(ctx);
  llvm::Type* ptr = b.getPtrTy();
  llvm::Type* i64 = b.getInt64Ty();
  size_t np = g.params.size(), nr = g.results.size();

  // Helper: (in_0..in_{np-1}, input_strides, out_0..out_{nr-1}, sym_dims, begin, end).
  std::vector<llvm::Type*> params(np + 2 + nr, ptr);
  params.push_back(i64), params.push_back(i64);
  auto* inner = llvm::Function::Create(llvm::FunctionType::get(b.getVoidTy(), params, false),
                                       llvm::Function::InternalLinkage, name + ".nest", m);
  inner->addFnAttr(llvm::Attribute::AlwaysInline);
  inner->addFnAttr(llvm::Attribute::NoUnwind);
  for (size_t i = 0; i < np; ++i) inner->addParamAttr(static_cast<unsigned>(i), llvm::Attribute::ReadOnly);
  for (size_t k = 0; k < nr; ++k) inner->addParamAttr(static_cast<unsigned>(np + 1 + k), llvm::Attribute::NoAlias);
  b.SetInsertPoint(llvm::BasicBlock::Create(ctx, "entry", inner));
  std::vector<Value*> inputs, outputs;
  for (size_t i = 0; i < np; ++i) inputs.push_back(inner->getArg(static_cast<unsigned>(i)));
  for (size_t k = 0; k < nr; ++k) outputs.push_back(inner->getArg(static_cast<unsigned>(np + 1 + k)));
  NestEmitter emitter(g, b, inputs, inner->getArg(static_cast<unsigned>(np)), outputs,
                      inner->getArg(static_cast<unsigned>(np + 1 + nr)),
                      inner->getArg(static_cast<unsigned>(np + 2 + nr)),
                      inner->getArg(static_cast<unsigned>(np + 3 + nr)), llc_bytes);
  auto ns = emitter.emit(group, shape);
  if (!ns) return ns.status();
  b.CreateRetVoid();

  // Body: unpack ctx and call the helper.
  auto* body = llvm::Function::Create(llvm::FunctionType::get(b.getVoidTy(), {ptr, i64, i64}, false),
                                      llvm::Function::InternalLinkage, name, m);
  body->addFnAttr(llvm::Attribute::NoUnwind);
  b.SetInsertPoint(llvm::BasicBlock::Create(ctx, "entry", body));
  auto array = [&](unsigned k) {
    return b.CreateLoad(ptr, b.CreateConstInBoundsGEP1_64(ptr, body->getArg(0), k));
  };
  Value* in_arr = array(0);
  Value* strides_arr = array(1);
  Value* out_arr = array(2);
  Value* sym_arr = array(3);
  std::vector<Value*> args;
  for (size_t i = 0; i < np; ++i) args.push_back(b.CreateLoad(ptr, b.CreateConstInBoundsGEP1_64(ptr, in_arr, i)));
  args.push_back(strides_arr);
  for (size_t k = 0; k < nr; ++k) args.push_back(b.CreateLoad(ptr, b.CreateConstInBoundsGEP1_64(ptr, out_arr, k)));
  args.push_back(sym_arr);
  args.push_back(body->getArg(1)), args.push_back(body->getArg(2));
  b.CreateCall(inner, args);
  b.CreateRetVoid();
  if (ns->streaming) body->addFnAttr(kNonTemporalAttr);
  return NestBody{body, *ns};
}

}  // namespace

int64_t host_llc_bytes() noexcept {
  static const int64_t bytes = [] {
    if (const char* env = std::getenv("TRACEJIT_LLC_BYTES")) {
      char* end = nullptr;
      long long v = std::strtoll(env, &end, 10);
      if (end != env && *end == '\0' && v > 0) return static_cast<int64_t>(v);
    }
    // The largest data or unified cache cpu0 reports (the per-core L2 where L3 is absent).
    int64_t best = 0;
    for (int index = 0; index < 8; ++index) {
      std::string dir = fmt::format("/sys/devices/system/cpu/cpu0/cache/index{}/", index);
      std::ifstream type_file(dir + "type"), size_file(dir + "size");
      std::string type, size;
      if (!(type_file >> type) || !(size_file >> size)) break;
      if (type == "Instruction") continue;
      char* end = nullptr;
      long long v = std::strtoll(size.c_str(), &end, 10);
      if (end == size.c_str() || v <= 0) continue;
      if (*end == 'K') v <<= 10;
      else if (*end == 'M') v <<= 20;
      else if (*end == 'G') v <<= 30;
      best = std::max<int64_t>(best, v);
    }
    // Unknown: 32 MiB, a common server L3. Clamped to what the rule in lower.h was measured on.
    return best > 0 ? std::clamp<int64_t>(best, int64_t{1} << 20, int64_t{1} << 30) : int64_t{32} << 20;
  }();
  return bytes;
}

Expected<std::unique_ptr<llvm::Module>> lower_graph(const ir::Graph& g, llvm::LLVMContext& ctx,
                                                    const std::string& symbol, const LowerOptions& opts) {
  for (size_t i = 0; i < g.params.size(); ++i) {
    const ir::Node& p = g.node(g.params[i]);
    if (p.op != Op::Param || p.ints.size() < 2 || p.ints[0] != static_cast<int64_t>(i))
      return Status::error(fmt::format("cpu backend: malformed param {}", i));
  }

  auto module = std::make_unique<llvm::Module>(symbol, ctx);
  llvm::IRBuilder<> b(ctx);
  llvm::Type* ptr = b.getPtrTy();
  llvm::Type* i64 = b.getInt64Ty();
  size_t nr = g.results.size();

  // One nest per distinct result shape, in first-appearance order.
  std::vector<std::pair<std::vector<ir::Dim>, std::vector<int>>> groups;
  for (size_t r = 0; r < nr; ++r) {
    const auto& shape = g.type(g.results[r]).shape;
    auto it = std::find_if(groups.begin(), groups.end(), [&](const auto& e) { return e.first == shape; });
    if (it == groups.end()) groups.push_back({shape, {static_cast<int>(r)}});
    else it->second.push_back(static_cast<int>(r));
  }
  std::vector<NestBody> nests;
  for (const auto& [shape, group] : groups) {
    auto nest = lower_nest(g, *module, fmt::format("{}.body{}", symbol, nests.size()), group, shape,
                           opts.llc_bytes);
    if (!nest) return nest.status();
    nests.push_back(*nest);
  }

  // The ABI entry point: ctx = {inputs, input_strides, outputs, sym_dims}; each nest runs inline
  // (the call is inlined away) or through the pool. Host function, bound by jit.cpp
  // (backends/cpu/thread_pool.h). With symbolic sizes the choice is made per call.
  auto* kty = llvm::FunctionType::get(b.getVoidTy(), {ptr, ptr, ptr, ptr}, false);
  auto* kernel = llvm::Function::Create(kty, llvm::Function::ExternalLinkage, symbol, *module);
  kernel->addFnAttr(llvm::Attribute::NoUnwind);
  b.SetInsertPoint(llvm::BasicBlock::Create(ctx, "entry", kernel));
  auto* ctx_ty = llvm::ArrayType::get(ptr, 4);
  Value* kctx = b.CreateAlloca(ctx_ty, nullptr, "ctx");
  for (unsigned k = 0; k < 4; ++k) b.CreateStore(kernel->getArg(k), b.CreateConstInBoundsGEP2_32(ctx_ty, kctx, 0, k));
  SymValues syms(b, g, kernel->getArg(3));
  llvm::FunctionCallee parallel_for;
  auto call_parallel = [&](const NestBody& nest, Value* outer, Value* grain, Value* work) {
    if (!parallel_for) {
      parallel_for = module->getOrInsertFunction(
          "tracejit_parallel_for", llvm::FunctionType::get(b.getVoidTy(), {ptr, ptr, i64, i64, i64}, false));
      llvm::cast<llvm::Function>(parallel_for.getCallee())->addFnAttr(llvm::Attribute::NoUnwind);
    }
    b.CreateCall(parallel_for, {nest.fn, kctx, outer, grain, work});
  };
  for (const NestBody& nest : nests) {
    const NestShape& ns = nest.shape;
    if (ns.empty) continue;
    if (ns.work.is_static()) {  // every size is static
      bool parallel = opts.parallel_min_work > 0 && ns.work.factor >= opts.parallel_min_work && ns.outer.factor > 1;
      if (!parallel) {
        if (ns.streaming) kernel->addFnAttr(kNonTemporalAttr);  // the body is inlined here
        b.CreateCall(nest.fn, {kctx, b.getInt64(0), b.getInt64(ns.outer.factor)});
        continue;
      }
      int64_t inner = ns.inner_elems.factor;
      int64_t grain = std::max<int64_t>(1, (kMinChunkElems + inner - 1) / inner);
      call_parallel(nest, b.getInt64(ns.outer.factor), b.getInt64(grain), b.getInt64(ns.work.factor));
      continue;
    }
    // Symbolic sizes: the same decision, made per call.
    if (ns.streaming) kernel->addFnAttr(kNonTemporalAttr);  // the body may be inlined here
    Value* outer = syms.get(ns.outer);
    if (opts.parallel_min_work <= 0) {
      b.CreateCall(nest.fn, {kctx, b.getInt64(0), outer});
      continue;
    }
    llvm::Function* kf = kernel;
    auto* par = llvm::BasicBlock::Create(ctx, "parallel", kf);
    auto* seq = llvm::BasicBlock::Create(ctx, "inline", kf);
    auto* next = llvm::BasicBlock::Create(ctx, "next", kf);
    Value* big = b.CreateAnd(b.CreateICmpUGE(syms.get(ns.work), b.getInt64(opts.parallel_min_work)),
                             b.CreateICmpUGT(outer, b.getInt64(1)));
    b.CreateCondBr(big, par, seq);
    b.SetInsertPoint(par);
    Value* inner = syms.get(ns.inner_elems);
    Value* grain = b.CreateUDiv(b.CreateAdd(b.getInt64(kMinChunkElems - 1), inner), inner);
    grain = b.CreateBinaryIntrinsic(llvm::Intrinsic::umax, grain, b.getInt64(1));
    call_parallel(nest, outer, grain, syms.get(ns.work));
    b.CreateBr(next);
    b.SetInsertPoint(seq);
    b.CreateCall(nest.fn, {kctx, b.getInt64(0), outer});
    b.CreateBr(next);
    b.SetInsertPoint(next);
  }
  b.CreateRetVoid();

  std::string err;
  llvm::raw_string_ostream os(err);
  if (llvm::verifyModule(*module, &os))
    return Status::error("cpu backend: lowered module is invalid: " + os.str());
  return module;
}

}  // namespace tracejit::backends
