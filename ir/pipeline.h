// The IR optimization pipeline: the one place that says which passes run, in what order.
#pragma once

#include "ir/graph.h"
#include "ir/status.h"

namespace tracejit::ir {

// Runs fold -> cse -> dce until nothing changes (at most a few rounds). With TRACEJIT_VERIFY=1,
// or in debug builds, the verifier runs on the input (plus a print/parse round trip) and after
// every pass; a failure names the pass. With TRACEJIT_LOG containing "ir", each pass's name,
// time and IR (or "(unchanged)") go to stderr.
Status run_pipeline(Graph& g);

}  // namespace tracejit::ir
