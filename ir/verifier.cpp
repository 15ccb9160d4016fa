// Verifier: one check per rule of ir/ops.def, each error naming the node and showing the IR.
#include "ir/verifier.h"

#include <algorithm>

#include <fmt/format.h>

#include <bit>
#include <cmath>
#include <limits>
#include <optional>
#include <sstream>

#include "ir/printer.h"

namespace tracejit::ir {
namespace {

using Fault = std::optional<std::string>;

// The printed IR with a `>>` marker on printed line `mark` (0 is the `func` line) and a few
// lines either side, so the message alone shows what went wrong.
std::string context(const Graph& g, int mark) {
  std::vector<std::string> lines;
  std::istringstream in(print(g));
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  constexpr int kRadius = 3;
  int lo = std::max(0, mark - kRadius);
  int hi = std::min(static_cast<int>(lines.size()) - 1, mark + kRadius);
  std::string out;
  for (int i = lo; i <= hi; ++i) out += (i == mark ? ">> " : "   ") + lines[static_cast<size_t>(i)] + "\n";
  return out;
}

Status node_error(const Graph& g, ValueId v, const std::string& why) {
  return Status::error(fmt::format("verifier: {}: {}\n{}", print_node(g, v), why, context(g, v + 1)));
}

Status graph_error(const Graph& g, int line, const std::string& why) {
  return Status::error(fmt::format("verifier: {}\n{}", why, context(g, line)));
}

std::string dt(DType d) { return std::string(dtype_name(d)); }

Fault check_shape(const Type& t) {
  for (const Dim& d : t.shape) {
    if (d.is_static() && (d.size < 0 || d.sym != -1)) return fmt::format("bad static dimension {}", d.size);
    if (!d.is_static() && d.size != -1) return "symbolic dimension with a size";
  }
  return std::nullopt;
}

// Whether `axes` is a permutation of 0..rank-1.
bool is_permutation(const std::vector<int64_t>& axes, int rank) {
  if (static_cast<int>(axes.size()) != rank) return false;
  std::vector<int64_t> sorted = axes;
  std::sort(sorted.begin(), sorted.end());
  for (int d = 0; d < rank; ++d)
    if (sorted[static_cast<size_t>(d)] != d) return false;
  return true;
}

Fault check_param(const Node& n) {
  if (n.ints.size() >= 2 && n.ints[1] == static_cast<int64_t>(ParamLayout::Transposed)) {
    std::vector<int64_t> axes(n.ints.begin() + 2, n.ints.end());
    if (!is_permutation(axes, n.type.rank()) || n.type.rank() < 2)
      return "a transposed param needs ints = [index, 3, axes...] with a permutation of its axes";
    return std::nullopt;
  }
  if (n.ints.size() != 2) return "param needs ints = [index, layout]";
  if (n.ints[1] < 0 || n.ints[1] > 2) return fmt::format("bad param layout {}", n.ints[1]);
  if (n.ints[1] == static_cast<int64_t>(ParamLayout::Scalar) && !n.type.is_scalar())
    return "a scalar-layout param must be 0-d";
  return std::nullopt;
}

Fault check_const(const Node& n) {
  DType d = n.type.dtype;
  if (!n.type.is_scalar()) return "const must be 0-d";
  if (is_float(d)) {
    if (!n.ints.empty()) return "float const keeps its value in fval, not ints";
    // A float32 constant must be a float32 value; a wider double would fold differently.
    if (d == DType::F32 && !std::isnan(n.fval) && static_cast<double>(static_cast<float>(n.fval)) != n.fval)
      return fmt::format("value {} is not representable in f32", print_float(n.fval));
    return std::nullopt;
  }
  if (n.ints.size() != 1) return "integer/bool const needs exactly one int";
  int64_t v = n.ints[0];
  if (is_bool(d)) return v == 0 || v == 1 ? Fault() : Fault("bool const must be 0 or 1");
  int bits = dtype_size(d) * 8;
  if (bits == 64) return std::nullopt;  // every int64 bit pattern is a valid i64/u64
  bool fits = is_signed_int(d) ? v >= -(int64_t{1} << (bits - 1)) && v < (int64_t{1} << (bits - 1))
                               : v >= 0 && v < (int64_t{1} << bits);
  if (!fits) return fmt::format("value {} does not fit {}", v, dt(d));
  return std::nullopt;
}

// Dtype rules of ir/ops.def for elementwise ops; operands are already known to be defined.
Fault check_dtypes(const Graph& g, const Node& n) {
  auto odt = [&](size_t k) { return g.type(n.operands[k]).dtype; };
  DType r = n.type.dtype;
  if (n.op == Op::Cast) return std::nullopt;
  if (n.op == Op::Where) {
    if (odt(0) != DType::Bool) return fmt::format("where condition must be bool, not {}", dt(odt(0)));
    if (odt(1) != r || odt(2) != r)
      return fmt::format("where operands {} and {} must match the result {}", dt(odt(1)), dt(odt(2)), dt(r));
    return std::nullopt;
  }
  for (size_t k = 1; k < n.operands.size(); ++k)
    if (odt(k) != odt(0)) return fmt::format("operand dtypes differ ({} vs {})", dt(odt(0)), dt(odt(k)));
  DType in = odt(0);
  if (has_trait(n.op, kCompare)) {
    if (r != DType::Bool) return fmt::format("comparison result must be bool, not {}", dt(r));
  } else if (r != in) {
    return fmt::format("result dtype {} differs from operand dtype {}", dt(r), dt(in));
  }
  if (has_trait(n.op, kFloatOnly) && !is_float(in)) return fmt::format("{} needs float operands, not {}", op_name(n.op), dt(in));
  if (has_trait(n.op, kIntOrBool) && is_float(in))
    return fmt::format("{} needs integer or bool operands, not {}", op_name(n.op), dt(in));
  return std::nullopt;
}

Fault check_broadcast(const Graph& g, const Node& n) {
  std::vector<Dim> shape;
  for (ValueId o : n.operands) {
    auto b = broadcast_shapes(shape, g.type(o).shape);
    if (!b) return fmt::format("operand shapes do not broadcast (%{} is {})", o, to_string(g.type(o)));
    shape = std::move(*b);
  }
  if (shape != n.type.shape)
    return fmt::format("result shape {} is not the broadcast of its operands {}", to_string(n.type),
                       to_string(Type(n.type.dtype, shape)));
  return std::nullopt;
}

bool valid_axis_list(const std::vector<int64_t>& axes, int rank) {
  for (size_t i = 0; i < axes.size(); ++i) {
    if (axes[i] < 0 || axes[i] >= rank) return false;
    if (i && axes[i] <= axes[i - 1]) return false;
  }
  return true;
}

// Reductions, matmul and layout ops: attribute and shape rules from ir/ops.def.
Fault check_structural(const Graph& g, const Node& n) {
  const Type& r = n.type;
  auto in = [&](size_t i) -> const Type& { return g.type(n.operands[i]); };
  switch (n.op) {
    case Op::ReduceSum:
    case Op::ReduceProd:
    case Op::ReduceMax:
    case Op::ReduceMin:
    case Op::ReduceAny:
    case Op::ReduceAll: {
      const Type& x = in(0);
      if (!valid_axis_list(n.ints, x.rank())) return "reduction axes must be sorted, unique, in range";
      if (r.dtype != x.dtype) return "a reduction keeps its operand's dtype";
      if ((n.op == Op::ReduceAny || n.op == Op::ReduceAll) && !is_bool(x.dtype))
        return "reduce_any/all take bool";
      if ((n.op == Op::ReduceMax || n.op == Op::ReduceMin) && n.fval != 0.0 &&
          !(is_float(x.dtype) && (n.fval == 1.0 || n.fval == 2.0)))
        return "reduce_max/min: fval is 0, or 1 or 2 (the zero-tie mark) on floats";
      if (r.rank() != x.rank()) return "a reduction keeps the reduced axes with size 1";
      for (int d = 0; d < x.rank(); ++d) {
        bool reduced = std::find(n.ints.begin(), n.ints.end(), d) != n.ints.end();
        if (reduced ? r.shape[d] != Dim::fixed(1) : r.shape[d] != x.shape[d])
          return fmt::format("reduction result axis {} has the wrong size", d);
      }
      return std::nullopt;
    }
    case Op::ArgMax:
    case Op::ArgMin: {
      const Type& x = in(0);
      if (n.ints.size() != 1 || n.ints[0] < 0 || n.ints[0] >= x.rank()) return "argmax/argmin need ints = [axis]";
      if (r.dtype != DType::I64) return "argmax/argmin give i64";
      if (r.rank() != x.rank()) return "argmax/argmin keep the axis with size 1";
      for (int d = 0; d < x.rank(); ++d)
        if (d == n.ints[0] ? r.shape[d] != Dim::fixed(1) : r.shape[d] != x.shape[d])
          return "argmax/argmin result shape";
      return std::nullopt;
    }
    case Op::ScanSum:
    case Op::ScanProd: {
      const Type& x = in(0);
      if (n.ints.size() != 1 || n.ints[0] < 0 || n.ints[0] >= x.rank()) return "scan_sum/scan_prod need ints = [axis]";
      if (r != x) return "a scan keeps its operand's type";
      return std::nullopt;
    }
    case Op::Sort: {
      const Type& x = in(0);
      if (n.ints.size() < 2 || n.ints[0] < 0 || n.ints[0] > 2 || n.ints[1] < 0 || n.ints[1] > 2 ||
          (n.ints[0] != 2 && n.ints.size() != 2) || (n.ints[0] == 2 && n.ints.size() < 3))
        return "sort needs ints = [mode 0-2, kind 0-2] (mode 2: then the positions)";
      for (size_t k = 2; k < n.ints.size(); ++k) {
        const Dim& len = x.shape.empty() ? Dim::fixed(0) : x.shape.back();
        if (n.ints[k] < 0 || (len.is_static() && n.ints[k] >= len.size) || (k > 2 && n.ints[k] <= n.ints[k - 1]))
          return "sort positions must ascend within the last axis";
      }
      if (x.rank() < 1) return "sort needs rank >= 1";
      if (r.shape != x.shape) return "sort keeps its operand's shape";
      if (r.dtype != (n.ints[0] == 1 ? DType::I64 : x.dtype)) return "sort gives x's dtype (mode 0) or i64 (mode 1)";
      return std::nullopt;
    }
    case Op::MatMul: {
      const Type &a = in(0), &b = in(1);
      if (a.dtype != r.dtype || b.dtype != r.dtype) return "matmul operands must have the result dtype";
      if (a.rank() < 2 || b.rank() < 2) return "matmul operands need rank >= 2";
      if (a.shape[a.rank() - 1] != b.shape[b.rank() - 2]) return "matmul inner dimensions differ";
      std::vector<Dim> ba(a.shape.begin(), a.shape.end() - 2), bb(b.shape.begin(), b.shape.end() - 2);
      auto batch = broadcast_shapes(ba, bb);
      if (!batch) return "matmul batch dimensions do not broadcast";
      batch->push_back(a.shape[a.rank() - 2]);
      batch->push_back(b.shape[b.rank() - 1]);
      if (*batch != r.shape) return "matmul result shape";
      return std::nullopt;
    }
    case Op::Reshape: {
      if (r.dtype != in(0).dtype) return "reshape keeps the dtype";
      auto a = in(0).static_numel(), b = r.static_numel();
      if (!a || !b) {
        // Symbolic: only size-1 axes may come or go (the other axes, in order, are equal).
        std::vector<Dim> x, y;
        for (const Dim& d : in(0).shape)
          if (d != Dim::fixed(1)) x.push_back(d);
        for (const Dim& d : r.shape)
          if (d != Dim::fixed(1)) y.push_back(d);
        if (x != y) return "a reshape of symbolic dimensions may only add or drop size-1 axes";
        return std::nullopt;
      }
      if (*a != *b) return "reshape must keep the (static) element count";
      return std::nullopt;
    }
    case Op::Transpose: {
      const Type& x = in(0);
      if (r.dtype != x.dtype || static_cast<int>(n.ints.size()) != x.rank()) return "transpose needs a permutation";
      std::vector<int64_t> sorted = n.ints;
      std::sort(sorted.begin(), sorted.end());
      for (int d = 0; d < x.rank(); ++d) {
        if (sorted[static_cast<size_t>(d)] != d) return "transpose ints must be a permutation";
        if (r.shape[static_cast<size_t>(d)] != x.shape[static_cast<size_t>(n.ints[static_cast<size_t>(d)])])
          return "transpose result shape";
      }
      return std::nullopt;
    }
    case Op::Slice: {
      const Type& x = in(0);
      if (r.dtype != x.dtype || r.rank() != x.rank() || static_cast<int>(n.ints.size()) != 2 * x.rank())
        return "slice needs ints = [start, step] per axis";
      for (int d = 0; d < x.rank(); ++d) {
        int64_t start = n.ints[static_cast<size_t>(2 * d)], step = n.ints[static_cast<size_t>(2 * d + 1)];
        int64_t cnt = r.shape[static_cast<size_t>(d)].size, len = x.shape[static_cast<size_t>(d)].size;
        if (step == 0) return "slice step 0";
        if (cnt > 0 && (start < 0 || start >= len || start + (cnt - 1) * step < 0 || start + (cnt - 1) * step >= len))
          return fmt::format("slice axis {} reads out of bounds", d);
      }
      return std::nullopt;
    }
    case Op::Broadcast: {
      if (r.dtype != in(0).dtype) return "broadcast keeps the dtype";
      auto b = broadcast_shapes(in(0).shape, r.shape);
      if (!b || *b != r.shape) return "broadcast result shape";
      return std::nullopt;
    }
    case Op::Concat: {
      if (n.operands.empty() || n.ints.size() != 1) return "concat needs operands and ints = [axis]";
      int64_t axis = n.ints[0];
      if (axis < 0 || axis >= r.rank()) return "concat axis out of range";
      int64_t total = 0;
      for (size_t i = 0; i < n.operands.size(); ++i) {
        const Type& x = in(i);
        if (x.dtype != r.dtype || x.rank() != r.rank()) return "concat operands must match the result";
        for (int d = 0; d < r.rank(); ++d)
          if (d != axis && x.shape[static_cast<size_t>(d)] != r.shape[static_cast<size_t>(d)]) return "concat shapes";
        total += x.shape[static_cast<size_t>(axis)].size;
      }
      if (total != r.shape[static_cast<size_t>(axis)].size) return "concat axis size";
      return std::nullopt;
    }
    case Op::Iota:
      if (n.ints.size() != 1 || n.ints[0] < 0 || n.ints[0] >= r.rank()) return "iota needs ints = [axis]";
      return std::nullopt;
    case Op::Gather: {
      const Type &x = in(0), &idx = in(1);
      if (n.ints.size() != 2 || n.ints[1] < 0 || n.ints[1] > 2) return "gather needs ints = [axis, mode 0-2]";
      const int64_t axis = n.ints[0];
      if (axis < 0 || axis >= x.rank()) return "gather axis out of range";
      if (!is_integer(idx.dtype)) return "gather indices must be integers";
      if (r.dtype != x.dtype) return "gather keeps x's dtype";
      const Dim& len = x.shape[static_cast<size_t>(axis)];
      if (!len.is_static() || len.size == 0) return "gather axis must have a static nonzero size";
      std::vector<Dim> want(x.shape.begin(), x.shape.begin() + axis);
      want.insert(want.end(), idx.shape.begin(), idx.shape.end());
      want.insert(want.end(), x.shape.begin() + axis + 1, x.shape.end());
      if (r.shape != want) return "gather result shape";
      return std::nullopt;
    }
    case Op::Scatter: {
      const Type &x = in(0), &idx = in(1), &v = in(2);
      if (n.ints.empty() || n.ints.size() > 2 || (n.ints.size() == 2 && (n.ints[1] < 0 || n.ints[1] > 4)))
        return "scatter needs ints = [axis] or [axis, combine 0-4]";
      if (n.ints.size() == 2 && n.ints[1] != 0 && x.dtype == DType::Bool) return "scatter combines no bools";
      const int64_t axis = n.ints[0];
      if (axis < 0 || axis >= x.rank()) return "scatter axis out of range";
      if (!is_integer(idx.dtype)) return "scatter indices must be integers";
      if (r != x) return "scatter keeps x's type";
      if (v.dtype != x.dtype) return "scatter values must have x's dtype";
      const Dim& len = x.shape[static_cast<size_t>(axis)];
      if (!len.is_static() || len.size == 0) return "scatter axis must have a static nonzero size";
      if (!x.is_static() || !idx.is_static()) return "scatter needs static shapes";
      std::vector<Dim> want(x.shape.begin(), x.shape.begin() + axis);
      want.insert(want.end(), idx.shape.begin(), idx.shape.end());
      want.insert(want.end(), x.shape.begin() + axis + 1, x.shape.end());
      if (v.shape != want) return "scatter values shape";
      return std::nullopt;
    }
    case Op::DynSlice: {
      if (n.operands.empty()) return "dyn_slice needs an operand";
      const Type& x = in(0);
      if (n.operands.size() != static_cast<size_t>(x.rank()) + 1)
        return fmt::format("dyn_slice needs one start per axis ({})", x.rank());
      if (r.rank() != x.rank() || r.dtype != x.dtype) return "dyn_slice keeps the operand's rank and dtype";
      if (n.ints.size() != static_cast<size_t>(x.rank())) return "dyn_slice needs ints = [step per axis]";
      for (size_t k = 1; k < n.operands.size(); ++k)
        if (in(k) != Type::scalar(DType::I64)) return "dyn_slice starts must be i64[]";
      return std::nullopt;
    }
    case Op::DynWindow: {
      if (n.operands.empty()) return "dyn_window needs an operand";
      const Type& x = in(0);
      const auto rank = static_cast<size_t>(x.rank());
      if (n.operands.size() != 2 * rank + 1) return fmt::format("dyn_window needs a start and an extent per axis ({})", rank);
      if (r.rank() != x.rank() || r.dtype != x.dtype) return "dyn_window keeps the operand's rank and dtype";
      if (n.ints.size() != rank) return "dyn_window needs ints = [step per axis]";
      for (size_t k = 1; k < n.operands.size(); ++k)
        if (in(k) != Type::scalar(DType::I64)) return "dyn_window starts and extents must be i64[]";
      for (size_t d = 0; d < rank; ++d) {
        if (n.ints[d] == 0) return "dyn_window step 0";
        const Dim& w = r.shape[d];
        if (w.is_static() && x.shape[d].is_static() && w.size > x.shape[d].size && n.ints[d] == 1)
          return fmt::format("dyn_window axis {} is wider than the operand", d);
      }
      return std::nullopt;
    }
    case Op::DynUpdate: {
      if (n.operands.size() < 2) return "dyn_update needs operands [x, v, starts...]";
      const Type &x = in(0), &v = in(1);
      const bool runtime_extents = n.operands.size() == 2 * static_cast<size_t>(x.rank()) + 2 && x.rank() > 0;
      if (n.operands.size() != static_cast<size_t>(x.rank()) + 2 && !runtime_extents)
        return fmt::format("dyn_update needs one start per axis ({}), and one extent per axis for a runtime window", x.rank());
      if (!runtime_extents && !v.is_static()) return "dyn_update of a symbolic window needs its extents";
      if (r != x) return "dyn_update keeps its operand's type";
      if (v.dtype != x.dtype || v.rank() != x.rank()) return "dyn_update value must have the operand's dtype and rank";
      if (n.ints.size() != static_cast<size_t>(x.rank())) return "dyn_update needs ints = [step per axis]";
      for (size_t k = 2; k < n.operands.size(); ++k)
        if (in(k) != Type::scalar(DType::I64))
          return k < static_cast<size_t>(x.rank()) + 2 ? "dyn_update starts must be i64[]" : "dyn_update extents must be i64[]";
      for (int d = 0; d < x.rank(); ++d) {
        const Dim &w = v.shape[static_cast<size_t>(d)], &len = x.shape[static_cast<size_t>(d)];
        int64_t step = n.ints[static_cast<size_t>(d)];
        if (!w.is_static()) continue;  // a runtime extent (a dyn_window's symbol): in bounds by construction
        if (step == 0) return "dyn_update step 0";
        // No start can put a window wider than the axis in bounds.
        if (len.is_static() && w.size > 0 &&
            (len.size == 0 || (w.size > 1 && step == std::numeric_limits<int64_t>::min()) ||
             (w.size - 1) > (len.size - 1) / (step < 0 ? -step : step)))
          return fmt::format("dyn_update window does not fit axis {}", d);
      }
      return std::nullopt;
    }
    case Op::Loop: {
      if (n.ints.size() != 4) return "loop needs ints = [trip_count, num_carried, start, step]";
      if (n.ints[0] < 0) return "negative trip count";
      if (n.ints[1] < 0 || n.ints[1] > static_cast<int64_t>(n.operands.size()))
        return "num_carried exceeds the operands";
      if (r != Type::scalar(DType::I64)) return "a loop's own value is i64[]";
      if (n.regions.size() != 1 || !n.regions[0]) return "a loop has exactly one region (its body)";
      const Graph& body = *n.regions[0];
      if (body.params.size() != n.operands.size() + 1)
        return fmt::format("loop body takes {} params; needs the induction variable + {} operands",
                           body.params.size(), n.operands.size());
      for (ValueId p : body.params)
        if (p < 0 || p >= body.size()) return "loop body param is not defined";
      if (body.type(body.params[0]) != Type::scalar(DType::I64)) return "loop induction variable must be i64[]";
      for (size_t i = 0; i < n.operands.size(); ++i)
        if (body.type(body.params[i + 1]) != in(i))
          return fmt::format("loop body param {} is {}, its operand {}", i + 1,
                             to_string(body.type(body.params[i + 1])), to_string(in(i)));
      if (body.results.size() != static_cast<size_t>(n.ints[1]))
        return fmt::format("loop body returns {} values for {} carried", body.results.size(), n.ints[1]);
      for (size_t k = 0; k < body.results.size(); ++k) {
        ValueId res = body.results[k];
        if (res < 0 || res >= body.size()) return "loop body result is not defined";
        if (body.type(res) != in(k))
          return fmt::format("loop body result {} is {}, carried value is {}", k, to_string(body.type(res)),
                             to_string(in(k)));
      }
      return std::nullopt;
    }
    case Op::While: {
      if (n.ints.size() != 1) return "while needs ints = [num_carried]";
      if (n.operands.empty() || in(0) != Type::scalar(DType::Bool)) return "a while's first operand (its test) is bool[]";
      const int64_t nc = n.ints[0];
      if (nc < 0 || nc >= static_cast<int64_t>(n.operands.size())) return "num_carried exceeds the operands";
      if (r != Type::scalar(DType::I64)) return "a while's own value is i64[]";
      if (n.regions.size() != 1 || !n.regions[0]) return "a while has exactly one region (its body)";
      const Graph& body = *n.regions[0];
      if (body.params.size() != n.operands.size())
        return fmt::format("while body takes {} params; needs the iteration number + {} operands after the test",
                           body.params.size(), n.operands.size() - 1);
      for (ValueId p : body.params)
        if (p < 0 || p >= body.size()) return "while body param is not defined";
      if (body.type(body.params[0]) != Type::scalar(DType::I64)) return "while iteration number must be i64[]";
      for (size_t i = 1; i < n.operands.size(); ++i)
        if (body.type(body.params[i]) != in(i))
          return fmt::format("while body param {} is {}, its operand {}", i, to_string(body.type(body.params[i])),
                             to_string(in(i)));
      if (body.results.size() != static_cast<size_t>(nc) + 1)
        return fmt::format("while body returns {} values for {} carried and the test", body.results.size(), nc);
      for (ValueId res : body.results)
        if (res < 0 || res >= body.size()) return "while body result is not defined";
      for (size_t k = 0; k < static_cast<size_t>(nc); ++k)
        if (body.type(body.results[k]) != in(k + 1))
          return fmt::format("while body result {} is {}, carried value is {}", k, to_string(body.type(body.results[k])),
                             to_string(in(k + 1)));
      if (body.type(body.results.back()) != Type::scalar(DType::Bool)) return "while body's last result (its test) is not bool[]";
      return std::nullopt;
    }
    case Op::Effect: {
      if (n.ints.size() < 2 || n.ints.size() > 3 || n.ints[0] < 0 || (n.ints[1] != 0 && n.ints[1] != 1) ||
          (n.ints.size() == 3 && n.ints[2] != 1))
        return "effect needs ints = [id >= 0, has_cond 0/1] or [id, has_cond, 1] (stops)";
      if (n.ints[1] == 1 && (n.operands.empty() || in(0) != Type::scalar(DType::Bool)))
        return "an effect's condition (its first operand) is bool[]";
      if (r != Type::scalar(DType::Bool)) return "an effect's own value is bool[]";
      return std::nullopt;
    }
    case Op::LoopResult: {
      const Node& l = g.node(n.operands[0]);
      if (l.op == Op::While) {
        if (l.ints.size() != 1) return "loop_result reads a loop";
        if (n.ints.size() != 1 || n.ints[0] < 0 || n.ints[0] >= l.ints[0]) return "loop_result needs ints = [k < num_carried]";
        if (static_cast<size_t>(n.ints[0]) + 1 >= l.operands.size() || r != g.type(l.operands[static_cast<size_t>(n.ints[0]) + 1]))
          return "loop_result type differs from its carried value";
        return std::nullopt;
      }
      if (l.op != Op::Loop || l.ints.size() != 4) return "loop_result reads a loop";
      if (n.ints.size() != 1 || n.ints[0] < 0 || n.ints[0] >= l.ints[1]) return "loop_result needs ints = [k < num_carried]";
      if (static_cast<size_t>(n.ints[0]) >= l.operands.size() || r != g.type(l.operands[static_cast<size_t>(n.ints[0])]))
        return "loop_result type differs from its carried value";
      return std::nullopt;
    }
    default:
      return fmt::format("{} has no verifier rule", op_name(n.op));
  }
}

Fault check_node(const Graph& g, ValueId v) {
  const Node& n = g.node(v);
  if (static_cast<int>(n.op) >= kNumOps) return fmt::format("unknown op {}", static_cast<int>(n.op));
  if (static_cast<int>(n.type.dtype) >= kNumDTypes) return "unknown dtype";
  if (Fault f = check_shape(n.type)) return f;
  if (n.loc.file >= 0 && static_cast<size_t>(n.loc.file) >= g.files.size())
    return fmt::format("loc names file #{} but the graph has {} files", n.loc.file, g.files.size());
  int arity = op_arity(n.op);
  if (arity >= 0 && static_cast<int>(n.operands.size()) != arity)
    return fmt::format("{} takes {} operands, not {}", op_name(n.op), arity, n.operands.size());
  for (ValueId o : n.operands) {
    if (o < 0 || o >= g.size()) return fmt::format("operand %{} is not defined", o);
    if (o >= v) return fmt::format("operand %{} is used before it is defined", o);
  }
  if (n.op == Op::Param) return check_param(n);
  if (n.op == Op::Const) return check_const(n);
  if (!n.regions.empty() && !has_trait(n.op, kRegion)) return fmt::format("{} has no regions", op_name(n.op));
  if (!has_trait(n.op, kElementwise)) return check_structural(g, n);
  // ints = [1] on integer add/sub/mul/neg/abs: NumPy scalar arithmetic (ir/graph.h).
  const bool scalar_math = checks_scalar_overflow(n) && is_integer(n.type.dtype) && !is_bool(n.type.dtype);
  if (is_c_order_copy(n) && g.type(n.operands[0]) != n.type) return "a C-order copy (cast ints = [1]) keeps its type";
  if (!n.ints.empty() && !scalar_math && !is_c_order_copy(n))
    return fmt::format("{} takes no integer attributes", op_name(n.op));
  if (has_trait(n.op, kElementwise)) {
    if (Fault f = check_dtypes(g, n)) return f;
    if (Fault f = check_broadcast(g, n)) return f;
  }
  return std::nullopt;
}

Status check_params(const Graph& g) {
  std::vector<int> listed(static_cast<size_t>(g.size()), 0);
  for (size_t k = 0; k < g.params.size(); ++k) {
    ValueId p = g.params[k];
    if (p < 0 || p >= g.size()) return graph_error(g, 0, fmt::format("params[{}] = %{} is not defined", k, p));
    const Node& n = g.node(p);
    if (n.op != Op::Param) return node_error(g, p, fmt::format("params[{}] is not a param node", k));
    if (n.ints.empty() || n.ints[0] != static_cast<int64_t>(k))
      return node_error(g, p, fmt::format("param is listed at position {} but has another index", k));
    if (listed[static_cast<size_t>(p)]++) return node_error(g, p, "param is listed twice");
  }
  for (ValueId v = 0; v < g.size(); ++v)
    if (g.node(v).op == Op::Param && !listed[static_cast<size_t>(v)])
      return node_error(g, v, "param node is missing from the function's parameter list");
  if (!g.result_axes.empty()) {
    if (g.result_axes.size() != g.results.size())
      return graph_error(g, 0, fmt::format("{} result layouts for {} results", g.result_axes.size(), g.results.size()));
    for (size_t k = 0; k < g.results.size(); ++k) {
      const std::vector<int64_t>& axes = g.result_axes[k];
      ValueId r = g.results[k];
      if (!axes.empty() && r >= 0 && r < g.size() && !is_permutation(axes, g.type(r).rank()))
        return graph_error(g, 0, fmt::format("result {}: its layout is not a permutation of its axes", k));
    }
  }
  return ok_status();
}

}  // namespace

Status verify(const Graph& g) {
  for (ValueId v = 0; v < g.size(); ++v) {
    if (Fault f = check_node(g, v)) return node_error(g, v, *f);
    for (const auto& r : g.node(v).regions)
      if (Status st = verify(*r); !st.ok())
        return node_error(g, v, "in its region: " + st.message());
  }
  if (Status st = check_params(g); !st.ok()) return st;
  for (size_t k = 0; k < g.results.size(); ++k) {
    ValueId r = g.results[k];
    if (r < 0 || r >= g.size())
      return graph_error(g, g.size() + 1, fmt::format("result {} (%{}) is not defined", k, r));
  }
  return ok_status();
}

}  // namespace tracejit::ir
