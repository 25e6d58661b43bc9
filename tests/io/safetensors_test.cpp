// safetensors: round trips, a file built byte by byte, the exact bytes the writer produces, one clear error per kind
// of malformed file, and ("[torch]") files exchanged with python's `safetensors` package.
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <catch2/catch.hpp>

#include <ds/io/safetensors.h>

#include "io_test_util.h"

using namespace ds;
using io_test::same_state;
using io_test::TempDir;

namespace {

// A safetensors file: the header's length (u64 LE), the header, the data buffer.
std::string st_file(const std::string& header, const std::string& data = "") {
  std::string out(8, '\0');
  const uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  return out + header + data;
}

std::string le_bytes(const void* p, size_t n) { return std::string(static_cast<const char*>(p), n); }

// The tensors of tests/io/safetensors_reference.py, computed here from the same formulas (every value exact).
StateDict reference_tensors() {
  std::vector<double> i(24);
  for (int k = 0; k < 24; ++k) i[k] = k;
  auto map = [&](auto f) {
    std::vector<double> v;
    for (double x : i) v.push_back(f(x));
    return v;
  };
  StateDict s;
  s.set("f32", from_vector(map([](double x) { return x / 8 - 1.5; }), {2, 3, 4}).to(kF32));
  s.set("f64", from_vector(map([](double x) { return x / 3; }), {4, 6}));
  s.set("f16", from_vector(map([](double x) { return x / 4 - 3; }), {6, 4}).to(kF16));
  s.set("bf16", from_vector(map([](double x) { return x * 16 - 100; })).to(kBF16));
  std::vector<int64_t> i64;
  for (int64_t k = 0; k < 5; ++k) i64.push_back(k * (int64_t{1} << 40) - 3);
  s.set("i64", from_vector(i64));
  s.set("i32", from_vector<int32_t>({0, -7, -14, -21, -28, -35}, {3, 2}));
  s.set("i8", from_vector<int8_t>({-128, -77, -26, 25, 76, 127}));
  s.set("u8", from_vector<uint8_t>({0, 37, 74, 111, 148, 185, 222}));
  s.set("bool", from_vector<bool>({true, false, false, true, false, false, true}));
  s.set("empty", zeros({0, 3}));
  s.set("scalar", scalar_tensor(2.25));
  return s;
}

const Tensor& find_tensor(const StateDict& s, const std::string& name) {
  INFO("tensor " << name);
  REQUIRE(s.contains(name));
  return s.tensor(name);
}

// python3 with torch and safetensors, or a visible skip.
bool have_python_safetensors() {
  static const bool ok = std::system("python3 -c 'import torch, safetensors' >/dev/null 2>&1") == 0;
  return ok;
}

std::string reference_script() { return std::string(DS_SOURCE_DIR) + "/tests/io/safetensors_reference.py"; }

}  // namespace

TEST_CASE("safetensors round trip: every dtype, views, empty and 0-d tensors, metadata", "[io][safetensors]") {
  TempDir dir;
  const std::string path = dir.file("rt.safetensors");
  StateDict s = reference_tensors();
  const Tensor m = from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  s.set("transposed", m.t());  // a view: written contiguous
  s.set("nan", from_vector<float>({NAN, -0.0f, INFINITY}));
  const SafetensorsMetadata meta = {{"format", "pt"}, {"note", "ünïcode ✓"}};
  save_safetensors(path, s, meta);

  SafetensorsMetadata got_meta;
  const StateDict back = load_safetensors(path, &got_meta);
  CHECK(got_meta == meta);
  StateDict expected = s;
  expected.set("transposed", m.t().contiguous());
  CHECK(same_state(back, expected));  // same names, order, dtypes, shapes and bits
  CHECK(back.tensor("transposed").tolist<float>() == std::vector<float>{1, 4, 2, 5, 3, 6});

  // Every tensor starts aligned to its element size in the file (the header is padded to 8 bytes).
  const SafetensorsInfo info = read_safetensors_info(path);
  CHECK(info.header_size % 8 == 0);
  CHECK(info.file_size == std::filesystem::file_size(path));
  for (const auto& t : info.tensors) {
    INFO(t.name);
    CHECK((8 + info.header_size + t.begin) % itemsize(t.dtype) == 0);
  }
  // An empty dict is a valid file too.
  save_safetensors(path, StateDict{});
  CHECK(load_safetensors(path).empty());
  CHECK(io_test::read_bytes(path) == st_file("{}      "));
}

