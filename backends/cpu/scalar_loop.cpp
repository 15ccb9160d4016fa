// Native scalar loop nests (see scalar_loop.h): the acceptance analysis (array versions, their
// single writer and the reads that must precede it) and the lowering to one function.
#include "backends/cpu/scalar_loop.h"

#include <fmt/format.h>
#include <llvm/IR/Constants.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/MDBuilder.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Support/raw_ostream.h>

#include <algorithm>
#include <map>

#include "backends/cpu/scalar_ops.h"

namespace tracejit::backends {
namespace {

using ir::DType;
using ir::Op;
using ir::ValueId;
using llvm::Value;

bool one_element(const ir::Type& t) {
  std::optional<int64_t> n = t.static_numel();
  return n && *n == 1;
}

// The acceptance analysis of one graph (a loop body, or a loop graph's top level). An array
// value is a *version* of a *family* (one buffer): a param starts a family; a dyn_update, or a
// nested loop carrying the version, makes the next version of the same family.
class Checker {
 public:
  Checker(const ir::Graph& g, std::vector<bool> writable_params)
      : g_(g), writable_params_(std::move(writable_params)), ver_(static_cast<size_t>(g.size()), -1) {}

  // Empty when accepted. `body`: results[c] is the next value of params[c + 1].
  std::string check(bool body) {
    for (ValueId v = 0; v < g_.size(); ++v)
      if (std::string why = node(v); !why.empty()) return why;
    for (const Version& x : vers_)
      if (x.writer >= 0 && x.last_read >= x.writer)
        return fail(x.last_read, fmt::format("reads an array version that %{} overwrites before it (in place would "
                                             "be wrong)", x.writer));
    if (!body) return {};
    for (size_t c = 0; c < g_.results.size(); ++c) {
      ValueId r = g_.results[c], p = g_.params[c + 1];
      if (one_element(g_.type(p))) {
        if (!one_element(g_.type(r))) return fail(r, "a one-element carried value's next value is not one element");
        continue;
      }
      int rv = ver_[static_cast<size_t>(r)], pv = ver_[static_cast<size_t>(p)];
      if (rv < 0 || vers_[static_cast<size_t>(rv)].family != vers_[static_cast<size_t>(pv)].family)
        return fail(r, fmt::format("carried array {} is not updated in place (the result is another array)", c));
      if (vers_[static_cast<size_t>(rv)].writer >= 0)
        return fail(r, fmt::format("carried array {}'s result is overwritten later in the body", c));
    }
    return {};
  }

 private:
  struct Version {
    int family = 0;
    ValueId writer = ir::kNoValue;     // the node that turns it into the next version
    ValueId last_read = ir::kNoValue;  // the last other node that reads it
  };

  std::string fail(ValueId v, const std::string& why) const {
    return fmt::format("%{} ({}) in '{}': {}", v, ir::op_name(g_.node(v).op), g_.name, why);
  }
  bool scalar(ValueId v) const { return one_element(g_.type(v)); }
  int new_version(int family) {
    vers_.push_back({family});
    return static_cast<int>(vers_.size() - 1);
  }
  void read(ValueId a, ValueId at) {
    int x = ver_[static_cast<size_t>(a)];
    if (x >= 0) vers_[static_cast<size_t>(x)].last_read = std::max(vers_[static_cast<size_t>(x)].last_read, at);
  }
  // `at` consumes array `a` into a new version of its family; returns the version or -1 (why_).
  int write(ValueId a, ValueId at) {
    Version& x = vers_[static_cast<size_t>(ver_[static_cast<size_t>(a)])];
    if (!family_writable_[static_cast<size_t>(x.family)]) {
      why_ = fail(at, "writes an array that is not carried (its buffer is not the loop's)");
      return -1;
    }
    if (x.writer >= 0) {
      why_ = fail(at, fmt::format("writes an array version %{} already wrote", x.writer));
      return -1;
    }
    x.writer = at;
    return new_version(x.family);
  }

