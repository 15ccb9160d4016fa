// The Python-free decoder core on hand-made bytecode, against fake 3.11/3.12/3.13 tables.
#include <gtest/gtest.h>

#include <initializer_list>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "frontend/decoder.h"

namespace tracejit::frontend {
namespace {

struct FakeOp {
  std::string_view name;
  int caches = 0;
  bool jrel = false;
  bool backward = false;
  bool has_arg = true;
};

// Numbers ops 1, 2, ... in list order (0 is CACHE), like no real version: decoding is by name.
OpcodeTable fake_table(int minor, std::initializer_list<FakeOp> ops) {
  OpcodeTable t;
  t.py_minor = minor;
  t.ops[0] = OpcodeInfo{"CACHE", 0, false, false, false, false};
  int num = 1;
  for (const FakeOp& op : ops) {
    t.ops[num++] = OpcodeInfo{op.name, static_cast<uint8_t>(op.caches), op.has_arg, op.jrel,
                              false, op.backward};
  }
  return t;
}

OpcodeTable table_311() {
  return fake_table(11, {{"RESUME"}, {"EXTENDED_ARG"}, {"NOP", 0, false, false, false},
                         {"POP_TOP", 0, false, false, false}, {"PUSH_NULL", 0, false, false, false},
                         {"LOAD_FAST"}, {"STORE_FAST"}, {"LOAD_CONST"}, {"LOAD_GLOBAL", 5},
                         {"LOAD_ATTR", 4}, {"LOAD_METHOD", 10}, {"KW_NAMES"}, {"PRECALL", 1},
                         {"CALL", 4}, {"BINARY_OP", 1}, {"COMPARE_OP", 2},
                         {"RETURN_VALUE", 0, false, false, false},
                         {"GET_ITER", 0, false, false, false}, {"FOR_ITER", 0, true},
                         {"JUMP_BACKWARD", 0, true, true}, {"POP_JUMP_FORWARD_IF_FALSE", 0, true},
                         {"POP_JUMP_BACKWARD_IF_TRUE", 0, true, true},
                         {"LIST_TO_TUPLE", 0, false, false, false},
                         {"SETUP_ANNOTATIONS", 0, false, false, false}});
}

OpcodeTable table_312() {
  return fake_table(12, {{"RESUME"}, {"EXTENDED_ARG"}, {"POP_TOP", 0, false, false, false},
                         {"PUSH_NULL", 0, false, false, false}, {"LOAD_FAST"}, {"LOAD_FAST_CHECK"},
                         {"STORE_FAST"}, {"LOAD_CONST"}, {"LOAD_GLOBAL", 4}, {"LOAD_ATTR", 9},
                         {"KW_NAMES"}, {"CALL", 3}, {"BINARY_OP", 1}, {"COMPARE_OP", 1},
                         {"RETURN_VALUE", 0, false, false, false}, {"RETURN_CONST"},
                         {"GET_ITER", 0, false, false, false}, {"FOR_ITER", 1, true},
                         {"END_FOR", 0, false, false, false}, {"JUMP_BACKWARD", 0, true, true},
                         {"POP_JUMP_IF_FALSE", 0, true}, {"CALL_INTRINSIC_1"},
                         {"BINARY_SLICE", 0, false, false, false},
                         {"STORE_SLICE", 0, false, false, false}});
}

OpcodeTable table_313() {
  return fake_table(13, {{"RESUME"}, {"EXTENDED_ARG"}, {"POP_TOP", 0, false, false, false},
                         {"PUSH_NULL", 0, false, false, false}, {"LOAD_FAST"}, {"STORE_FAST"},
                         {"LOAD_FAST_LOAD_FAST"}, {"STORE_FAST_LOAD_FAST"},
                         {"STORE_FAST_STORE_FAST"}, {"LOAD_CONST"}, {"LOAD_GLOBAL", 4},
                         {"LOAD_ATTR", 9}, {"CALL", 3}, {"CALL_KW", 3}, {"BINARY_OP", 1},
                         {"COMPARE_OP", 1}, {"TO_BOOL", 3, false, false, false},
                         {"RETURN_VALUE", 0, false, false, false}, {"RETURN_CONST"},
                         {"GET_ITER", 0, false, false, false}, {"FOR_ITER", 1, true},
                         {"END_FOR", 0, false, false, false}, {"JUMP_BACKWARD", 1, true, true},
                         {"POP_JUMP_IF_FALSE", 1, true}, {"CONVERT_VALUE"},
                         {"FORMAT_WITH_SPEC", 0, false, false, false}});
}

// (name, arg) pairs -> bytecode, with each op's CACHE units appended as zeros.
std::vector<uint8_t> assemble(const OpcodeTable& t,
                              std::initializer_list<std::pair<std::string_view, int>> code) {
  std::vector<uint8_t> out;
  for (const auto& [name, arg] : code) {
    const int num = t.find(name);
    EXPECT_GE(num, 0) << name;
    out.push_back(static_cast<uint8_t>(num));
    out.push_back(static_cast<uint8_t>(arg));
    for (int i = 0; i < t.ops[num].caches; ++i) out.insert(out.end(), {0, 0});
  }
  return out;
}

std::vector<RawInstruction> raw_of(const OpcodeTable& t, const std::vector<uint8_t>& code) {
  auto r = decode_raw_bytes(code.data(), code.size(), t);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.message());
  return r.ok() ? r.value() : std::vector<RawInstruction>{};
}

// "Op arg ->target" per instruction, one string: easy to compare whole.
std::string canon_of(const OpcodeTable& t, const std::vector<uint8_t>& code) {
  auto r = decode_bytes(code.data(), code.size(), t);
  if (!r) return "error: " + r.message();
  std::string s;
  for (const Instruction& i : *r) {
    if (!s.empty()) s += "; ";
    s += std::string(cop_name(i.op)) + " " + std::to_string(i.arg);
    if (i.target >= 0) s += " ->" + std::to_string(i.target);
  }
  return s;
}

TEST(DecodeRaw, ExtendedArgAccumulates) {
  OpcodeTable t = table_312();
  auto raw = raw_of(t, assemble(t, {{"EXTENDED_ARG", 1}, {"EXTENDED_ARG", 2}, {"LOAD_CONST", 3}}));
  ASSERT_EQ(raw.size(), 3u);
  EXPECT_EQ(raw[0].opname, "EXTENDED_ARG");
  EXPECT_EQ(raw[1].arg, 0x102);
  EXPECT_EQ(raw[2].arg, 0x10203);
  EXPECT_EQ(raw[2].offset, 4);
}

TEST(DecodeRaw, NoArgOpResetsExtendedArg) {
  OpcodeTable t = table_312();
  auto raw = raw_of(t, assemble(t, {{"EXTENDED_ARG", 1}, {"POP_TOP", 0}, {"LOAD_CONST", 3}}));
  ASSERT_EQ(raw.size(), 3u);
  EXPECT_EQ(raw[2].arg, 3);
}

TEST(DecodeRaw, SkipsInlineCaches) {
  OpcodeTable t = table_312();
  auto raw = raw_of(t, assemble(t, {{"LOAD_GLOBAL", 1}, {"LOAD_ATTR", 0}, {"RETURN_VALUE", 0}}));
  ASSERT_EQ(raw.size(), 3u);
  EXPECT_EQ(raw[1].offset, 2 + 2 * 4);
  EXPECT_EQ(raw[2].offset, raw[1].offset + 2 + 2 * 9);
}

TEST(DecodeRaw, RelativeJumpsCountCaches) {
  OpcodeTable t = table_313();
  // 0 POP_JUMP_IF_FALSE (1 cache) 1 -> 0 + 2 + 2 + 2 = 6; 4 LOAD_CONST; 6 JUMP_BACKWARD 4.
  auto raw = raw_of(t, assemble(t, {{"POP_JUMP_IF_FALSE", 1}, {"LOAD_CONST", 0},
                                    {"JUMP_BACKWARD", 3}}));
  ASSERT_EQ(raw.size(), 3u);
  EXPECT_EQ(raw[0].jump_target, 6);
  EXPECT_EQ(raw[2].jump_target, 6 + 2 + 2 - 2 * 3);
  EXPECT_EQ(raw[1].jump_target, -1);
}

TEST(DecodeRaw, Errors) {
  OpcodeTable t = table_312();
  const uint8_t odd[] = {static_cast<uint8_t>(t.find("LOAD_CONST")), 0, 1};
  EXPECT_FALSE(decode_raw_bytes(odd, 3, t).ok());
  const uint8_t unknown[] = {250, 0};
  auto r = decode_raw_bytes(unknown, 2, t);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("unknown opcode 250"), std::string::npos);
}

