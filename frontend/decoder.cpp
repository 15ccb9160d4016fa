// Bytecode decoding without Python: raw instructions as `dis` lists them, then the canonical set.
#include "frontend/decoder.h"

#include <fmt/format.h>

#include <array>
#include <iterator>
#include <string_view>
#include <unordered_map>

namespace tracejit::frontend {

std::string_view cop_name(COp op) {
  static constexpr std::string_view kNames[] = {
#define CANON(e) #e,
#include "frontend/canonical.def"
#undef CANON
  };
  const auto i = static_cast<size_t>(op);
  return i < std::size(kNames) ? kNames[i] : std::string_view("<bad COp>");
}

Expected<std::vector<RawInstruction>> decode_raw_bytes(const uint8_t* code, size_t n,
                                                        const OpcodeTable& table) {
  if (n % 2 != 0) return Status::error(fmt::format("bytecode length {} is odd", n));
  if (n > (size_t{1} << 30)) return Status::error(fmt::format("bytecode too long ({})", n));
  const int extended_arg_op = table.find("EXTENDED_ARG");
  std::vector<RawInstruction> out;
  out.reserve(n / 2);
  uint32_t extended = 0;  // unsigned: dis wraps oversized prefixes into a signed int
  for (size_t i = 0; i < n;) {
    const uint8_t op = code[i];
    const OpcodeInfo& info = table.ops[op];
    if (info.name.empty()) {
      return Status::error(fmt::format("unknown opcode {} at offset {}", op, i));
    }
    RawInstruction r;
    r.offset = static_cast<int32_t>(i);
    r.opcode = op;
    r.opname = info.name;
    if (info.has_arg) {
      const uint32_t arg = code[i + 1] | extended;
      r.arg = static_cast<int32_t>(arg);
      extended = op == extended_arg_op ? arg << 8 : 0;
    } else {
      r.arg = 0;
      extended = 0;
    }
    if (info.jrel) {
      const int64_t delta = info.backward ? -int64_t{r.arg} : int64_t{r.arg};
      r.jump_target = static_cast<int32_t>(int64_t{r.offset} + 2 + 2 * int64_t{info.caches} +
                                           2 * delta);
    } else if (info.jabs) {
      r.jump_target = static_cast<int32_t>(2 * int64_t{r.arg});
    }
    out.push_back(r);
    i += 2 + 2 * size_t{info.caches};
  }
  return out;
}

namespace {

// How one raw opcode family becomes canonical instructions (one handler per family below).
enum class Family : uint8_t {
  Simple,        // one canonical op, same arg (jump targets carried over)
  NoArg,         // one canonical op, arg 0
  Elided,        // emits nothing
  PopTop,        // elided right after a 3.13 END_FOR, else PopTop
  EndFor,        // elided (FOR_ITER exits past it)
  LoadGlobal,    // name = arg >> 1, bit 0 = explicit PushNull (before: 3.11/3.12, after: 3.13)
  LoadAttr,      // 3.12+: name = arg >> 1, bit 0 = LoadMethod; 3.11: name = arg
  CompareOp,     // cmp = arg (3.11), arg >> 4 (3.12), arg >> 5 (3.13, bit 16 -> ToBool)
  KwNames,       // 3.11/3.12 -> LoadConst; the next CALL becomes CallKw
  Call,          // Call, or CallKw after KW_NAMES
  ReturnConst,   // LoadConst; ReturnValue
  BinarySlice,   // BuildSlice 2; BinarySubscr
  StoreSlice,    // BuildSlice 2; StoreSubscr
  Intrinsic1,    // 5 -> UnaryPositive, 6 -> ListToTuple, else Unsupported
  FusedFast,     // 3.13 LOAD_FAST_LOAD_FAST & co: two ops, args arg >> 4 then arg & 15
};

struct Rule {
  std::string_view name;
  Family family;
  COp op = COp::Unsupported;   // Simple / NoArg: the op; FusedFast: the first op
  COp op2 = COp::Unsupported;  // FusedFast: the second op
};

constexpr Rule kRules[] = {
    {"RESUME", Family::Elided},
    {"CACHE", Family::Elided},
    {"NOP", Family::Elided},
    {"EXTENDED_ARG", Family::Elided},
    {"PRECALL", Family::Elided},
    {"NOT_TAKEN", Family::Elided},
    {"POP_TOP", Family::PopTop},
    {"END_FOR", Family::EndFor},
    {"PUSH_NULL", Family::NoArg, COp::PushNull},
    {"COPY", Family::Simple, COp::Copy},
    {"SWAP", Family::Simple, COp::Swap},
    {"LOAD_FAST", Family::Simple, COp::LoadFast},
    {"LOAD_FAST_CHECK", Family::Simple, COp::LoadFast},
    {"LOAD_FAST_AND_CLEAR", Family::Simple, COp::LoadFastAndClear},
    {"STORE_FAST", Family::Simple, COp::StoreFast},
    {"DELETE_FAST", Family::Simple, COp::DeleteFast},
    {"LOAD_FAST_LOAD_FAST", Family::FusedFast, COp::LoadFast, COp::LoadFast},
    {"STORE_FAST_LOAD_FAST", Family::FusedFast, COp::StoreFast, COp::LoadFast},
    {"STORE_FAST_STORE_FAST", Family::FusedFast, COp::StoreFast, COp::StoreFast},
    {"LOAD_CONST", Family::Simple, COp::LoadConst},
    {"LOAD_GLOBAL", Family::LoadGlobal},
    {"LOAD_NAME", Family::Simple, COp::LoadName},
    {"STORE_GLOBAL", Family::Simple, COp::StoreGlobal},
    {"LOAD_ATTR", Family::LoadAttr},
    {"LOAD_METHOD", Family::Simple, COp::LoadMethod},
    {"STORE_ATTR", Family::Simple, COp::StoreAttr},
    {"LOAD_DEREF", Family::Simple, COp::LoadDeref},
    {"STORE_DEREF", Family::Simple, COp::StoreDeref},
    {"DELETE_DEREF", Family::Simple, COp::DeleteDeref},
    {"LOAD_CLOSURE", Family::Simple, COp::LoadClosure},
    {"MAKE_CELL", Family::Simple, COp::MakeCell},
    {"COPY_FREE_VARS", Family::Simple, COp::CopyFreeVars},
    {"KW_NAMES", Family::KwNames},
    {"CALL", Family::Call},
    {"CALL_KW", Family::Simple, COp::CallKw},
    {"CALL_FUNCTION_EX", Family::Simple, COp::CallFunctionEx},
    {"BINARY_OP", Family::Simple, COp::BinaryOp},
    {"COMPARE_OP", Family::CompareOp},
    {"IS_OP", Family::Simple, COp::IsOp},
    {"CONTAINS_OP", Family::Simple, COp::ContainsOp},
    {"UNARY_NEGATIVE", Family::NoArg, COp::UnaryNegative},
    {"UNARY_NOT", Family::NoArg, COp::UnaryNot},
    {"UNARY_INVERT", Family::NoArg, COp::UnaryInvert},
    {"UNARY_POSITIVE", Family::NoArg, COp::UnaryPositive},
    {"TO_BOOL", Family::NoArg, COp::ToBool},
    {"BINARY_SUBSCR", Family::NoArg, COp::BinarySubscr},
    {"STORE_SUBSCR", Family::NoArg, COp::StoreSubscr},
    {"DELETE_SUBSCR", Family::NoArg, COp::DeleteSubscr},
    {"BINARY_SLICE", Family::BinarySlice},
    {"STORE_SLICE", Family::StoreSlice},
    {"BUILD_TUPLE", Family::Simple, COp::BuildTuple},
    {"BUILD_LIST", Family::Simple, COp::BuildList},
    {"BUILD_SET", Family::Simple, COp::BuildSet},
    {"BUILD_MAP", Family::Simple, COp::BuildMap},
    {"BUILD_CONST_KEY_MAP", Family::Simple, COp::BuildConstKeyMap},
    {"BUILD_SLICE", Family::Simple, COp::BuildSlice},
    {"BUILD_STRING", Family::Simple, COp::BuildString},
    {"LIST_APPEND", Family::Simple, COp::ListAppend},
    {"LIST_EXTEND", Family::Simple, COp::ListExtend},
    {"SET_ADD", Family::Simple, COp::SetAdd},
    {"MAP_ADD", Family::Simple, COp::MapAdd},
    {"DICT_UPDATE", Family::Simple, COp::DictUpdate},
    {"DICT_MERGE", Family::Simple, COp::DictMerge},
    {"LIST_TO_TUPLE", Family::NoArg, COp::ListToTuple},
    {"CALL_INTRINSIC_1", Family::Intrinsic1},
    {"UNPACK_SEQUENCE", Family::Simple, COp::UnpackSequence},
    {"UNPACK_EX", Family::Simple, COp::UnpackEx},
    {"GET_ITER", Family::NoArg, COp::GetIter},
    {"FOR_ITER", Family::Simple, COp::ForIter},
    {"JUMP_FORWARD", Family::Simple, COp::Jump},
    {"JUMP_BACKWARD", Family::Simple, COp::Jump},
    {"JUMP_BACKWARD_NO_INTERRUPT", Family::Simple, COp::Jump},
    {"POP_JUMP_IF_FALSE", Family::Simple, COp::PopJumpIfFalse},
    {"POP_JUMP_IF_TRUE", Family::Simple, COp::PopJumpIfTrue},
    {"POP_JUMP_IF_NONE", Family::Simple, COp::PopJumpIfNone},
    {"POP_JUMP_IF_NOT_NONE", Family::Simple, COp::PopJumpIfNotNone},
    {"POP_JUMP_FORWARD_IF_FALSE", Family::Simple, COp::PopJumpIfFalse},
    {"POP_JUMP_FORWARD_IF_TRUE", Family::Simple, COp::PopJumpIfTrue},
    {"POP_JUMP_FORWARD_IF_NONE", Family::Simple, COp::PopJumpIfNone},
    {"POP_JUMP_FORWARD_IF_NOT_NONE", Family::Simple, COp::PopJumpIfNotNone},
    {"POP_JUMP_BACKWARD_IF_FALSE", Family::Simple, COp::PopJumpIfFalse},
    {"POP_JUMP_BACKWARD_IF_TRUE", Family::Simple, COp::PopJumpIfTrue},
    {"POP_JUMP_BACKWARD_IF_NONE", Family::Simple, COp::PopJumpIfNone},
    {"POP_JUMP_BACKWARD_IF_NOT_NONE", Family::Simple, COp::PopJumpIfNotNone},
    {"JUMP_IF_FALSE_OR_POP", Family::Simple, COp::JumpIfFalseOrPop},
    {"JUMP_IF_TRUE_OR_POP", Family::Simple, COp::JumpIfTrueOrPop},
    {"RETURN_VALUE", Family::NoArg, COp::ReturnValue},
    {"RETURN_CONST", Family::ReturnConst},
    {"MAKE_FUNCTION", Family::Simple, COp::MakeFunction},
    {"SET_FUNCTION_ATTRIBUTE", Family::Simple, COp::SetFunctionAttribute},
    {"RAISE_VARARGS", Family::Simple, COp::RaiseVarargs},
    {"LOAD_ASSERTION_ERROR", Family::NoArg, COp::LoadAssertionError},
    {"FORMAT_VALUE", Family::Simple, COp::FormatValue},
    {"FORMAT_SIMPLE", Family::NoArg, COp::FormatValue},
    {"CONVERT_VALUE", Family::Simple, COp::ConvertValue},
};

constexpr int32_t kFormatHasSpec = 4;         // FORMAT_VALUE flag: a format spec is on top
constexpr int32_t kIntrinsicUnaryPositive = 5;
constexpr int32_t kIntrinsicListToTuple = 6;
constexpr int32_t kCompareToBoolBit = 16;     // 3.13 COMPARE_OP

const Rule* find_rule(std::string_view name) {
  static const auto* by_name = [] {
    auto* m = new std::unordered_map<std::string_view, const Rule*>();
    for (const Rule& r : kRules) m->emplace(r.name, &r);
    return m;
  }();
  auto it = by_name->find(name);
  return it == by_name->end() ? nullptr : it->second;
}

class Canonicalizer {
 public:
  explicit Canonicalizer(const OpcodeTable& table) : table_(table) {
    for (size_t i = 0; i < rules_.size(); ++i) rules_[i] = find_rule(table.ops[i].name);
  }