TEST_CASE("safetensors: a file built byte by byte reads as its bytes say", "[io][safetensors]") {
  TempDir dir;
  const std::string path = dir.file("hand.safetensors");
  const float a[] = {1.0f, -2.5f};  // 00 00 80 3f, 00 00 20 c0
  const int64_t b = -7;
  const uint8_t c[] = {1, 0, 1};
  const uint16_t h = 0x3c00;  // f16 1.0
  std::string data = le_bytes(a, 8) + le_bytes(&b, 8) + le_bytes(&h, 2) + le_bytes(c, 3);
  REQUIRE(data.substr(0, 8) == std::string("\x00\x00\x80\x3f\x00\x00\x20\xc0", 8));
  // Out of order on purpose, with spaces, a newline and trailing padding: all allowed by JSON and the format.
  const std::string header = R"({ "c": {"dtype": "BOOL", "shape": [3], "data_offsets": [18, 21]},
    "__metadata__": {"format": "pt"}, "a": {"shape": [2, 1], "dtype": "F32", "data_offsets": [0, 8]},
    "h": {"dtype": "F16", "shape": [], "data_offsets": [16, 18]},
    "b": {"dtype": "I64", "shape": [1], "data_offsets": [8, 16]} }   )";
  io_test::write_bytes(path, st_file(header, data));
  SafetensorsMetadata meta;
  const StateDict s = load_safetensors(path, &meta);
  CHECK(meta == SafetensorsMetadata{{"format", "pt"}});
  REQUIRE(s.size() == 4);
  CHECK(s.entries()[0].first == "c");  // the header's order
  CHECK(s.entries()[1].first == "a");
  const Tensor& ta = s.tensor("a");
  CHECK(ta.dtype() == kF32);
  CHECK(ta.sizes() == Shape{2, 1});
  CHECK(ta.tolist<float>() == std::vector<float>{1.0f, -2.5f});
  CHECK(s.tensor("b").tolist<int64_t>() == std::vector<int64_t>{-7});
  CHECK(s.tensor("c").dtype() == kBool);
  CHECK(s.tensor("c").to(kU8).tolist<uint8_t>() == std::vector<uint8_t>{1, 0, 1});
  CHECK(s.tensor("h").dim() == 0);
  CHECK(s.tensor("h").to(kF32).item<float>() == 1.0f);
}

TEST_CASE("safetensors: the writer's exact bytes", "[io][safetensors]") {
  TempDir dir;
  const std::string path = dir.file("w.safetensors");
  StateDict s;
  s.set("m", from_vector<bool>({true, false}));
  s.set("w", from_vector<float>({1.5f, -2.0f}, {1, 2}));
  save_safetensors(path, s, {{"k", "v"}});
  // Header in the dict's order; bytes by decreasing element size (w's f32 before m's bool); padded to 8.
  const std::string header =
      R"({"__metadata__":{"k":"v"},"m":{"dtype":"BOOL","shape":[2],"data_offsets":[8,10]},)"
      R"("w":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]}})";
  REQUIRE(header.size() == 136);  // a multiple of 8: no padding
  const std::string data = std::string("\x00\x00\xc0\x3f\x00\x00\x00\xc0", 8) + std::string("\x01\x00", 2);
  CHECK(io_test::read_bytes(path) == st_file(header, data));
  // One tensor more and no metadata: a header of 165 bytes, padded with 3 spaces to 168.
  s.set("z", from_vector<int8_t>({-1}));
  save_safetensors(path, s);
  const std::string header2 =
      R"({"m":{"dtype":"BOOL","shape":[2],"data_offsets":[8,10]},)"
      R"("w":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]},)"
      R"("z":{"dtype":"I8","shape":[1],"data_offsets":[10,11]}})";
  REQUIRE(header2.size() == 165);
  CHECK(io_test::read_bytes(path) == st_file(header2 + std::string(3, ' '), data + "\xff"));
}