TEST(Canonical, ElidesResumeAndRetargetsJumps) {
  OpcodeTable t = table_311();
  // 0 RESUME; 2 LOAD_FAST; 4 POP_JUMP_FORWARD_IF_FALSE 1 (-> 8); 6 NOP; 8 LOAD_CONST; 10 RETURN.
  EXPECT_EQ(canon_of(t, assemble(t, {{"RESUME", 0}, {"LOAD_FAST", 0},
                                     {"POP_JUMP_FORWARD_IF_FALSE", 1}, {"NOP", 0},
                                     {"LOAD_CONST", 0}, {"RETURN_VALUE", 0}})),
            "LoadFast 0; PopJumpIfFalse 0 ->2; LoadConst 0; ReturnValue 0");
}

TEST(Canonical, Py311BackwardConditionalJumpMerged) {
  OpcodeTable t = table_311();
  // 0 LOAD_FAST; 2 POP_JUMP_BACKWARD_IF_TRUE 2 -> 2 + 2 - 4 = 0.
  EXPECT_EQ(canon_of(t, assemble(t, {{"LOAD_FAST", 0}, {"POP_JUMP_BACKWARD_IF_TRUE", 2}})),
            "LoadFast 0; PopJumpIfTrue 0 ->0");
}

TEST(Canonical, JumpIntoCacheIsAnError) {
  OpcodeTable t = table_313();
  // 0 POP_JUMP_IF_FALSE (1 cache); 4 LOAD_GLOBAL (4 caches at 6..12). Arg 0 lands on 4.
  EXPECT_EQ(canon_of(t, assemble(t, {{"POP_JUMP_IF_FALSE", 0}, {"LOAD_GLOBAL", 0}})),
            "PopJumpIfFalse 0 ->1; LoadGlobal 0");
  std::string s = canon_of(t, assemble(t, {{"POP_JUMP_IF_FALSE", 1}, {"LOAD_GLOBAL", 0}}));
  EXPECT_EQ(s.rfind("error:", 0), 0u) << s;
  std::string past_end = canon_of(t, assemble(t, {{"POP_JUMP_IF_FALSE", 9}, {"LOAD_GLOBAL", 0}}));
  EXPECT_EQ(past_end.rfind("error:", 0), 0u) << past_end;
}

