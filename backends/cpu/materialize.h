// Internal: the scheduler's materialization rule, which inline values get buffers of their own.
#pragma once

#include <vector>

#include "ir/graph.h"

namespace tracejit::backends {

// Inline-cost weights and the bound of the rule below.
inline constexpr int kInlineCostBound = 4;  // a value this cheap may be recomputed at every use
inline constexpr int kTranscendentalCost = 8;

// Cost of evaluating `v` inline: each op of its DAG up to buffered values once, transcendentals
// weighted kTranscendentalCost; saturates above `bound`.
int inline_cost(const ir::Graph& g, const std::vector<bool>& buffered, ir::ValueId v, int bound);

// Decides which inline values to materialize, given `needed` and the structural `buffered` set
// (params, reductions, matmul, concat, results...; every buffered non-param value is the root of
// loop nests, a concat one per operand). An inline value is evaluated once per *site*: a (nest,
// chain of view ops) pair through which a nest reads it; two reads at the same site share one
// evaluation (the lowerer memoizes them), reads through different views or from different nests
// do not. The rule: materialize an elementwise value (or an inline concat) that has more than one site and whose
// inline expression (ops up to buffered values, each counted once, transcendentals weighted
// kTranscendentalCost) costs more than kInlineCostBound. Everything cheap or single-site stays
// fused, so every inline expression is evaluated at most once per site and per-nest code is
// bounded: no recomputation blow-up across unrolled steps. Returns `buffered` with the
// materialized values added.
std::vector<bool> materialize_shared(const ir::Graph& g, const std::vector<bool>& needed,
                                     std::vector<bool> buffered);

}  // namespace tracejit::backends