TEST_CASE("safetensors: each malformed file gives one clear error naming the file and the tensor",
          "[io][safetensors]") {
  TempDir dir;
  const std::string path = dir.file("bad.safetensors");
  const std::string f32_a = R"("a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]})";
  const std::string four(4, '\0');
  struct Case {
    std::string bytes, expected;
  };
  std::string big_len(8, '\0');
  const uint64_t huge = 100;
  std::memcpy(big_len.data(), &huge, 8);
  const std::vector<Case> cases = {
      {"", "too short to be a safetensors file (0 bytes"},
      {big_len + "{}", "the header length 100 (bytes 0 to 8) runs past the end of the file (10 bytes)"},
      {st_file("[1,2]"), "does not start with '{' (byte 8 is 0x5b)"},
      {st_file(""), "does not start with '{' (byte 8 is missing)"},
      {st_file(R"({"a":)"), "is not valid JSON"},
      {st_file("{" + f32_a + "} x", four), "is not valid JSON"},
      {st_file("{\"a\xff\":1}"), "UTF-8"},
      {st_file("{" + f32_a + "," + f32_a + "}", four + four), "the key \"a\" twice in one object: two tensors"},
      {st_file(R"({"a":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}})", four), "\"dtype\" twice"},
      {st_file(R"({"a":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}})", four), "tensor 'a': unknown dtype \"F33\""},
      {st_file(R"({"a":{"dtype":"I16","shape":[2],"data_offsets":[0,4]}})", four),
       "tensor 'a': dtype I16 has no ds equivalent"},
      {st_file(R"({"a":{"dtype":1,"shape":[1],"data_offsets":[0,4]}})", four), "\"dtype\" holds 1, not a string"},
      {st_file(R"({"a":{"dtype":"F32","data_offsets":[0,4]}})", four), "tensor 'a': the field \"shape\" is missing"},
      {st_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"foo":0}})", four), "unknown field \"foo\""},
      {st_file(R"({"a":[1]})"), "tensor 'a': its entry is array ([1]), not an object"},
      {st_file(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", four),
       "\"shape\" holds -1, not a non-negative integer"},
      {st_file(R"({"a":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}})", four), "not a non-negative integer"},
      {st_file(R"({"a":{"dtype":"F32","shape":7,"data_offsets":[0,4]}})", four), "\"shape\" holds 7, not a list"},
      {st_file(R"({"a":{"dtype":"F32","shape":[[1]],"data_offsets":[0,4]}})", four), "nests deeper"},
      {st_file(R"({"a":{"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,4]}})", four),
       "more elements than an int64 counts"},
      {st_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}})", four), "not [begin, end]"},
      {st_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", four), "[4, 0] end before they begin"},
      {st_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}})", four + four),
       "tensor 'a': data_offsets [0, 8] hold 8 bytes, but a F32 tensor of shape [1] has 4"},
      {st_file("{" + f32_a + "}", "xy"), "run past the end of the data buffer (2 bytes)"},
      {st_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", four + four),
       "bytes 0 to 4 of the data buffer belong to no tensor (a hole before tensor 'a')"},
      {st_file("{" + f32_a + "}", four + "zz"), "2 unexpected bytes at the end"},
      {st_file("{" + f32_a + R"(,"b":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}})", four), "overlaps"},
      {st_file(R"({"a":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}})", std::string("\x01\x02", 2)),
       "tensor 'a': bool element 1 holds the byte 0x02"},
      {st_file(R"({"__metadata__":{"k":1}})"), "the value of \"k\" is number (1), not a string"},
      {st_file(R"({"__metadata__":[]})"), "\"__metadata__\" holds [], not an object"},
      {st_file(std::string("{}\0 x", 5)), "the header holds a NUL byte (file offset 10)"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    INFO("case " << i << ": expecting '" << cases[i].expected << "'");
    io_test::write_bytes(path, cases[i].bytes);
    try {
      load_safetensors(path);
      FAIL("loaded");
    } catch (const Error& e) {
      const std::string what = e.what();
      INFO(what);
      CHECK(what.rfind("[safetensors] " + path + ": ", 0) == 0);
      CHECK(what.find(cases[i].expected) != std::string::npos);
    }
    // The header alone is wrong in every case but the bool bytes, which only a load reads.
    if (cases[i].expected.find("bool element") == std::string::npos)
      CHECK_THROWS_AS(read_safetensors_info(path), Error);
  }
  CHECK_THROWS_WITH(load_safetensors(dir.file("missing.safetensors")),
                    Catch::StartsWith("[safetensors] " + dir.file("missing.safetensors") + ": cannot open"));
  // What the format allows: a null metadata, an empty tensor anywhere in the chain, trailing spaces.
  io_test::write_bytes(path, st_file(R"({"__metadata__":null,"e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},)" +
                                         f32_a + "}   ", four));
  CHECK(load_safetensors(path).size() == 2);
}