TEST(Canonical, LoadGlobalNullBeforeOnOlderVersions) {
  OpcodeTable t = table_312();
  EXPECT_EQ(canon_of(t, assemble(t, {{"LOAD_GLOBAL", 7}, {"LOAD_GLOBAL", 4}})),
            "PushNull 0; LoadGlobal 3; LoadGlobal 2");
}

TEST(Canonical, LoadGlobalNullAfterOn313) {
  OpcodeTable t = table_313();
  EXPECT_EQ(canon_of(t, assemble(t, {{"LOAD_GLOBAL", 7}})), "LoadGlobal 3; PushNull 0");
}

TEST(Canonical, Py311KwNamesPrecallCall) {
  OpcodeTable t = table_311();
  // h.sum(axis=1, keepdims=True)
  EXPECT_EQ(canon_of(t, assemble(t, {{"LOAD_FAST", 0}, {"LOAD_METHOD", 1}, {"LOAD_CONST", 1},
                                     {"LOAD_CONST", 2}, {"KW_NAMES", 3}, {"PRECALL", 2},
                                     {"CALL", 2}, {"PRECALL", 0}, {"CALL", 0}})),
            "LoadFast 0; LoadMethod 1; LoadConst 1; LoadConst 2; LoadConst 3; CallKw 2; Call 0");
}

TEST(Canonical, Py311LoadAttrArgIsTheName) {
  OpcodeTable t = table_311();
  EXPECT_EQ(canon_of(t, assemble(t, {{"LOAD_ATTR", 3}})), "LoadAttr 3");
}

TEST(Canonical, Py312LoadAttrMethodBit) {
  OpcodeTable t = table_312();
  EXPECT_EQ(canon_of(t, assemble(t, {{"LOAD_ATTR", 3}, {"LOAD_ATTR", 4}, {"KW_NAMES", 5},
                                     {"CALL", 1}})),
            "LoadMethod 1; LoadAttr 2; LoadConst 5; CallKw 1");
}