  std::string node(ValueId v) {
    const ir::Node& n = g_.node(v);
    auto i = static_cast<size_t>(v);
    switch (n.op) {
      case Op::Param: {
        if (scalar(v)) return {};
        auto k = static_cast<size_t>(n.ints[0]);
        family_writable_.push_back(k < writable_params_.size() && writable_params_[k]);
        ver_[i] = new_version(static_cast<int>(family_writable_.size() - 1));
        return {};
      }
      case Op::Const: return {};
      case Op::DynSlice:
      case Op::Slice:
        if (!scalar(v)) return fail(v, "reads a window of more than one element");
        for (size_t k = 1; k < n.operands.size(); ++k)
          if (!scalar(n.operands[k])) return fail(v, "start is not one element");
        read(n.operands[0], v);
        return {};
      case Op::DynUpdate: {
        ValueId x = n.operands[0];
        if (!scalar(n.operands[1])) return fail(v, "writes a window of more than one element");
        for (size_t k = 2; k < n.operands.size(); ++k)
          if (!scalar(n.operands[k])) return fail(v, "start is not one element");
        if (scalar(x)) return {};  // the whole (one-element) value is replaced
        ver_[i] = write(x, v);
        return ver_[i] < 0 ? why_ : std::string();
      }
      case Op::Reshape:
      case Op::Broadcast:
        if (!scalar(v) || !scalar(n.operands[0])) return fail(v, "reshapes an array");
        return {};
      case Op::Loop: return loop(v);
      case Op::LoopResult: {
        if (scalar(v)) return {};
        auto it = loop_versions_.find({n.operands[0], n.ints[0]});
        if (it == loop_versions_.end()) return fail(v, "reads a carried array the analysis did not see");
        ver_[i] = it->second;
        return {};
      }
      default: break;
    }
    if (!ir::has_trait(n.op, ir::kElementwise)) return fail(v, "op has no native scalar form");
    if (!scalar(v)) return fail(v, "elementwise op on arrays");
    for (ValueId o : n.operands)
      if (!scalar(o)) return fail(v, "elementwise op on an array operand");
    return {};
  }

  std::string loop(ValueId v) {
    const ir::Node& n = g_.node(v);
    if (n.regions.size() != 1 || !n.regions[0] || n.ints.size() != 4) return fail(v, "malformed loop");
    const ir::Graph& body = *n.regions[0];
    auto carried = static_cast<size_t>(n.ints[1]);
    if (body.params.size() != n.operands.size() + 1 || body.results.size() != carried)
      return fail(v, "loop body does not match its operands");
    std::vector<bool> writable(body.params.size(), false);
    for (size_t j = 0; j < n.operands.size(); ++j) {
      ValueId o = n.operands[j];
      if (scalar(o)) continue;
      if (j >= carried) {
        read(o, v);
        continue;
      }
      if (std::count(n.operands.begin(), n.operands.end(), o) != 1)
        return fail(v, "an array is carried and also handed to the loop another way");
      int nv = write(o, v);
      if (nv < 0) return why_;
      loop_versions_[{v, static_cast<int64_t>(j)}] = nv;
      writable[j + 1] = true;
    }
    return Checker(body, std::move(writable)).check(true);
  }

  const ir::Graph& g_;
  std::vector<bool> writable_params_;
  std::vector<int> ver_;  // per value: its version, -1 for one-element values
  std::vector<Version> vers_;
  std::vector<bool> family_writable_;
  std::map<std::pair<ValueId, int64_t>, int> loop_versions_;  // (loop, carried k) -> version
  std::string why_;
};

// The loop node of a loop graph and its structure; a reason when `g` is not one.
std::string loop_graph_shape(const ir::Graph& g, ValueId& loop) {
  loop = ir::kNoValue;
  for (ValueId v = 0; v < g.size(); ++v) {
    const ir::Node& n = g.node(v);
    if (n.op == Op::Loop) {
      if (loop != ir::kNoValue) return "more than one loop";
      loop = v;
    } else if (n.op != Op::Param && n.op != Op::LoopResult) {
      return fmt::format("a {} outside the loop", ir::op_name(n.op));
    }
  }
  if (loop == ir::kNoValue) return "no loop";
  const ir::Node& l = g.node(loop);
  if (l.ints.size() != 4 || l.regions.size() != 1 || !l.regions[0]) return "malformed loop";
  if (l.operands.size() != g.params.size()) return "loop operands are not the params";
  for (size_t j = 0; j < l.operands.size(); ++j)
    if (l.operands[j] != g.params[j]) return "loop operands are not the params";
  auto carried = static_cast<size_t>(l.ints[1]);
  if (g.results.size() != carried) return "results are not the carried values";
  for (size_t k = 0; k < carried; ++k) {
    const ir::Node& r = g.node(g.results[k]);
    if (r.op != Op::LoopResult || r.operands[0] != loop || r.ints.size() != 1 || r.ints[0] != static_cast<int64_t>(k))
      return "results are not the carried values";
  }
  return {};
}

// ---- Lowering. ----

class Emitter {
 public:
  Emitter(llvm::IRBuilder<>& b, llvm::MDBuilder& md) : b_(b), md_(md), ctx_(b.getContext()) {}

