#pragma once
// Helpers shared by the io tests: a scratch folder, whole-file bytes, tensors from raw bytes, StateDict equality.
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <ds/ds.h>
#include <ds/io/checkpoint.h>

#include "../test_util.h"

namespace io_test {

namespace fs = std::filesystem;

// A fresh folder under the system's temporary folder, removed with everything in it at the end of the scope.
// kInMemory puts it in /dev/shm where there is one: the corruption tests rewrite a file thousands of times, which
// costs ~0.5 ms a time on ext4 (rewriting a truncated file forces a flush) and ~40 us on tmpfs.
class TempDir {
 public:
  enum Where { kDisk, kInMemory };
  explicit TempDir(Where where = kDisk) {
    static std::atomic<int> counter{0};
    std::error_code ec;
    const fs::path base =
        where == kInMemory && fs::is_directory("/dev/shm", ec) && ::access("/dev/shm", W_OK) == 0
            ? fs::path("/dev/shm")
            : fs::temp_directory_path();
    path_ = base / ("ds-io-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A contiguous CPU tensor holding exactly these bytes (for f16/bf16 bit patterns).
inline ds::Tensor from_bytes(const std::vector<uint8_t>& bytes, ds::IntArrayRef shape, ds::DType dtype) {
  ds::Tensor t = ds::empty(shape, {.dtype = dtype});
  REQUIRE(t.nbytes() == bytes.size());
  if (!bytes.empty()) std::memcpy(t.data(), bytes.data(), bytes.size());
  return t;
}

// Same names in the same order, same kinds, and bitwise-equal values (NaN payloads and -0.0 included).
inline bool same_state(const ds::StateDict& a, const ds::StateDict& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const auto& [na, va] = a.entries()[i];
    const auto& [nb, vb] = b.entries()[i];
    if (na != nb || va.index() != vb.index()) return false;
    if (const auto* t = std::get_if<ds::Tensor>(&va)) {
      if (!equal_bits(*t, std::get<ds::Tensor>(vb))) return false;
    } else if (const auto* d = std::get_if<double>(&va)) {
      if (std::memcmp(d, &std::get<double>(vb), sizeof(double)) != 0) return false;
    } else if (const auto* i = std::get_if<int64_t>(&va)) {
      if (*i != std::get<int64_t>(vb)) return false;
    } else if (std::get<std::string>(va) != std::get<std::string>(vb)) {
      return false;
    }
  }
  return true;
}

// A small state with every kind of value: what the corruption tests mutate.
inline ds::StateDict small_state() {
  using namespace ds;
  StateDict s;
  s.set("w", from_vector<float>({1.5f, -2, 3, 4, 5, 6}, {2, 3}));
  s.set("step", int64_t{42});
  s.set("idx", from_vector<int64_t>({7, -8, 9}));
  s.set("mask", from_vector<bool>({true, false, true}));
  s.set("lr", 0.125);
  s.set("scalar", scalar_tensor(3.0, {.dtype = kF64}));
  s.set("empty", empty({0, 4}, {.dtype = kF16}));
  s.set("opt", std::string("adamw"));
  return s;
}

}  // namespace io_test
