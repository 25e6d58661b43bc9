// The format as documented in checkpoint.h, written by hand with a ten-line protobuf encoder (independent of the
// generated code): a well-formed file loads, and each way a header can lie (with a valid checksum, so that the
// checks behind it are reached) gives its own error.
#include <cstring>
#include <limits>
#include <vector>

#include <catch2/catch.hpp>

#include "framework/io/detail/checksum.h"
#include "framework/io/detail/format.h"
#include "io_test_util.h"

using namespace ds;
using io_test::TempDir;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

// Protobuf wire format: varints, and length-delimited fields.
struct Pb {
  std::string b;
  Pb& varint(uint64_t v) {
    for (; v >= 0x80; v >>= 7) b += static_cast<char>(v | 0x80);
    b += static_cast<char>(v);
    return *this;
  }
  Pb& key(int field, int wire) { return varint(static_cast<uint64_t>(field) << 3 | static_cast<uint64_t>(wire)); }
  Pb& u64(int f, uint64_t v) { return key(f, 0).varint(v); }
  Pb& i64(int f, int64_t v) { return u64(f, static_cast<uint64_t>(v)); }
  Pb& sint(int f, int64_t v) { return u64(f, (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63)); }
  Pb& str(int f, std::string_view s) { key(f, 2).varint(s.size()); b += s; return *this; }
  Pb& msg(int f, const Pb& m) { return str(f, m.b); }
  Pb& fixed32(int f, uint32_t v) { key(f, 5); b.append(reinterpret_cast<const char*>(&v), 4); return *this; }
  Pb& dbl(int f, double v) { key(f, 1); b.append(reinterpret_cast<const char*>(&v), 8); return *this; }
};

// checkpoint.proto's field numbers.
enum : int { pbF32 = 1, pbF64 = 2, pbI64 = 5, pbBool = 9 };
Pb tensor_entry(std::string_view name, int dtype, std::vector<int64_t> shape, uint64_t offset, uint64_t nbytes,
                uint32_t crc) {
  Pb t;
  t.u64(1, dtype);
  for (int64_t d : shape) t.i64(2, d);
  t.u64(3, offset).u64(4, nbytes).fixed32(5, crc);
  return Pb().str(1, name).msg(2, t);
}
Pb header(const std::vector<Pb>& entries, uint64_t data_size, uint32_t version = 1) {
  Pb h;
  h.u64(1, version).str(2, "hand-made").i64(3, 0).u64(4, data_size);
  for (const Pb& e : entries) h.msg(5, e);
  return h;
}

struct Preamble {
  uint32_t version = 1, flags = 0;
  std::optional<uint64_t> header_len;  // the real one when unset
  bool bad_crc = false;
};
std::string file_of(const Pb& h, const std::string& data, Preamble p = {}) {
  std::string f(io::kMagic.begin(), io::kMagic.end());
  const uint64_t len = p.header_len.value_or(h.b.size());
  f.append(reinterpret_cast<const char*>(&p.version), 4);
  f.append(reinterpret_cast<const char*>(&p.flags), 4);
  f.append(reinterpret_cast<const char*>(&len), 8);
  f += h.b;
  const uint32_t crc = io::crc32c(f.data(), f.size()) ^ (p.bad_crc ? 1u : 0u);
  f.append(reinterpret_cast<const char*>(&crc), 4);
  f.resize(io::align_up(f.size()), '\0');
  return f + data;
}

template <typename T>
std::string bytes_of(std::vector<T> v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}
uint32_t crc_of(const std::string& s) { return io::crc32c(s.data(), s.size()); }

}  // namespace

TEST_CASE("a file written by hand in the documented layout loads", "[io]") {
  TempDir dir;
  const std::string path = dir.file("hand.dsckpt");
  const std::string w = bytes_of<float>({1.5f, -2.f});
  std::string data = w;
  data.resize(64, '\0');
  const std::string idx = bytes_of<int64_t>({7, 8, 9});
  data += idx;
  const Pb h = header({tensor_entry("w", pbF32, {2}, 0, 8, crc_of(w)),
                       Pb().str(1, "n").sint(3, -5),
                       Pb().str(1, "r").dbl(4, 0.5),
                       Pb().str(1, "t").str(5, "hi"),
                       tensor_entry("idx", pbI64, {1, 3}, 64, 24, crc_of(idx)).u64(15, 99)},  // an unknown field
                      data.size());
  io_test::write_bytes(path, file_of(h, data));
  const StateDict s = load_checkpoint(path);
  REQUIRE(s.size() == 5);
  CHECK(s.tensor("w").tolist<float>() == std::vector<float>{1.5f, -2.f});
  CHECK(s.integer("n") == -5);
  CHECK(s.real("r") == 0.5);
  CHECK(s.text("t") == "hi");
  CHECK(s.tensor("idx").sizes() == Shape{1, 3});
  CHECK(s.tensor("idx").tolist<int64_t>() == std::vector<int64_t>{7, 8, 9});
}