  // One alias scope per buffer of the loop graph: carried arrays live in their own output
  // buffers and invariant arrays are only read, so accesses through different buffers never
  // conflict (two invariant inputs may share memory: both only read).
  void add_buffer(Value* base) {
    if (!domain_) domain_ = md_.createAnonymousAliasScopeDomain("tracejit.scalar_loop");
    scopes_[base] = md_.createAnonymousAliasScope(domain_);
  }

  Status graph(const ir::Graph& g, std::vector<Value*>& val) {
    std::map<ValueId, std::vector<Value*>> finals;  // nested loop -> its carried values' ends
    for (ValueId v = 0; v < g.size(); ++v) {
      const ir::Node& n = g.node(v);
      auto i = static_cast<size_t>(v);
      bool scalar = one_element(n.type);
      switch (n.op) {
        case Op::Param: continue;
        case Op::Const: {
          auto c = emit_const(b_, n);
          if (!c) return c.status();
          val[i] = *c;
          continue;
        }
        case Op::Loop: {
          auto f = loop(g, n, val);
          if (!f) return f.status();
          finals[v] = std::move(*f);
          continue;
        }
        case Op::LoopResult:
          val[i] = finals[n.operands[0]][static_cast<size_t>(n.ints[0])];
          continue;
        case Op::Reshape:
        case Op::Broadcast: val[i] = val[static_cast<size_t>(n.operands[0])]; continue;
        case Op::DynSlice:
        case Op::Slice: {
          ValueId a = n.operands[0];
          if (one_element(g.type(a))) {
            val[i] = val[static_cast<size_t>(a)];
            continue;
          }
          DType d = n.type.dtype;
          auto* ld = b_.CreateAlignedLoad(memory_type(ctx_, d), element(g, n, a, 1, val),
                                          llvm::Align(static_cast<uint64_t>(ir::dtype_size(d))));
          tag(ld, val[static_cast<size_t>(a)]);
          val[i] = from_memory(b_, ld, d);
          continue;
        }
        case Op::DynUpdate: {
          ValueId a = n.operands[0];
          Value* x = val[static_cast<size_t>(n.operands[1])];
          if (scalar) {
            val[i] = x;
            continue;
          }
          DType d = n.type.dtype;
          auto* st = b_.CreateAlignedStore(to_memory(b_, x, d), element(g, n, a, 2, val),
                                           llvm::Align(static_cast<uint64_t>(ir::dtype_size(d))));
          tag(st, val[static_cast<size_t>(a)]);
          val[i] = val[static_cast<size_t>(a)];  // the same buffer, next version
          continue;
        }
        default: break;
      }
      std::vector<Value*> args;
      std::vector<DType> dts;
      for (ValueId o : n.operands) {
        args.push_back(val[static_cast<size_t>(o)]);
        dts.push_back(g.type(o).dtype);
      }
      auto r = emit_scalar_op(b_, n, dts, args);
      if (!r) return r.status();
      val[i] = *r;
    }
    return ok_status();
  }

 private:
  // The address of the one element a window of `n` (starts from operand `first`) selects in
  // array `a`: C-contiguous, so the sum of start * stride (axes of size 1 have start 0).
  Value* element(const ir::Graph& g, const ir::Node& n, ValueId a, size_t first, const std::vector<Value*>& val) {
    const ir::Type& t = g.type(a);
    Value* off = b_.getInt64(0);
    int64_t stride = 1;
    for (size_t d = t.shape.size(); d-- > 0;) {
      int64_t len = t.shape[d].size;
      if (len != 1) {
        Value* s = n.op == Op::Slice ? static_cast<Value*>(b_.getInt64(n.ints[2 * d]))
                                     : val[static_cast<size_t>(n.operands[first + d])];
        off = b_.CreateAdd(off, b_.CreateMul(s, b_.getInt64(stride), "", true, true), "", true, true);
      }
      stride *= len;
    }
    return b_.CreateInBoundsGEP(memory_type(ctx_, t.dtype), val[static_cast<size_t>(a)], off);
  }