TEST(Canonical, Py313CallKw) {
  OpcodeTable t = table_313();
  EXPECT_EQ(canon_of(t, assemble(t, {{"LOAD_ATTR", 1}, {"LOAD_CONST", 4}, {"CALL_KW", 1}})),
            "LoadMethod 0; LoadConst 4; CallKw 1");
}

TEST(Canonical, CompareOpPerVersion) {
  OpcodeTable t11 = table_311(), t12 = table_312(), t13 = table_313();
  EXPECT_EQ(canon_of(t11, assemble(t11, {{"COMPARE_OP", 4}})), "CompareOp 4");
  EXPECT_EQ(canon_of(t12, assemble(t12, {{"COMPARE_OP", (4 << 4) | 12}})), "CompareOp 4");
  EXPECT_EQ(canon_of(t13, assemble(t13, {{"COMPARE_OP", (2 << 5) | 16 | 2}})),
            "CompareOp 2; ToBool 0");
  EXPECT_EQ(canon_of(t13, assemble(t13, {{"COMPARE_OP", (5 << 5) | 2}})), "CompareOp 5");
}

TEST(Canonical, ReturnConst) {
  OpcodeTable t = table_312();
  EXPECT_EQ(canon_of(t, assemble(t, {{"RETURN_CONST", 0}})), "LoadConst 0; ReturnValue 0");
}

TEST(Canonical, SlicesExpanded) {
  OpcodeTable t = table_312();
  EXPECT_EQ(canon_of(t, assemble(t, {{"BINARY_SLICE", 0}, {"STORE_SLICE", 0}})),
            "BuildSlice 2; BinarySubscr 0; BuildSlice 2; StoreSubscr 0");
}

TEST(Canonical, Intrinsics) {
  OpcodeTable t = table_312();
  EXPECT_EQ(canon_of(t, assemble(t, {{"CALL_INTRINSIC_1", 5}, {"CALL_INTRINSIC_1", 6}})),
            "UnaryPositive 0; ListToTuple 0");
  auto r = decode_bytes(assemble(t, {{"CALL_INTRINSIC_1", 3}}).data(), 2, t);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].op, COp::Unsupported);
  EXPECT_EQ((*r)[0].raw_name, "CALL_INTRINSIC_1");
}

TEST(Canonical, FusedFastOpsSplit) {
  OpcodeTable t = table_313();
  EXPECT_EQ(canon_of(t, assemble(t, {{"LOAD_FAST_LOAD_FAST", (1 << 4) | 2},
                                     {"STORE_FAST_LOAD_FAST", (3 << 4) | 4},
                                     {"STORE_FAST_STORE_FAST", (5 << 4) | 6}})),
            "LoadFast 1; LoadFast 2; StoreFast 3; LoadFast 4; StoreFast 5; StoreFast 6");
}

TEST(Canonical, FusedOpsKeepRawOffsetAndName) {
  OpcodeTable t = table_313();
  auto code = assemble(t, {{"RESUME", 0}, {"LOAD_FAST_LOAD_FAST", 0x12}});
  auto r = decode_bytes(code.data(), code.size(), t);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 2u);
  for (const Instruction& i : *r) {
    EXPECT_EQ(i.offset, 2);
    EXPECT_EQ(i.raw_name, "LOAD_FAST_LOAD_FAST");
  }
}

TEST(Canonical, Py312ForIterExitsPastEndFor) {
  OpcodeTable t = table_312();
  // 0 GET_ITER; 2 FOR_ITER 2 (1 cache) -> 2+2+2+4 = 10 (END_FOR); 6 STORE_FAST; 8 JUMP_BACKWARD 4
  // -> 8+2-8 = 2; 10 END_FOR; 12 RETURN_CONST.
  auto code = assemble(t, {{"GET_ITER", 0}, {"FOR_ITER", 2}, {"STORE_FAST", 0},
                           {"JUMP_BACKWARD", 4}, {"END_FOR", 0}, {"RETURN_CONST", 0}});
  auto raw = raw_of(t, code);
  ASSERT_EQ(raw.size(), 6u);
  EXPECT_EQ(raw[1].jump_target, 10);
  EXPECT_EQ(raw[3].jump_target, 2);
  EXPECT_EQ(canon_of(t, code),
            "GetIter 0; ForIter 0 ->4; StoreFast 0; Jump 0 ->1; LoadConst 0; ReturnValue 0");
}