TEST_CASE("each lie a header can tell is caught and named", "[io]") {
  TempDir dir;
  const std::string path = dir.file("bad.dsckpt");
  const std::string zeros(64, '\0');
  const uint32_t crc4 = io::crc32c(zeros.data(), 4), crc8 = io::crc32c(zeros.data(), 8);
  auto ints = [](std::initializer_list<const char*> names) {
    std::vector<Pb> v;
    for (const char* n : names) v.push_back(Pb().str(1, n).sint(3, 1));
    return v;
  };
  constexpr int64_t kBig = int64_t{1} << 40;
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  struct Case {
    const char* what;
    std::string file;
    std::string message;
  };
  const std::string bools = std::string("\x01\x02\x00", 3);
  const Case cases[] = {
      {"duplicate names", file_of(header(ints({"a", "b", "a"}), 0), ""), "entry 2 ('a'): a second entry"},
      {"unknown dtype", file_of(header({tensor_entry("x", 42, {1}, 0, 4, crc4)}, 64), zeros), "unknown dtype code 42"},
      {"dtype 0", file_of(header({tensor_entry("x", 0, {1}, 0, 4, crc4)}, 64), zeros), "unknown dtype code 0"},
      {"negative dim", file_of(header({tensor_entry("x", pbF32, {2, -1}, 0, 4, crc4)}, 64), zeros),
       "negative dimension in shape [2, -1]"},
      {"numel overflow", file_of(header({tensor_entry("x", pbF32, {kBig, kBig}, 0, 4, crc4)}, 64), zeros),
       "more elements than an int64"},
      {"zero-sized but huge extent", file_of(header({tensor_entry("x", pbF32, {0, kBig, kBig}, 0, 0, 0)}, 64), zeros),
       "more elements than an int64"},
      {"nbytes overflow", file_of(header({tensor_entry("x", pbF64, {1ll << 31, 1ll << 31}, 0, 4, crc4)}, 64), zeros),
       "is too large"},
      {"nbytes mismatch", file_of(header({tensor_entry("x", pbF32, {3}, 0, 8, crc8)}, 64), zeros),
       "entry 0 ('x'): says 8 bytes, but a float32 tensor of shape [3] has 12"},
      {"misaligned", file_of(header({tensor_entry("x", pbF32, {1}, 4, 4, crc4)}, 64), zeros),
       "offset 4 is not a multiple of 64"},
      {"past the data", file_of(header({tensor_entry("x", pbF32, {1}, 128, 4, crc4)}, 64), zeros),
       "its 4 bytes at offset 128 lie outside the data section (64 bytes)"},
      {"offset wraps", file_of(header({tensor_entry("x", pbF32, {16}, kMax - 63, 64, crc4)}, 64), zeros),
       "lie outside the data section"},
      {"a terabyte claimed", file_of(header({tensor_entry("x", pbF32, {kBig / 4}, 0, kBig, 0)}, 64), zeros),
       "its 1099511627776 bytes at offset 0 lie outside"},
      {"overlap", file_of(header({tensor_entry("x", pbF32, {1}, 0, 4, crc4), tensor_entry("y", pbF32, {1}, 0, 4, crc4)},
                                 64), zeros),
       "entry 0 ('x') and entry 1 ('y') overlap"},
      {"no value", file_of(header({Pb().str(1, "v")}, 0), ""), "entry 0 ('v'): holds no value"},
      {"header version", file_of(header({}, 0, 2), ""), "the header says format 2 but the preamble says 1"},
      {"newer format", file_of(header({}, 0), "", {.version = 2}),
       "written by a newer ds (format 2, this build reads up to 1)"},
      {"version 0", file_of(header({}, 0), "", {.version = 0}), "format version 0 does not exist"},
      {"flags", file_of(header({}, 0), "", {.flags = 1}), "unknown flags 0x1"},
      {"huge header_len", file_of(header({}, 0), "", {.header_len = kMax}), "header length 18446744073709551615 runs past"},
      {"header_len + 28 wraps", file_of(header({}, 0), "", {.header_len = kMax - 27}), "runs past the end"},
      {"header checksum", file_of(header(ints({"a"}), 0), "", {.bad_crc = true}), "header checksum mismatch"},
      {"not protobuf", file_of(Pb{"\xff\xff\xff"}, ""), "is not a valid protobuf message"},
      {"data claimed", file_of(header({}, uint64_t{1} << 40), zeros), "truncated: the data section has 64 of its"},
      {"data appended", file_of(header({}, 0), zeros), "64 unexpected bytes after the end of the data section"},
      {"tensor checksum", file_of(header({tensor_entry("x", pbF32, {2}, 0, 8, crc8 ^ 4)}, 64), zeros),
       "entry 0 ('x'): checksum mismatch over its 8 bytes at file offset"},
      {"bool byte", file_of(header({tensor_entry("m", pbBool, {3}, 0, 3, crc_of(bools))}, 3), bools),
       "entry 0 ('m'): bool element 1 holds the byte 0x02"},
      {"cut in the padding", file_of(header({}, 0), "").substr(0, 60), "truncated: the data section should start at byte 64"},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    io_test::write_bytes(path, c.file);
    CHECK_THROWS_WITH(load_checkpoint(path), StartsWith("[checkpoint] " + path + ": ") && Contains(c.message));
    CHECK_THROWS_WITH(verify_checkpoint(path), Contains(c.message));
  }
}