  void tag(llvm::Instruction* inst, Value* base) {
    auto it = scopes_.find(base);
    if (it == scopes_.end()) return;
    std::vector<llvm::Metadata*> others;
    for (const auto& [b, s] : scopes_)
      if (b != base) others.push_back(s);
    inst->setMetadata(llvm::LLVMContext::MD_alias_scope, llvm::MDNode::get(ctx_, {it->second}));
    if (!others.empty()) inst->setMetadata(llvm::LLVMContext::MD_noalias, llvm::MDNode::get(ctx_, others));
  }

  // A counted loop: 0-d carried values are phis of the header, arrays stay where they are.
  Expected<std::vector<Value*>> loop(const ir::Graph& g, const ir::Node& l, const std::vector<Value*>& val) {
    const ir::Graph& body = *l.regions[0];
    const int64_t trip = l.ints[0], start = l.ints[2], step = l.ints[3];
    const auto carried = static_cast<size_t>(l.ints[1]);
    llvm::Function* f = b_.GetInsertBlock()->getParent();
    llvm::BasicBlock* pre = b_.GetInsertBlock();
    auto* head = llvm::BasicBlock::Create(ctx_, "loop.head", f);
    auto* bb = llvm::BasicBlock::Create(ctx_, "loop.body", f);
    auto* exit = llvm::BasicBlock::Create(ctx_, "loop.exit", f);
    b_.CreateBr(head);
    b_.SetInsertPoint(head);
    llvm::PHINode* k = b_.CreatePHI(b_.getInt64Ty(), 2, "k");
    k->addIncoming(b_.getInt64(0), pre);
    std::vector<Value*> ops, ends;
    std::vector<llvm::PHINode*> phis(carried, nullptr);
    for (size_t j = 0; j < l.operands.size(); ++j) {
      Value* o = val[static_cast<size_t>(l.operands[j])];
      if (j < carried && one_element(g.type(l.operands[j]))) {
        phis[j] = b_.CreatePHI(o->getType(), 2);
        phis[j]->addIncoming(o, pre);
        o = phis[j];
      }
      ops.push_back(o);
    }
    b_.CreateCondBr(b_.CreateICmpSLT(k, b_.getInt64(trip)), bb, exit);
    b_.SetInsertPoint(bb);
    std::vector<Value*> bv(static_cast<size_t>(body.size()), nullptr);
    // start + k * step in wrapping arithmetic, as the program runner computes it.
    bv[static_cast<size_t>(body.params[0])] = b_.CreateAdd(b_.getInt64(start), b_.CreateMul(k, b_.getInt64(step)), "iv");
    for (size_t j = 0; j < ops.size(); ++j) bv[static_cast<size_t>(body.params[j + 1])] = ops[j];
    if (Status s = graph(body, bv); !s) return s;
    llvm::BasicBlock* latch = b_.GetInsertBlock();
    for (size_t c = 0; c < carried; ++c)
      if (phis[c]) phis[c]->addIncoming(bv[static_cast<size_t>(body.results[c])], latch);
    k->addIncoming(b_.CreateAdd(k, b_.getInt64(1), "", true, true), latch);
    b_.CreateBr(head);
    b_.SetInsertPoint(exit);
    for (size_t c = 0; c < carried; ++c) ends.push_back(phis[c] ? static_cast<Value*>(phis[c]) : ops[c]);
    return ends;
  }