TEST(Canonical, Py313ForIterExitsPastEndForPopTop) {
  OpcodeTable t = table_313();
  // 0 GET_ITER; 2 FOR_ITER 3 (1 cache) -> 12; 6 STORE_FAST; 8 JUMP_BACKWARD 5 (1 cache)
  // -> 8+2+2-10 = 2; 12 END_FOR; 14 POP_TOP; 16 POP_TOP; 18 RETURN_CONST.
  auto code = assemble(t, {{"GET_ITER", 0}, {"FOR_ITER", 3}, {"STORE_FAST", 0},
                           {"JUMP_BACKWARD", 5}, {"END_FOR", 0}, {"POP_TOP", 0},
                           {"POP_TOP", 0}, {"RETURN_CONST", 0}});
  auto raw = raw_of(t, code);
  ASSERT_EQ(raw.size(), 8u);
  EXPECT_EQ(raw[1].jump_target, 12);
  EXPECT_EQ(raw[3].jump_target, 2);
  EXPECT_EQ(canon_of(t, code), "GetIter 0; ForIter 0 ->4; StoreFast 0; Jump 0 ->1; PopTop 0; "
                               "LoadConst 0; ReturnValue 0");
}

TEST(Canonical, Py313FormatOps) {
  OpcodeTable t = table_313();
  EXPECT_EQ(canon_of(t, assemble(t, {{"CONVERT_VALUE", 2}, {"FORMAT_WITH_SPEC", 0}})),
            "ConvertValue 2; FormatValue 4");
}

TEST(Canonical, UnknownOpKeepsRawName) {
  OpcodeTable t = table_311();
  auto code = assemble(t, {{"SETUP_ANNOTATIONS", 0}});
  auto r = decode_bytes(code.data(), code.size(), t);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].op, COp::Unsupported);
  EXPECT_EQ((*r)[0].arg, t.find("SETUP_ANNOTATIONS"));
  EXPECT_EQ((*r)[0].raw_name, "SETUP_ANNOTATIONS");
}

TEST(Canonical, ExtendedArgPrefixedJumpTargetLandsOnTheInstruction) {
  OpcodeTable t = table_311();
  // 0 EXTENDED_ARG 0; 2 LOAD_FAST; 4 POP_JUMP_BACKWARD_IF_TRUE 3 -> 4 + 2 - 6 = 0 (the prefix).
  EXPECT_EQ(canon_of(t, assemble(t, {{"EXTENDED_ARG", 0}, {"LOAD_FAST", 0},
                                     {"POP_JUMP_BACKWARD_IF_TRUE", 3}})),
            "LoadFast 0; PopJumpIfTrue 0 ->0");
}

TEST(Robustness, RandomBytesNeverCrash) {
  // The decoder reads structure it did not produce: junk must give an error or a valid stream.
  std::mt19937 rng(1234);
  const OpcodeTable& t = compiled_opcode_table();
  for (int round = 0; round < 3000; ++round) {
    std::vector<uint8_t> code(2 * (1 + rng() % 40));
    for (uint8_t& b : code) b = static_cast<uint8_t>(rng());
    auto r = decode_bytes(code.data(), code.size(), t);
    if (!r) continue;
    for (const Instruction& i : *r) {
      EXPECT_GE(i.target, -1);
      EXPECT_LT(i.target, static_cast<int32_t>(r->size()));
    }
  }
}

TEST(CompiledTable, LooksLikeASupportedInterpreter) {
  const OpcodeTable& t = compiled_opcode_table();
  EXPECT_EQ(t.py_major, 3);
  EXPECT_GE(t.py_minor, 11);
  EXPECT_GE(t.find("RESUME"), 0);
  EXPECT_EQ(t.find("CACHE"), 0);
  const int jb = t.find("JUMP_BACKWARD");
  ASSERT_GE(jb, 0);
  EXPECT_TRUE(t.ops[jb].jrel);
  EXPECT_TRUE(t.ops[jb].backward);
  EXPECT_GT(t.ops[t.find("LOAD_GLOBAL")].caches, 0);
}

TEST(CopName, NamesEveryOp) {
  EXPECT_EQ(cop_name(COp::PopTop), "PopTop");
  EXPECT_EQ(cop_name(COp::CallKw), "CallKw");
  EXPECT_EQ(cop_name(COp::Unsupported), "Unsupported");
}

}  // namespace
}  // namespace tracejit::frontend
