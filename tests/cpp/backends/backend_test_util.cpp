// The reference evaluator and comparison helpers shared by the backend tests.
#include "backend_test_util.h"

#include "ir/parser.h"
#include "ir/verifier.h"

#include <sstream>

namespace tracejit::backends::testing {

namespace {

template <class To, class From>
To ref_cast(From x) {
  if constexpr (std::is_same_v<To, bool>) return x != From(0);  // bool(nan) is true
  else return static_cast<To>(x);
}

}  // namespace

RefValue reference_eval(const ir::Graph& g, ir::ValueId v, const std::vector<int64_t>& out_idx,
                        const std::vector<Buffer>& inputs) {
  const ir::Node& n = g.node(v);
  DType d = n.type.dtype;
  if (n.op == Op::Const) {
    return dispatch(d, [&](auto t) {
      using T = decltype(t);
      if constexpr (std::is_floating_point_v<T>) return RefValue::of(static_cast<T>(n.fval));
      else if constexpr (std::is_same_v<T, bool>) return RefValue::of(n.ints[0] != 0);
      else return RefValue::of(static_cast<T>(static_cast<uint64_t>(n.ints[0])));
    });
  }
  if (n.op == Op::Param) {
    const Buffer& b = inputs[static_cast<size_t>(n.ints[0])];
    int64_t off = 0;
    if (static_cast<ir::ParamLayout>(n.ints[1]) != ir::ParamLayout::Scalar) {
      size_t r = static_cast<size_t>(n.type.rank()), o = out_idx.size();
      for (size_t j = 0; j < r; ++j)
        if (n.type.shape[j].size != 1) off += out_idx[o - r + j] * b.strides[j];
    }
    return dispatch(d, [&](auto t) {
      using T = decltype(t);
      T x;
      if constexpr (std::is_same_v<T, bool>) x = b.data()[off] != 0;
      else std::memcpy(&x, b.data() + off, sizeof(T));
      return RefValue::of(x);
    });
  }
  std::vector<RefValue> a;
  for (ir::ValueId o : n.operands) a.push_back(reference_eval(g, o, out_idx, inputs));
  DType ad = g.type(n.operands[0]).dtype;
  if (n.op == Op::Where) return a[0].as<bool>() ? a[1] : a[2];
  if (n.op == Op::Cast) {
    return dispatch(ad, [&](auto f) {
      using From = decltype(f);
      return dispatch(d, [&](auto t) {
        using To = decltype(t);
        return RefValue::of(ref_cast<To>(a[0].as<From>()));
      });
    });
  }
  return dispatch(ad, [&](auto t) {
    using T = decltype(t);
    if (a.size() == 1) return RefValue::of(ref_unary<T>(n.op, a[0].as<T>()));
    if (ir::has_trait(n.op, ir::kCompare)) return RefValue::of(ref_compare<T>(n.op, a[0].as<T>(), a[1].as<T>()));
    return RefValue::of(ref_binary<T>(n.op, a[0].as<T>(), a[1].as<T>()));
  });
}

std::vector<Buffer> reference(const ir::Graph& g, const std::vector<Buffer>& inputs) {
  std::vector<Buffer> outs;
  for (ir::ValueId r : g.results) {
    std::vector<int64_t> shape;
    for (const ir::Dim& d : g.type(r).shape) shape.push_back(d.size);
    Buffer b = make_buffer(g.type(r).dtype, shape);
    for (int64_t k = 0; k < b.numel(); ++k) {
      RefValue val = reference_eval(g, r, unravel(k, shape), inputs);
      dispatch(b.dtype, [&](auto t) { b.set(k, val.as<decltype(t)>()); });
    }
    outs.push_back(std::move(b));
  }
  return outs;
}

::testing::AssertionResult same_values(const Buffer& got, const Buffer& want) {
  if (got.shape != want.shape || got.dtype != want.dtype)
    return ::testing::AssertionFailure() << "shape or dtype differs";
  for (int64_t k = 0; k < got.numel(); ++k) {
    bool ok = dispatch(got.dtype, [&](auto t) {
      using T = decltype(t);
      T x = got.get<T>(k), y = want.get<T>(k);
      if constexpr (std::is_floating_point_v<T>) {
        if (std::isnan(x) && std::isnan(y)) return true;
        return std::memcmp(&x, &y, sizeof(T)) == 0;
      } else {
        return x == y;
      }
    });
    if (!ok) {
      std::ostringstream os;
      dispatch(got.dtype, [&](auto t) {
        using T = decltype(t);
        if constexpr (std::is_floating_point_v<T>)
          os << got.get<T>(k) << " vs expected " << want.get<T>(k);
        else
          os << +got.get<T>(k) << " vs expected " << +want.get<T>(k);
      });
      return ::testing::AssertionFailure() << "element " << k << " (" << ir::dtype_name(got.dtype)
                                           << "): got " << os.str();
    }
  }
  return ::testing::AssertionSuccess();
}

void check_graph(const ir::Graph& g, std::vector<Buffer> inputs) {
  auto k = compile_cpu(g);
  ASSERT_TRUE(k.ok()) << k.message();
  std::vector<Buffer> got = run_kernel(g, **k, inputs);
  std::vector<Buffer> want = reference(g, inputs);
  for (size_t r = 0; r < got.size(); ++r) EXPECT_TRUE(same_values(got[r], want[r])) << "result " << r;
}

std::string subst(std::string text, const std::map<std::string, std::string>& vars) {
  for (const auto& [k, v] : vars)
    for (size_t p = text.find(k); p != std::string::npos; p = text.find(k, p + v.size())) text.replace(p, k.size(), v);
  return text;
}

ir::Graph parse_ok(const std::string& text) {
  auto g = ir::parse(text);
  EXPECT_TRUE(g.ok()) << g.message() << "\n" << text;
  if (!g.ok()) return {};
  Status st = ir::verify(*g);
  EXPECT_TRUE(st.ok()) << st.message();
  return std::move(*g);
}

CpuCompileOptions loop_options(bool native_loops) {
  CpuCompileOptions o;
  o.cache_dir = "";
  o.native_loops = native_loops;
  return o;
}

}  // namespace tracejit::backends::testing