  llvm::IRBuilder<>& b_;
  llvm::MDBuilder& md_;
  llvm::LLVMContext& ctx_;
  llvm::MDNode* domain_ = nullptr;
  std::map<Value*, llvm::MDNode*> scopes_;
};

}  // namespace

ir::Graph native_loop_graph(const ir::Graph& g, ValueId loop, const std::string& name) {
  ir::Graph lg;
  lg.name = name;
  lg.files = g.files;
  ir::Node l = g.node(loop);
  for (ValueId& o : l.operands) {
    const ir::Node& on = g.node(o);
    o = lg.add_param(on.type, on.type.rank() == 0 ? ir::ParamLayout::Scalar : ir::ParamLayout::Contiguous, on.loc);
  }
  ir::SourceLoc loc = l.loc;
  auto carried = static_cast<size_t>(l.ints[1]);
  std::vector<ir::Type> types;
  for (size_t k = 0; k < carried; ++k) types.push_back(lg.type(l.operands[k]));
  ValueId lv = lg.add(std::move(l));
  for (size_t k = 0; k < carried; ++k) {
    ValueId r = lg.add_op(Op::LoopResult, types[k], {lv}, loc);
    lg.node(r).ints = {static_cast<int64_t>(k)};
    lg.results.push_back(r);
  }
  return lg;
}

std::string scalar_loop_rejection(const ir::Graph& g) {
  ValueId loop = ir::kNoValue;
  if (std::string why = loop_graph_shape(g, loop); !why.empty()) return why;
  const ir::Node& l = g.node(loop);
  for (const ir::Node& n : g.nodes)
    if (!n.type.is_static()) return "symbolic shapes";
  std::vector<bool> writable(g.params.size(), false);
  for (size_t j = 0; j < static_cast<size_t>(l.ints[1]); ++j) writable[j] = true;  // copied into the outputs
  return Checker(g, std::move(writable)).check(false);
}

Expected<std::unique_ptr<llvm::Module>> lower_scalar_loop(const ir::Graph& g, llvm::LLVMContext& ctx,
                                                          const std::string& symbol) {
  if (std::string why = scalar_loop_rejection(g); !why.empty())
    return Status::error("cpu backend: not a native scalar loop: " + why);
  ValueId loop = ir::kNoValue;
  loop_graph_shape(g, loop);
  const auto carried = static_cast<size_t>(g.node(loop).ints[1]);

  auto module = std::make_unique<llvm::Module>(symbol, ctx);
  llvm::IRBuilder<> b(ctx);
  llvm::MDBuilder md(ctx);
  llvm::Type* ptr = b.getPtrTy();
  auto* kty = llvm::FunctionType::get(b.getVoidTy(), {ptr, ptr, ptr, ptr}, false);
  auto* kernel = llvm::Function::Create(kty, llvm::Function::ExternalLinkage, symbol, *module);
  kernel->addFnAttr(llvm::Attribute::NoUnwind);
  b.SetInsertPoint(llvm::BasicBlock::Create(ctx, "entry", kernel));
  Emitter e(b, md);
  std::vector<Value*> val(static_cast<size_t>(g.size()), nullptr), outs;
  for (size_t j = 0; j < g.params.size(); ++j) {
    const ir::Type& t = g.type(g.params[j]);
    Value* in = b.CreateLoad(ptr, b.CreateConstInBoundsGEP1_64(ptr, kernel->getArg(0), j));
    Value* buf = in;
    if (j < carried) {  // the loop works in the output buffer, from a copy of the initial value
      buf = b.CreateLoad(ptr, b.CreateConstInBoundsGEP1_64(ptr, kernel->getArg(2), j));
      outs.push_back(buf);
      if (!one_element(t)) {
        int64_t bytes = *t.static_numel() * ir::dtype_size(t.dtype);
        // The program may hand the initial value's own buffer as the output when nothing reads
        // it afterwards (a donated buffer): then there is nothing to copy.
        if (bytes > 0) {
          auto* copy = llvm::BasicBlock::Create(ctx, "copy", kernel);
          auto* done = llvm::BasicBlock::Create(ctx, "copied", kernel);
          b.CreateCondBr(b.CreateICmpNE(buf, in), copy, done);
          b.SetInsertPoint(copy);
          b.CreateMemCpy(buf, llvm::MaybeAlign(1), in, llvm::MaybeAlign(1), bytes);
          b.CreateBr(done);
          b.SetInsertPoint(done);
        }
      }
    }
    if (one_element(t)) {
      val[static_cast<size_t>(g.params[j])] = from_memory(b, b.CreateLoad(memory_type(ctx, t.dtype), in), t.dtype);
    } else {
      val[static_cast<size_t>(g.params[j])] = buf;
      e.add_buffer(buf);
    }
  }
  if (Status s = e.graph(g, val); !s) return s;
  for (size_t c = 0; c < carried; ++c) {
    ValueId r = g.results[c];
    const ir::Type& t = g.type(r);
    if (one_element(t)) b.CreateStore(to_memory(b, val[static_cast<size_t>(r)], t.dtype), outs[c]);
  }
  b.CreateRetVoid();
  std::string err;
  llvm::raw_string_ostream os(err);
  if (llvm::verifyModule(*module, &os)) return Status::error("cpu backend: scalar loop module is invalid: " + os.str());
  return module;
}

}  // namespace tracejit::backends
