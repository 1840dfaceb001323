// Tests for the hand-written KDL parser (src/vmfile/kdl*.cpp; Debian ships
// no KDL library): tables of valid and invalid snippets per feature in KDL 2
// and KDL 1 syntax, error positions and snippets, a selection of the official
// kdl-org test suite (tests/vmfile/kdl_cases/), nesting limits, and a replay
// of the fuzz harness over its corpus and random inputs.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "vmfile/kdl.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

namespace fs = std::filesystem;
using namespace vm_manager;
using kdl::Version;

// ---- a canonical one-line printer (tests only) -----------------------------

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7F) {
          out += fmt::format("\\u{{{:x}}}", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string print(const kdl::Value& v) {
  std::string out = v.type_annotation ? "(" + *v.type_annotation + ")" : "";
  if (v.is_null()) return out + "#null";
  if (auto b = v.as_bool()) return out + (*b ? "#true" : "#false");
  if (auto s = v.as_string()) return out + quote(*s);
  if (auto i = v.as_integer()) return out + (i->out_of_range ? "big:" + i->text : std::to_string(i->value));
  double d = *v.as_double();
  if (std::isnan(d)) return out + "#nan";
  if (std::isinf(d)) return out + (d > 0 ? "#inf" : "#-inf");
  return out + fmt::format("{}", d);
}

std::string print(const std::vector<kdl::Node>& nodes);

std::string print(const kdl::Node& node) {
  std::string out = node.type_annotation ? "(" + *node.type_annotation + ")" : "";
  out += quote(node.name);
  for (const auto& a : node.arguments) out += " " + print(a);
  for (const auto& p : node.properties) out += " " + quote(p.name) + "=" + print(p.value);
  if (!node.children.empty()) out += " { " + print(node.children) + " }";
  return out;
}

std::string print(const std::vector<kdl::Node>& nodes) {
  std::string out;
  for (const auto& node : nodes) out += (out.empty() ? "" : "; ") + print(node);
  return out;
}

kdl::Document parse(std::string_view text, Version version = Version::detect) {
  kdl::ParseOptions options;
  options.version = version;
  options.source_name = "test.kdl";
  return kdl::parse(text, options);
}

std::string printed(std::string_view text, Version version) { return print(parse(text, version).nodes); }

kdl::ParseError error_of(std::string_view text, Version version = Version::detect) {
  try {
    auto doc = parse(text, version);
    ADD_FAILURE() << "parsed, but should not: " << text << "\n as " << print(doc.nodes);
  } catch (const kdl::ParseError& e) {
    return e;
  }
  return kdl::ParseError("none", {}, "none", "none", "");
}

// ---- valid snippets --------------------------------------------------------

struct Valid {
  const char* text;
  const char* expected;  // print() of the nodes
};

class ValidV2 : public testing::TestWithParam<Valid> {};
class ValidV1 : public testing::TestWithParam<Valid> {};

TEST_P(ValidV2, Parses) {
  SCOPED_TRACE(GetParam().text);
  EXPECT_EQ(printed(GetParam().text, Version::v2), GetParam().expected);
}

TEST_P(ValidV1, Parses) {
  SCOPED_TRACE(GetParam().text);
  EXPECT_EQ(printed(GetParam().text, Version::v1), GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(Kdl, ValidV2, testing::Values(
    // nodes, terminators, children
    Valid{"", ""}, Valid{"\n\n  \n", ""}, Valid{"a", "\"a\""}, Valid{"a; b;c", "\"a\"; \"b\"; \"c\""},
    Valid{"a\nb\r\nc\rd\u0085e\u2028f\u2029g\fh\vi", "\"a\"; \"b\"; \"c\"; \"d\"; \"e\"; \"f\"; \"g\"; \"h\"; \"i\""},
    Valid{"a {\n  b\n  c 1\n}", "\"a\" { \"b\"; \"c\" 1 }"}, Valid{"a { b; c }", "\"a\" { \"b\"; \"c\" }"},
    Valid{"a{b}", "\"a\" { \"b\" }"}, Valid{"a {}", "\"a\""}, Valid{"a { b { c { d } } }", "\"a\" { \"b\" { \"c\" { \"d\" } } }"},
    Valid{"a {}; b", "\"a\"; \"b\""},
    // arguments and properties
    Valid{"n 1 two \"three\" k=v", "\"n\" 1 \"two\" \"three\" \"k\"=\"v\""},
    Valid{"n a=1 a=2", "\"n\" \"a\"=2"}, Valid{"n k = 1 \"q k\"=2", "\"n\" \"k\"=1 \"q k\"=2"},
    Valid{"n #true #false #null", "\"n\" #true #false #null"}, Valid{"n #inf #-inf #nan", "\"n\" #inf #-inf #nan"},
    // identifier strings
    Valid{"-- .md +. - + -.a --1 a.b <a,b> 🦀", "\"--\" \".md\" \"+.\" \"-\" \"+\" \"-.a\" \"--1\" \"a.b\" \"<a,b>\" \"🦀\""},
    Valid{"true-ish null1 inf_ nanny", "\"true-ish\" \"null1\" \"inf_\" \"nanny\""},
    // quoted strings and escapes
    Valid{R"(n "\"\\\b\f\n\r\t\s")", "\"n\" \"\\\"\\\\\\u{8}\\u{c}\\n\\r\\t \""},
    Valid{R"(n "\u{41}\u{1F600}\u{0}")", "\"n\" \"A😀\\u{0}\""},
    Valid{"n \"a\\   b\" \"c\\\n   d\"", "\"n\" \"ab\" \"cd\""}, Valid{"n \"\"", "\"n\" \"\""},
    Valid{"\"node name\" \"\"=1", "\"node name\" \"\"=1"},
    // raw strings
    Valid{R"(n #"a\nb"# ##"x"#y"## #""#)", "\"n\" \"a\\\\nb\" \"x\\\"#y\" \"\""},
    // multi-line strings
    Valid{"n \"\"\"\n  a\n    b\n\n  c\n  \"\"\"", "\"n\" \"a\\n  b\\n\\nc\""},
    Valid{"n \"\"\"\n\"\"\"", "\"n\" \"\""}, Valid{"n \"\"\"\n  x \\t\n  \"\"\"", "\"n\" \"x \\t\""},
    Valid{"n \"\"\"\r\n  a\r\n  b\r\n  \"\"\"", "\"n\" \"a\\nb\""},
    Valid{"n \"\"\"\n  \\n\n  \"\"\"", "\"n\" \"\\n\""}, Valid{"n \"\"\"\n  say \"hi\" \"\"x\n  \"\"\"", "\"n\" \"say \\\"hi\\\" \\\"\\\"x\""},
    Valid{"n #\"\"\"\n    a \\n \"\"\" b\n    \"\"\"#", "\"n\" \"a \\\\n \\\"\\\"\\\" b\""},
    Valid{"n \"\"\"\n\t\ta\n\t\t\"\"\"", "\"n\" \"a\""},
    // numbers
    Valid{"n 0 -1 +2 1_000 007 1_", "\"n\" 0 -1 2 1000 7 1"},
    Valid{"n 1.5 -0.25 1e3 1E-2 1.5e+2 1_0.0_1", "\"n\" 1.5 -0.25 1000 0.01 150 10.01"},
    Valid{"n 0xff 0xDEAD_beef -0x10 0o755 0b1010 -0b1", "\"n\" 255 3735928559 -16 493 10 -1"},
    Valid{"n 9223372036854775807 -9223372036854775808", "\"n\" 9223372036854775807 -9223372036854775808"},
    Valid{"n 9223372036854775808 -9223372036854775809 0x1_0000_0000_0000_0000",
          "\"n\" big:9223372036854775808 big:-9223372036854775809 big:0x1_0000_0000_0000_0000"},
    Valid{"n 1e999 -1e999 1e-999", "\"n\" #inf #-inf 0"},
    // type annotations
    Valid{"(t)n (u8)1 k=(ip)\"x\" (\"q t\")#null", "(t)\"n\" (u8)1 (q t)#null \"k\"=(ip)\"x\""},
    Valid{"( t )n ( a /*c*/ ) 1 (t)  2 k=(t) v", "(t)\"n\" (a)1 (t)2 \"k\"=(t)\"v\""},
    // comments
    Valid{"// c\na // c\nb /* x */ 1 /* y\n z */ 2", "\"a\"; \"b\" 1 2"}, Valid{"a /* /* nested */ */ 1", "\"a\" 1"},
    Valid{"//\na", "\"a\""}, Valid{"a 1 // c", "\"a\" 1"},
    // slashdash
    Valid{"/-a\nb", "\"b\""}, Valid{"/- a 1 { b }\nc", "\"c\""}, Valid{"a /-1 2 /-k=v /- j=w", "\"a\" 2"},
    Valid{"a /-{ b } { c }", "\"a\" { \"c\" }"}, Valid{"a { b } /-{ c }", "\"a\" { \"b\" }"},
    Valid{"a /-\n  1 2", "\"a\" 2"}, Valid{"/-\n\na\nb", "\"b\""}, Valid{"a /-(t)1 2", "\"a\" 2"},
    Valid{"a {\n  /-b\n}", "\"a\""}, Valid{"/- kdl-version 2\na", "\"a\""},
    // line continuations
    Valid{"a 1 \\\n  2", "\"a\" 1 2"}, Valid{"a 1 \\ // c\n  2", "\"a\" 1 2"}, Valid{"a \\ /* c */\n 1", "\"a\" 1"},
    Valid{"a 1 \\", "\"a\" 1"}, Valid{"\\\na", "\"a\""},
    // BOM, other whitespace
    Valid{"\xEF\xBB\xBF" "a", "\"a\""}, Valid{"a\u00A01\u30002", "\"a\" 1 2"}));

INSTANTIATE_TEST_SUITE_P(Kdl, ValidV1, testing::Values(
    Valid{"a true false null", "\"a\" #true #false #null"},
    Valid{"a \"x\\/y\\n\" r\"raw\\n\" r#\"q\"uote\"#", "\"a\" \"x/y\\n\" \"raw\\\\n\" \"q\\\"uote\""},
    Valid{"a \"multi\nline\"", "\"a\" \"multi\\nline\""},
    Valid{"a k=1 \"q\"=true", "\"a\" \"k\"=1 \"q\"=#true"},
    Valid{"(t)a (u8)1 k=(t)\"v\"", "(t)\"a\" (u8)1 \"k\"=(t)\"v\""},
    Valid{"a { b; c 0x1f }", "\"a\" { \"b\"; \"c\" 31 }"},
    Valid{"a#b 1", "\"a#b\" 1"},
    Valid{"/-a\nb /-1 2 /-{ c }", "\"b\" 2"},
    Valid{"a 1 \\\n  2", "\"a\" 1 2"},
    Valid{"r 1", "\"r\" 1"}, Valid{".5 1", "\".5\" 1"},
    // KDL 1.0.0, feature by feature (https://github.com/kdl-org/kdl/blob/1.0.0/SPEC.md).
    // numbers: decimal := integer ('.' [0-9] [0-9_]*)? exponent?; exponent := ('e' | 'E') integer
    Valid{"n 0 -1 +2 1_000 007 1_", "\"n\" 0 -1 2 1000 7 1"},
    Valid{"n 1.5 -0.25 1e3 1E-2 1.5e+2 1_0.0_1 2.5E1_0", "\"n\" 1.5 -0.25 1000 0.01 150 10.01 25000000000"},
    Valid{"n 0xff 0xDEAD_beef -0x10 +0x1 0o7_55 -0o1 0b1010_1010 0b1_", "\"n\" 255 3735928559 -16 1 493 -1 170 1"},
    Valid{"n 0x7fff_ffff_ffff_ffff -0x8000_0000_0000_0000", "\"n\" 9223372036854775807 -9223372036854775808"},
    // integers are unbounded: beyond 64 bits they are kept, flagged, for the schema to reject
    Valid{"n 9223372036854775808 -9223372036854775809 0x1_0000_0000_0000_0000 "
          "0b10000000000000000000000000000000000000000000000000000000000000000",
          "\"n\" big:9223372036854775808 big:-9223372036854775809 big:0x1_0000_0000_0000_0000 "
          "big:0b10000000000000000000000000000000000000000000000000000000000000000"},
    // escapes: ["\\/bfnrt] and u{1-6 hex digits}; \/ is KDL 1 only
    Valid{R"(n "\"\\\/\b\f\n\r\t")", "\"n\" \"\\\"\\\\/\\u{8}\\u{c}\\n\\r\\t\""},
    Valid{R"(n "\u{41}\u{1F600}\u{0}\u{00e9}")", "\"n\" \"A😀\\u{0}é\""},
    // raw strings: r"…", r#"…"#, any number of #, may span lines, no escapes
    Valid{R"(n r"a\nb" r##"x"#y"## r"" r#"\u{41}"#)", "\"n\" \"a\\\\nb\" \"x\\\"#y\" \"\" \"\\\\u{41}\""},
    Valid{"n r#\"one\ntwo\"#", "\"n\" \"one\\ntwo\""},
    // comments: //, /* */ (nesting), between nodes and inside them
    Valid{"// c\na // c\nb /* x */ 1 /* y\n z */ 2", "\"a\"; \"b\" 1 2"}, Valid{"a /* /* nested */ */ 1", "\"a\" 1"},
    Valid{"//\na", "\"a\""}, Valid{"a 1 // c", "\"a\" 1"}, Valid{"/* a */b/**/1", "\"b\" 1"},
    // slashdash on nodes, arguments, properties and children
    Valid{"/- a 1 { b }\nc", "\"c\""}, Valid{"a /-1 2 /-k=\"v\" /- j=\"w\"", "\"a\" 2"},
    Valid{"a /-{ b }", "\"a\""}, Valid{"a {\n  /-b\n  c\n}", "\"a\" { \"c\" }"}, Valid{"a /-(t)1 2", "\"a\" 2"},
    Valid{"/-(t)a\nb", "\"b\""}, Valid{"a /- \\\n 1 2", "\"a\" 2"},
    // line continuations, also followed by a comment
    Valid{"a 1 \\ // c\n  2", "\"a\" 1 2"}, Valid{"a \\ /* c */\n 1", "\"a\" 1"}, Valid{"a \\\n  k=1", "\"a\" \"k\"=1"},
    // BOM, other whitespace and newlines
    Valid{"\xEF\xBB\xBF" "a 1", "\"a\" 1"}, Valid{"a\u00A01\u30002\r\nb\u2028c", "\"a\" 1 2; \"b\"; \"c\""},
    // bare true/false/null are keywords, anywhere a value goes
    Valid{"n true false null k=null t=(b)true", "\"n\" #true #false #null \"k\"=#null \"t\"=(b)#true"},
    // type annotations: '(' identifier ')', and identifiers may be strings
    Valid{"(\"q t\")a (u8)0xff (f64)1.5 k=(t)r\"raw\" (s)\"x\"", "(q t)\"a\" (u8)255 (f64)1.5 (s)\"x\" \"k\"=(t)\"raw\""},
    // identifiers: anything but [\\/(){}<>;[]=,"], whitespace, a leading digit or sign+digit
    Valid{"-; +a; --1; a.b; +.5; 🦀; r#x; a?!-_~|:$@'*&^%#",
          "\"-\"; \"+a\"; \"--1\"; \"a.b\"; \"+.5\"; \"🦀\"; \"r#x\"; \"a?!-_~|:$@'*&^%#\""},
    Valid{"n foo-bar=1 a.b=2 \"q k\"=3 \"\"=4", "\"n\" \"foo-bar\"=1 \"a.b\"=2 \"q k\"=3 \"\"=4"},
    Valid{"\"node name\" 1; a{b}; c {}", "\"node name\" 1; \"a\" { \"b\" }; \"c\""}));

// ---- invalid snippets -------------------------------------------------------

struct Invalid {
  const char* text;
  Version version;
  int line;
  int column;
  const char* reason;  // a substring of the reason
};

class InvalidSnippet : public testing::TestWithParam<Invalid> {};

TEST_P(InvalidSnippet, IsASyntaxErrorAtItsPosition) {
  const Invalid& c = GetParam();
  SCOPED_TRACE(c.text);
  kdl::ParseError e = error_of(c.text, c.version);
  EXPECT_EQ(e.code(), errc::vmfile_syntax);
  EXPECT_EQ(e.position(), (kdl::Position{c.line, c.column})) << e.message();
  EXPECT_NE(e.reason().find(c.reason), std::string::npos) << e.message();
  EXPECT_EQ(e.message(), fmt::format("test.kdl:{}:{}: {}", c.line, c.column, e.reason()));
  EXPECT_EQ(e.message().find('\n'), std::string::npos);
  EXPECT_FALSE(e.help().empty());
}

INSTANTIATE_TEST_SUITE_P(Kdl, InvalidSnippet, testing::Values(
    // KDL 2 only
    Invalid{"n true", Version::v2, 1, 3, "bare 'true'"}, Invalid{"inf", Version::v2, 1, 1, "bare 'inf'"},
    Invalid{"n -inf", Version::v2, 1, 3, "bare '-inf'"},
    Invalid{"n #yes", Version::v2, 1, 3, "unknown keyword #yes"}, Invalid{"n #", Version::v2, 1, 3, "unexpected '#'"},
    Invalid{"n 1.0v2", Version::v2, 1, 3, "invalid number '1.0v2'"}, Invalid{"n .5", Version::v2, 1, 3, "invalid number"},
    Invalid{"n 1.", Version::v2, 1, 3, "invalid number"}, Invalid{"n 1e", Version::v2, 1, 3, "invalid number"},
    Invalid{"n 0x", Version::v2, 1, 3, "invalid number"}, Invalid{"n 0b2", Version::v2, 1, 3, "invalid number"},
    Invalid{"n 0o8", Version::v2, 1, 3, "invalid number"}, Invalid{"n 1._5", Version::v2, 1, 3, "invalid number"},
    Invalid{"n 0X1", Version::v2, 1, 3, "invalid number"},
    Invalid{"n \"a\nb\"", Version::v2, 1, 5, "cannot span lines"},
    Invalid{"n \"\\q\"", Version::v2, 1, 4, "invalid escape \\q"}, Invalid{"n \"\\/\"", Version::v2, 1, 4, "invalid escape"},
    Invalid{"n \"\\u{}\"", Version::v2, 1, 6, "1 to 6 hex digits"}, Invalid{"n \"\\u{1234567}\"", Version::v2, 1, 6, "1 to 6"},
    Invalid{"n \"\\u{D800}\"", Version::v2, 1, 6, "not a Unicode scalar value"},
    Invalid{"n \"abc", Version::v2, 1, 3, "unclosed string"}, Invalid{"n #\"abc\"", Version::v2, 1, 3, "unclosed raw string"},
    Invalid{"n #\"a\nb\"#", Version::v2, 1, 6, "cannot span lines"}, Invalid{"n #\"\"\"#", Version::v2, 1, 7, "must start with a newline"},
    Invalid{"n \"\"\"x\"\"\"", Version::v2, 1, 6, "must start with a newline"},
    Invalid{"n \"\"\"\n  a\n  b\"\"\"", Version::v2, 3, 3, "on a line of its own"},
    Invalid{"n \"\"\"\n\ta\n  b\n  \"\"\"", Version::v2, 2, 1, "not indented like"},
    Invalid{"n \"\"\"\n  foo\n  bar\\\n  \"\"\"", Version::v2, 3, 3, "on a line of its own"},
    Invalid{"n \"\"\"\n  a", Version::v2, 1, 3, "unclosed multi-line string"},
    Invalid{"n (t)k=1", Version::v2, 1, 3, "property key cannot have a type"}, Invalid{"n 1=2", Version::v2, 1, 3, "key must be a string"},
    Invalid{"n k=", Version::v2, 1, 5, "expected a value"}, Invalid{"(t)", Version::v2, 1, 4, "expected a node name"},
    Invalid{"1 a", Version::v2, 1, 1, "node name must be a string"}, Invalid{"n ( )1", Version::v2, 1, 5, "expected a type name"},
    Invalid{"n (t 1", Version::v2, 1, 6, "expected ')'"},
    Invalid{"a\"b\"", Version::v2, 1, 2, "expected whitespace"}, Invalid{"a#b", Version::v2, 1, 2, "expected whitespace"},
    Invalid{"a { b } 1", Version::v2, 1, 9, "must come before the children"},
    Invalid{"a { b } { c }", Version::v2, 1, 9, "only one children block"},
    Invalid{"a { b } c", Version::v2, 1, 9, "must come before"}, Invalid{"a {", Version::v2, 1, 3, "unclosed children block"},
    Invalid{"a }", Version::v2, 1, 3, "expected the end of the node"}, Invalid{"}", Version::v2, 1, 1, "unexpected '}'"},
    Invalid{";", Version::v2, 1, 1, "expected a node name"}, Invalid{"a /* x", Version::v2, 1, 3, "unclosed /* comment"},
    Invalid{"a 1 \\ 2", Version::v2, 1, 7, "newline after the line continuation"},
    Invalid{"/-", Version::v2, 1, 3, "expected a node name"}, Invalid{"a /-", Version::v2, 1, 5, "expected an argument"},
    Invalid{"/- /-a", Version::v2, 1, 4, "another slashdash"}, Invalid{"a\n/", Version::v2, 2, 1, "expected a node name"},
    Invalid{"a 1 /-{ b } 2", Version::v2, 1, 13, "must come before"},
    // disallowed code points and bad UTF-8 (both versions)
    Invalid{"a \x01", Version::detect, 1, 3, "U+0001 may not appear"}, Invalid{"a\n \u200E", Version::detect, 2, 2, "U+200E"},
    Invalid{"a \xEF\xBB\xBF", Version::detect, 1, 3, "U+FEFF"}, Invalid{"ab \xC3\x28", Version::detect, 1, 4, "invalid UTF-8 (byte 0xC3)"},
    Invalid{"😀 \xF0\x9F", Version::detect, 1, 3, "invalid UTF-8"}, Invalid{"a \xED\xA0\x80", Version::detect, 1, 3, "invalid UTF-8"},
    Invalid{"a \xC0\xAF", Version::detect, 1, 3, "invalid UTF-8"}, Invalid{"a\r\nb \xFF", Version::detect, 2, 3, "invalid UTF-8"},
    // KDL 1 only
    Invalid{"a bare", Version::v1, 1, 3, "must be quoted in KDL 1"}, Invalid{"a #true", Version::v1, 1, 3, "must be quoted in KDL 1"},
    Invalid{"a \"\\s\"", Version::v1, 1, 4, "invalid escape \\s"}, Invalid{"a k = 1", Version::v1, 1, 3, "must be quoted in KDL 1"},
    Invalid{"a ( t )1", Version::v1, 1, 4, "expected a type name"}, Invalid{"(t) a", Version::v1, 1, 4, "expected a node name"},
    Invalid{"a \"\\\n\"", Version::v1, 1, 4, "invalid escape"}, Invalid{"true", Version::v1, 1, 1, "must be a string"},
    Invalid{"\\\na", Version::v1, 1, 1, "expected a node name"},
    // KDL 1.0.0 numbers
    Invalid{"n 1.", Version::v1, 1, 3, "invalid number '1.'"}, Invalid{"n 1e", Version::v1, 1, 3, "invalid number"},
    Invalid{"n 1.0v2", Version::v1, 1, 3, "invalid number '1.0v2'"}, Invalid{"n 1._5", Version::v1, 1, 3, "invalid number"},
    Invalid{"n 1.5.5", Version::v1, 1, 3, "invalid number"}, Invalid{"n 1e+", Version::v1, 1, 3, "invalid number"},
    Invalid{"n 0x", Version::v1, 1, 3, "invalid number"}, Invalid{"n 0x_1", Version::v1, 1, 3, "invalid number"},
    Invalid{"n 0xg", Version::v1, 1, 3, "invalid number"}, Invalid{"n 0o8", Version::v1, 1, 3, "invalid number"},
    Invalid{"n 0b2", Version::v1, 1, 3, "invalid number"}, Invalid{"n 0b_1", Version::v1, 1, 3, "invalid number"},
    Invalid{"n 0X1", Version::v1, 1, 3, "invalid number"}, Invalid{"n -1a", Version::v1, 1, 3, "invalid number"},
    Invalid{"1a", Version::v1, 1, 1, "invalid number"},
    // ".5" and "_1" are identifiers in KDL 1, so as values they must be quoted
    Invalid{"n .5", Version::v1, 1, 3, "must be quoted in KDL 1"}, Invalid{"n _1", Version::v1, 1, 3, "must be quoted"},
    // escapes and strings
    Invalid{"n \"\\q\"", Version::v1, 1, 4, "invalid escape \\q"}, Invalid{"n \"\\u{}\"", Version::v1, 1, 6, "1 to 6 hex digits"},
    Invalid{"n \"\\u{1234567}\"", Version::v1, 1, 6, "1 to 6"}, Invalid{"n \"\\u0041\"", Version::v1, 1, 6, "'{' after \\u"},
    Invalid{"n \"\\u{D800}\"", Version::v1, 1, 6, "not a Unicode scalar value"},
    Invalid{"n \"\\u{110000}\"", Version::v1, 1, 6, "not a Unicode scalar value"},
    Invalid{"n \"abc", Version::v1, 1, 3, "unclosed string"}, Invalid{"n r\"abc", Version::v1, 1, 3, "unclosed raw string"},
    Invalid{"n r#\"abc\"", Version::v1, 1, 3, "unclosed raw string"}, Invalid{"n r##\"a\"#", Version::v1, 1, 3, "unclosed raw string"},
    Invalid{"n r#\"x\"#y\"#", Version::v1, 1, 9, "expected whitespace"}, Invalid{"n r#x", Version::v1, 1, 3, "must be quoted"},
    // comments
    Invalid{"a /* x", Version::v1, 1, 3, "unclosed /* comment"}, Invalid{"a /* /* x */", Version::v1, 1, 3, "unclosed /* comment"},
    // slashdash: only node-space may follow it in KDL 1, not a newline
    Invalid{"/-\na", Version::v1, 1, 3, "expected a node name"}, Invalid{"a /-\n 1", Version::v1, 1, 5, "expected an argument"},
    Invalid{"/-", Version::v1, 1, 3, "expected a node name"}, Invalid{"/- /-a", Version::v1, 1, 4, "another slashdash"},
    Invalid{"a { b } 1", Version::v1, 1, 9, "must come before the children"},
    // line continuations need a newline or a // comment (not eof, unlike KDL 2)
    Invalid{"a 1 \\", Version::v1, 1, 6, "newline after the line continuation"},
    Invalid{"a 1 \\ 2", Version::v1, 1, 7, "newline after the line continuation"},
    Invalid{"a 1 \\ /* c */ 2", Version::v1, 1, 15, "newline after the line continuation"},
    // keywords cannot be names or keys
    Invalid{"a true=1", Version::v1, 1, 3, "key must be a string"}, Invalid{"null 1", Version::v1, 1, 1, "must be a string"},
    Invalid{"a #null", Version::v1, 1, 3, "must be quoted in KDL 1"},
    // type annotations: no space inside or after, no type on a key, a string or identifier inside
    Invalid{"a (t) 1", Version::v1, 1, 6, "expected an argument"}, Invalid{"a (t 1", Version::v1, 1, 5, "expected ')'"},
    Invalid{"a (t)k=1", Version::v1, 1, 3, "property key cannot have a type"},
    Invalid{"a (1)2", Version::v1, 1, 4, "type annotation must be a string"}, Invalid{"a ()1", Version::v1, 1, 4, "expected a type name"},
    Invalid{"(t)", Version::v1, 1, 4, "expected a node name"}, Invalid{"a (t)bare", Version::v1, 1, 6, "must be quoted"},
    // identifiers: `<>,[]` are reserved in KDL 1 (free in KDL 2)
    Invalid{"<a> 1", Version::v1, 1, 1, "expected a node name"}, Invalid{"a<b 1", Version::v1, 1, 2, "expected whitespace"},
    Invalid{"a,b", Version::v1, 1, 2, "expected whitespace"}, Invalid{"[a]", Version::v1, 1, 1, "expected a node name"},
    Invalid{"a k=", Version::v1, 1, 5, "expected a value"}, Invalid{"a 1=2", Version::v1, 1, 3, "key must be a string"}));

// ---- positions ----------------------------------------------------------------

TEST(Kdl, PositionsCountLinesAndCodePoints) {
  auto doc = parse("a\r\n\r\n  🦀b 1 k=\"v\" (t)2 {\n\t c\n}\n");
  ASSERT_EQ(doc.nodes.size(), 2u);
  EXPECT_EQ(doc.nodes[0].position, (kdl::Position{1, 1}));
  const kdl::Node& b = doc.nodes[1];
  EXPECT_EQ(b.name, "🦀b");
  EXPECT_EQ(b.position, (kdl::Position{3, 3}));
  EXPECT_EQ(b.arguments[0].position, (kdl::Position{3, 6}));
  EXPECT_EQ(b.properties[0].position, (kdl::Position{3, 8}));
  EXPECT_EQ(b.properties[0].value.position, (kdl::Position{3, 10}));
  EXPECT_EQ(b.arguments[1].position, (kdl::Position{3, 14}));
  EXPECT_EQ(b.children[0].position, (kdl::Position{4, 3}));
}

TEST(Kdl, BomDoesNotCountAsAColumn) {
  auto doc = parse("\xEF\xBB\xBFnode 1");
  EXPECT_EQ(doc.nodes[0].arguments[0].position, (kdl::Position{1, 6}));
}

TEST(Kdl, DuplicatePropertiesLastWinsAndAreRecorded) {
  auto doc = parse("n a=1 b=2 a=3");
  const kdl::Node& n = doc.nodes[0];
  ASSERT_EQ(n.properties.size(), 2u);
  EXPECT_EQ(n.properties[0].name, "a");
  EXPECT_EQ(n.properties[0].position, (kdl::Position{1, 11}));
  EXPECT_EQ(n.properties[1].name, "b");
  EXPECT_EQ(n.property("a")->as_integer()->value, 3);
  ASSERT_EQ(n.overridden_properties.size(), 1u);
  EXPECT_EQ(n.overridden_properties[0].value.as_integer()->value, 1);
  EXPECT_EQ(n.property("missing"), nullptr);
}

TEST(Kdl, ManyPropertiesAndArgumentsStayFast) {
  std::string text = "n";
  for (int i = 0; i < 100000; ++i) text += fmt::format(" k{}={} k{}=1 a", i % 5000, i, i % 7);
  auto start = std::chrono::steady_clock::now();
  auto doc = parse(text);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
  EXPECT_EQ(doc.nodes[0].properties.size(), 5000u);
  EXPECT_EQ(doc.nodes[0].arguments.size(), 100000u);
  EXPECT_EQ(doc.nodes[0].overridden_properties.size(), 195000u);
}

TEST(Kdl, RawStringsWithManyHashesStayFast) {
  std::string hashes(20000, '#');
  std::string body;
  for (int i = 0; i < 2000; ++i) body += "\"" + std::string(19999, '#') + " ";
  auto doc = parse("n " + hashes + "\"" + body + "\"" + hashes);
  EXPECT_EQ(doc.nodes[0].arguments[0].as_string()->size(), body.size());
}

TEST(Kdl, IntegersKeepTheirText) {
  auto doc = parse("n 0xff_ff 1_000 99999999999999999999");
  EXPECT_EQ(doc.nodes[0].arguments[0].as_integer()->text, "0xff_ff");
  EXPECT_EQ(doc.nodes[0].arguments[1].as_integer()->text, "1_000");
  const kdl::Integer* big = doc.nodes[0].arguments[2].as_integer();
  EXPECT_TRUE(big->out_of_range);
  EXPECT_EQ(big->value, 0);
}

// ---- versions ---------------------------------------------------------------------

TEST(Kdl, DetectsTheVersion) {
  EXPECT_EQ(parse("a #true").version, 2);
  EXPECT_EQ(parse("a true").version, 1);
  EXPECT_EQ(parse("a \"same in both\"").version, 2);
  EXPECT_EQ(parse("/- kdl-version 1\na \"x\"").version, 1);
  EXPECT_EQ(parse("\xEF\xBB\xBF/-kdl-version 2 \r\na").version, 2);
}

TEST(Kdl, VersionMarkerForcesTheSyntax) {
  EXPECT_NE(error_of("/- kdl-version 2\na true").reason().find("bare 'true'"), std::string::npos);
  EXPECT_NE(error_of("/- kdl-version 1\na #true").reason().find("must be quoted in KDL 1"), std::string::npos);
}

TEST(Kdl, ReportsTheAttemptThatGotFurther) {
  // KDL 2 fails at `true` on line 1; KDL 1 gets to the bad escape on line 2.
  kdl::ParseError v1 = error_of("a true\nb \"\\q\"");
  EXPECT_EQ(v1.position(), (kdl::Position{2, 4}));
  EXPECT_NE(v1.reason().find("(read as KDL 1.0)"), std::string::npos);
  EXPECT_NE(v1.help().find("KDL 1.0"), std::string::npos);
  // KDL 1 fails at the bare value on line 1; KDL 2 gets to line 2.
  kdl::ParseError v2 = error_of("a bare\nb 1.0v2");
  EXPECT_EQ(v2.position(), (kdl::Position{2, 3}));
  EXPECT_EQ(v2.reason().find("KDL 1.0"), std::string::npos);
}

// ---- snippets --------------------------------------------------------------------

TEST(Kdl, SnippetPointsAtTheColumn) {
  kdl::ParseError e = error_of("node {\n    child 1.0v2\n}");
  EXPECT_EQ(e.message(), "test.kdl:2:11: invalid number '1.0v2'");
  EXPECT_EQ(e.snippet(), " 2 |     child 1.0v2\n   |           ^");
}

TEST(Kdl, SnippetExpandsTabsAndHidesControls) {
  kdl::ParseError e = error_of("a\n\tb\t#oops");
  EXPECT_EQ(e.position(), (kdl::Position{2, 4}));
  EXPECT_EQ(e.snippet(), " 2 |     b   #oops\n   |         ^");
  kdl::ParseError control = error_of("a \x1b[31m");
  EXPECT_EQ(control.snippet().find('\x1b'), std::string::npos);
  kdl::ParseError utf8 = error_of("ab \xC3\x28");
  EXPECT_EQ(utf8.snippet(), " 1 | ab \xEF\xBF\xBD(\n   |    ^");
}

TEST(Kdl, SnippetOfAVeryLongLineIsAWindow) {
  std::string line = "n " + std::string(5000, 'x') + " 1.0v2 " + std::string(5000, 'y');
  kdl::ParseError e = error_of(line);
  EXPECT_EQ(e.position(), (kdl::Position{1, 5004}));
  std::string snippet = e.snippet();
  EXPECT_LT(snippet.size(), 400u);
  std::size_t newline = snippet.find('\n');
  std::size_t shown = snippet.find("1.0v2");
  std::size_t caret = snippet.find('^');
  ASSERT_NE(shown, std::string::npos);
  // Same display column: the gutter has the same width on both lines; "…" is 3 bytes, 1 column.
  EXPECT_EQ(caret - newline - 1, shown - 2);
}

// ---- the VMFile example ------------------------------------------------------------

TEST(Kdl, ParsesTheVmFileExample) {
  auto doc = parse(R"(vm "web" {
    image "~/images/debian-12.qcow2"
    vcpus 2
    memory 2048
    network "tap" bridge="br0"
    cloud-init {
        hostname "web"
        ssh-key "~/.ssh/id_ed25519.pub"
    }
    ssh { user "vm"; private-key "~/.ssh/id_ed25519" }
    provision "shell" {
        inline "apt-get update"
    }
    /- provision "file" { source "a"; destination "/b" }
}
)");
  EXPECT_EQ(doc.version, 2);
  ASSERT_EQ(doc.nodes.size(), 1u);
  EXPECT_EQ(print(doc.nodes),
            "\"vm\" \"web\" { \"image\" \"~/images/debian-12.qcow2\"; \"vcpus\" 2; \"memory\" 2048; "
            "\"network\" \"tap\" \"bridge\"=\"br0\"; "
            "\"cloud-init\" { \"hostname\" \"web\"; \"ssh-key\" \"~/.ssh/id_ed25519.pub\" }; "
            "\"ssh\" { \"user\" \"vm\"; \"private-key\" \"~/.ssh/id_ed25519\" }; "
            "\"provision\" \"shell\" { \"inline\" \"apt-get update\" } }");
  const kdl::Node& vm = doc.nodes[0];
  EXPECT_EQ(vm.children[3].property("bridge")->position, (kdl::Position{5, 26}));
  EXPECT_EQ(vm.children[6].position, (kdl::Position{11, 5}));
}

// ---- limits ------------------------------------------------------------------------

TEST(Kdl, DeepNestingIsRejectedCleanly) {
  std::string deep;
  for (int i = 0; i < 100000; ++i) deep += "a{";
  kdl::ParseError e = error_of(deep);
  EXPECT_NE(e.reason().find("nested more than 128 deep"), std::string::npos);
  EXPECT_EQ(e.position(), (kdl::Position{1, 2 * 128 + 2}));

  std::string ok;
  for (int i = 0; i < 128; ++i) ok += "a{";
  ok += std::string(128, '}');
  EXPECT_NO_THROW(parse(ok));

  std::string comments;
  for (int i = 0; i < 100000; ++i) comments += "/*";
  EXPECT_NE(error_of("a " + comments).reason().find("/* comments nested more than"), std::string::npos);

  EXPECT_NE(error_of("/-" + deep).reason().find("nested more than"), std::string::npos);
}

TEST(Kdl, MaxDepthIsAnOption) {
  kdl::ParseOptions options;
  options.max_depth = 2;
  EXPECT_NO_THROW(kdl::parse("a { b { c } }", options));
  EXPECT_THROW(kdl::parse("a { b { c { d } } }", options), kdl::ParseError);
}

// ---- official test cases ---------------------------------------------------------

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

const fs::path kCases = fs::path(VMCTL_SOURCE_DIR) / "tests/vmfile/kdl_cases";

std::ptrdiff_t files_in(const fs::path& folder) {
  return std::distance(fs::directory_iterator(folder), fs::directory_iterator());
}

// Exact counts, so that a lost (or an added but unlisted) case is noticed.
// KDL 2: 22 inputs, 18 with an expected document, 4 that must fail.
// KDL 1 (v1/): 20 inputs, 19 with an expected document, 1 that must fail.
TEST(KdlConformance, CasesAreThere) {
  EXPECT_EQ(files_in(kCases / "input"), 22);
  EXPECT_EQ(files_in(kCases / "expected"), 18);
  EXPECT_EQ(files_in(kCases / "v1/input"), 20);
  EXPECT_EQ(files_in(kCases / "v1/expected"), 19);
}

// Each input/<name>.kdl under `folder` parses (as `version`) to the same
// document as expected/<name>.kdl, or is a syntax error when there is none.
void check_cases(const fs::path& folder, Version version) {
  for (const auto& entry : fs::directory_iterator(folder / "input")) {
    std::string name = entry.path().filename().string();
    SCOPED_TRACE(name);
    fs::path expected = folder / "expected" / name;
    std::string input = read_file(entry.path());
    if (fs::exists(expected)) {
      EXPECT_EQ(print(parse(input, version).nodes), print(parse(read_file(expected), version).nodes));
    } else {
      EXPECT_THROW(parse(input, version), kdl::ParseError);
    }
  }
}

TEST(KdlConformance, OfficialCases) { check_cases(kCases, Version::v2); }

// The KDL 1.0.0 suite's cases, in its syntax (bare true, r"raw", multi-line "…").
TEST(KdlConformance, OfficialV1Cases) { check_cases(kCases / "v1", Version::v1); }

// ---- fuzz replay -------------------------------------------------------------------

void run(const std::string& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(input.data()), input.size());
}

std::vector<std::string> corpus() {
  std::vector<std::string> seeds;
  for (const auto& entry : fs::directory_iterator(fs::path(VMCTL_SOURCE_DIR) / "fuzz/corpus/kdl")) {
    seeds.push_back(read_file(entry.path()));
  }
  std::sort(seeds.begin(), seeds.end());
  return seeds;
}

TEST(KdlFuzzReplay, CorpusParses) {
  auto seeds = corpus();
  ASSERT_GE(seeds.size(), 5u);
  for (const auto& seed : seeds) {
    SCOPED_TRACE(seed);
    EXPECT_NO_THROW(kdl::parse(seed));
    run(seed);
  }
}

// Mutations in the spirit of libFuzzer's, biased to KDL syntax, for a bounded time.
TEST(KdlFuzzReplay, RandomMutations) {
  static const std::string kSyntax = "{}()[]\"#=;/\\*-+.0123456789exob_ \t\n\r\x0b\x01\x7f\x80\xc2\xe2\xef\xff";
  auto seeds = corpus();
  std::mt19937 rng(20261127);
  auto pick = [&](std::size_t high) { return std::uniform_int_distribution<std::size_t>(0, high)(rng); };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  int runs = 0;
  for (; runs < 20000 && std::chrono::steady_clock::now() < deadline; ++runs) {
    std::string s = seeds[pick(seeds.size() - 1)];
    for (std::size_t k = pick(6) + 1; k > 0; --k) {
      std::size_t at = s.empty() ? 0 : pick(s.size() - 1);
      switch (pick(4)) {
        case 0: if (!s.empty()) s[at] = static_cast<char>(s[at] ^ (1 << pick(7))); break;
        case 1: s.insert(at, 1, kSyntax[pick(kSyntax.size() - 1)]); break;
        case 2: s.erase(at, pick(16) + 1); break;
        case 3: s.insert(at, s.substr(at, pick(64) + 1)); break;
        default: s.resize(at); break;
      }
    }
    SCOPED_TRACE(testing::Message() << "mutation #" << runs << ": " << s);
    run(s);
  }
  EXPECT_GT(runs, 100);
}

TEST(KdlFuzzReplay, RandomBytes) {
  std::mt19937 rng(7);
  for (int i = 0; i < 3000; ++i) {
    std::string s(std::uniform_int_distribution<std::size_t>(0, 200)(rng), '\0');
    for (char& c : s) c = static_cast<char>(std::uniform_int_distribution<int>(0, 255)(rng));
    run(s);
  }
}

}  // namespace