  Expected<std::vector<Instruction>> run(const std::vector<RawInstruction>& raw, size_t code_size);

 private:
  void handle(const RawInstruction& r, bool after_end_for);
  void emit(COp op, int32_t arg, const RawInstruction& r);
  void unsupported(const RawInstruction& r) { emit(COp::Unsupported, r.opcode, r); }
  void on_load_global(const RawInstruction& r);
  void on_load_attr(const RawInstruction& r);
  void on_compare_op(const RawInstruction& r);
  void on_call(const RawInstruction& r);
  void on_intrinsic_1(const RawInstruction& r);
  void on_fused_fast(const Rule& rule, const RawInstruction& r);

  const OpcodeTable& table_;
  std::array<const Rule*, 256> rules_{};
  std::vector<Instruction> out_;
  std::vector<size_t> jumps_;       // indices into out_ whose target is still a byte offset
  bool pending_kw_names_ = false;  // 3.11/3.12: KW_NAMES seen, the next CALL is CallKw
};

void Canonicalizer::emit(COp op, int32_t arg, const RawInstruction& r) {
  Instruction ins;
  ins.op = op;
  const OpcodeInfo& info = table_.ops[static_cast<uint8_t>(r.opcode)];
  const bool jump = info.jrel || info.jabs;
  // A jump's meaning is its target; the raw delta would only mislead.
  ins.arg = jump && op != COp::Unsupported ? 0 : arg;
  if (jump) {
    ins.target = r.jump_target;  // a byte offset (maybe junk) until run() resolves it
    jumps_.push_back(out_.size());
  }
  ins.offset = r.offset;
  ins.line = r.line;
  ins.raw_name = r.opname;
  out_.push_back(ins);
}

void Canonicalizer::on_load_global(const RawInstruction& r) {
  const bool null = (r.arg & 1) != 0;
  const bool null_after = table_.at_least(13);
  if (null && !null_after) emit(COp::PushNull, 0, r);
  emit(COp::LoadGlobal, r.arg >> 1, r);
  if (null && null_after) emit(COp::PushNull, 0, r);
}

void Canonicalizer::on_load_attr(const RawInstruction& r) {
  if (!table_.at_least(12)) return emit(COp::LoadAttr, r.arg, r);
  emit((r.arg & 1) ? COp::LoadMethod : COp::LoadAttr, r.arg >> 1, r);
}

void Canonicalizer::on_compare_op(const RawInstruction& r) {
  const int shift = table_.at_least(13) ? 5 : table_.at_least(12) ? 4 : 0;
  emit(COp::CompareOp, r.arg >> shift, r);
  if (table_.at_least(13) && (r.arg & kCompareToBoolBit)) emit(COp::ToBool, 0, r);
}

void Canonicalizer::on_call(const RawInstruction& r) {
  emit(pending_kw_names_ ? COp::CallKw : COp::Call, r.arg, r);
  pending_kw_names_ = false;
}

void Canonicalizer::on_intrinsic_1(const RawInstruction& r) {
  if (r.arg == kIntrinsicUnaryPositive) return emit(COp::UnaryPositive, 0, r);
  if (r.arg == kIntrinsicListToTuple) return emit(COp::ListToTuple, 0, r);
  unsupported(r);
}

void Canonicalizer::on_fused_fast(const Rule& rule, const RawInstruction& r) {
  emit(rule.op, r.arg >> 4, r);
  emit(rule.op2, r.arg & 15, r);
}

void Canonicalizer::handle(const RawInstruction& r, bool after_end_for) {
  const Rule* rule = rules_[static_cast<uint8_t>(r.opcode)];
  if (rule == nullptr) {
    if (r.opname == "FORMAT_WITH_SPEC") return emit(COp::FormatValue, kFormatHasSpec, r);
    return unsupported(r);
  }
  switch (rule->family) {
    case Family::Simple: return emit(rule->op, r.arg, r);
    case Family::NoArg: return emit(rule->op, 0, r);
    case Family::Elided: return;
    case Family::EndFor: return;
    case Family::PopTop:
      if (after_end_for) return;  // 3.13: END_FOR; POP_TOP is the loop exit FOR_ITER skips
      return emit(COp::PopTop, 0, r);
    case Family::LoadGlobal: return on_load_global(r);
    case Family::LoadAttr: return on_load_attr(r);
    case Family::CompareOp: return on_compare_op(r);
    case Family::KwNames:
      pending_kw_names_ = true;
      return emit(COp::LoadConst, r.arg, r);
    case Family::Call: return on_call(r);
    case Family::ReturnConst:
      emit(COp::LoadConst, r.arg, r);
      return emit(COp::ReturnValue, 0, r);
    case Family::BinarySlice:
      emit(COp::BuildSlice, 2, r);
      return emit(COp::BinarySubscr, 0, r);
    case Family::StoreSlice:
      emit(COp::BuildSlice, 2, r);
      return emit(COp::StoreSubscr, 0, r);
    case Family::Intrinsic1: return on_intrinsic_1(r);
    case Family::FusedFast: return on_fused_fast(*rule, r);
  }
  unsupported(r);
}

Expected<std::vector<Instruction>> Canonicalizer::run(const std::vector<RawInstruction>& raw,
                                                      size_t code_size) {
  std::vector<int32_t> index_at(code_size / 2, -1);  // by offset / 2
  out_.clear();
  jumps_.clear();
  out_.reserve(raw.size() + raw.size() / 4);
  const bool end_for_pops_twice = table_.at_least(13);
  bool after_end_for = false;
  for (const RawInstruction& r : raw) {
    if (r.offset < 0 || static_cast<size_t>(r.offset) >= code_size || r.offset % 2 != 0) {
      return Status::error(fmt::format("raw instruction at bad offset {}", r.offset));
    }
    index_at[r.offset / 2] = static_cast<int32_t>(out_.size());
    handle(r, after_end_for);
    after_end_for = end_for_pops_twice && r.opname == "END_FOR";
  }
  // Jump targets: byte offset -> index of the first canonical instruction emitted at or after
  // it (a target on an elided instruction such as END_FOR lands on the next emitted one); a
  // target past the last emitted instruction is an error.
  for (size_t j : jumps_) {
    Instruction& ins = out_[j];
    const int32_t t = ins.target;
    if (t < 0 || t % 2 != 0 || static_cast<size_t>(t) >= code_size || index_at[t / 2] < 0 ||
        static_cast<size_t>(index_at[t / 2]) >= out_.size()) {
      return Status::error(fmt::format("{} at offset {} jumps to {}, not an instruction",
                                       ins.raw_name, ins.offset, t));
    }
    ins.target = index_at[t / 2];
  }
  return std::move(out_);
}

}  // namespace

Expected<std::vector<Instruction>> canonicalize(const std::vector<RawInstruction>& raw,
                                                const OpcodeTable& table, size_t code_size) {
  return Canonicalizer(table).run(raw, code_size);
}

Expected<std::vector<Instruction>> decode_bytes(const uint8_t* code, size_t n,
                                                const OpcodeTable& table) {
  auto raw = decode_raw_bytes(code, n, table);
  if (!raw) return raw.status();
  return canonicalize(*raw, table, n);
}

}  // namespace tracejit::frontend