TEST_CASE("safetensors: what cannot be written is an error naming the entry", "[io][safetensors]") {
  TempDir dir;
  const std::string path = dir.file("w.safetensors");
  StateDict s;
  s.set("step", int64_t{3});
  CHECK_THROWS_WITH(save_safetensors(path, s),
                    "[safetensors] " + path + ": entry 'step' is integer: a safetensors file holds only tensors");
  StateDict u;
  u.set("x", Tensor());
  CHECK_THROWS_WITH(save_safetensors(path, u), Catch::Contains("entry 'x' is an undefined tensor"));
  StateDict r;
  r.set("__metadata__", ones({1}));
  CHECK_THROWS_WITH(save_safetensors(path, r), Catch::Contains("the format reserves it"));
  StateDict b;
  b.set("bad\xff", ones({1}));
  CHECK_THROWS_WITH(save_safetensors(path, b), Catch::Contains("cannot encode the header") && Catch::Contains("UTF-8"));
  CHECK_THROWS_WITH(save_safetensors(dir.file("no/such/folder/x.safetensors"), StateDict{}),
                    Catch::StartsWith("[safetensors] ") && Catch::Contains("cannot create the temporary file"));
  CHECK(!std::filesystem::exists(path));  // nothing half-written is left
  CHECK(std::filesystem::is_empty(dir.path()));
}

TEST_CASE("safetensors: a file written by python's safetensors reads with exact values", "[io][safetensors][torch]") {
  if (!have_python_safetensors()) {
    WARN("SKIPPED: python3 cannot import torch and safetensors");
    return;
  }
  TempDir dir;
  const std::string path = dir.file("py.safetensors");
  REQUIRE(std::system(("python3 " + reference_script() + " write " + path).c_str()) == 0);
  SafetensorsMetadata meta;
  const StateDict got = load_safetensors(path, &meta);
  CHECK(meta == SafetensorsMetadata{{"format", "pt"}, {"written_by", "safetensors_reference.py"}});
  const StateDict want = reference_tensors();
  CHECK(got.size() == want.size());
  for (const auto& [name, value] : want) {
    INFO("tensor " << name);
    CHECK(equal_bits(find_tensor(got, name), std::get<Tensor>(value)));
  }
}

TEST_CASE("safetensors: a file written by ds reads in python with exact values", "[io][safetensors][torch]") {
  if (!have_python_safetensors()) {
    WARN("SKIPPED: python3 cannot import torch and safetensors");
    return;
  }
  TempDir dir;
  const std::string path = dir.file("ds.safetensors");
  save_safetensors(path, reference_tensors(), {{"format", "pt"}, {"written_by", "safetensors_reference.py"}});
  CHECK(std::system(("python3 " + reference_script() + " check " + path).c_str()) == 0);
}
