// Graph construction helpers.
#include "ir/graph.h"

namespace tracejit::ir {

ValueId Graph::add_param(Type t, ParamLayout layout, SourceLoc loc) {
  Node n;
  n.op = Op::Param;
  n.type = std::move(t);
  n.ints = {static_cast<int64_t>(params.size()), static_cast<int64_t>(layout)};
  n.loc = loc;
  ValueId v = add(std::move(n));
  params.push_back(v);
  return v;
}

ValueId Graph::add_const_float(DType d, double v, SourceLoc loc) {
  Node n;
  n.op = Op::Const;
  n.type = Type::scalar(d);
  n.fval = v;
  n.loc = loc;
  return add(std::move(n));
}

ValueId Graph::add_const_int(DType d, int64_t v, SourceLoc loc) {
  Node n;
  n.op = Op::Const;
  n.type = Type::scalar(d);
  n.ints = {v};
  n.loc = loc;
  return add(std::move(n));
}

ValueId Graph::add_op(Op op, Type t, std::vector<ValueId> operands, SourceLoc loc) {
  return add_op(op, std::move(t), std::move(operands), {}, loc);
}

ValueId Graph::add_op(Op op, Type t, std::vector<ValueId> operands, std::vector<int64_t> ints, SourceLoc loc) {
  Node n;
  n.op = op;
  n.type = std::move(t);
  n.operands = std::move(operands);
  n.ints = std::move(ints);
  n.loc = loc;
  return add(std::move(n));
}

Graph& Graph::mutable_region(ValueId v, size_t r) {
  std::shared_ptr<Graph>& p = node(v).regions[r];
  if (p.use_count() > 1) p = std::make_shared<Graph>(*p);
  return *p;
}

bool Graph::has_regions() const {
  for (const Node& n : nodes)
    if (!n.regions.empty()) return true;
  return false;
}

int32_t Graph::intern_file(const std::string& file) {
  for (size_t i = 0; i < files.size(); ++i)
    if (files[i] == file) return static_cast<int32_t>(i);
  files.push_back(file);
  return static_cast<int32_t>(files.size() - 1);
}

bool Graph::has_effects() const {
  for (const Node& n : nodes) {
    if (n.op == Op::Effect) return true;
    for (const auto& r : n.regions)
      if (r && r->has_effects()) return true;
  }
  return false;
}

bool Graph::has_nonstopping_effects() const {
  for (const Node& n : nodes) {
    if (n.op == Op::Effect && !effect_stops(n)) return true;
    for (const auto& r : n.regions)
      if (r && r->has_nonstopping_effects()) return true;
  }
  return false;
}

bool has_side_effects(const Node& n) {
  if (!has_trait(n.op, kPure)) return true;
  for (const auto& r : n.regions)
    if (r && r->has_effects()) return true;
  return false;
}

}  // namespace tracejit::ir
