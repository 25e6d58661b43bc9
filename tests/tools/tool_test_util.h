#pragma once
// Helpers of the tests that run ds-train and ds-generate as processes: a temporary folder, a tool run with its output
// captured, files read back, and two checkpoints compared entry by entry, bitwise.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <ds/ds.h>
#include <ds/io/checkpoint.h>

#include "../test_util.h"

namespace tool_test {

namespace fs = std::filesystem;

struct Dir {
  fs::path path;
  explicit Dir(const std::string& name)
      : path(fs::temp_directory_path() / ("ds_tool_test_" + name + "_" + std::to_string(::getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~Dir() { fs::remove_all(path); }
};

// Whether Debian's bible-kjv (the text corpus) is installed; warns visibly ("SKIPPED: ...") when it is not.
inline bool have_bible() {
  if (std::system("command -v bible >/dev/null 2>&1") == 0) return true;
  WARN("SKIPPED: the command bible is missing (Debian package bible-kjv)");
  return false;
}

// Runs `binary args` with stdout and stderr to `log` (stdout only with stdout_only); returns the exit code (-1 when
// it did not exit).
inline int run(const std::string& binary, const std::string& args, const fs::path& log, bool stdout_only = false) {
  const std::string cmd = binary + " " + args + " > " + log.string() + (stdout_only ? " 2>/dev/null" : " 2>&1");
  const int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

inline std::string read(const fs::path& p) {
  std::stringstream ss;
  ss << std::ifstream(p).rdbuf();
  return ss.str();
}

// The text from the last occurrence of `key` to the end of its line ("" when absent).
inline std::string last_line_from(const std::string& log, const std::string& key) {
  const size_t at = log.rfind(key);
  return at == std::string::npos ? "" : log.substr(at, log.find('\n', at) - at);
}

// The first group of every match of `pattern` in `log`, as numbers, in order: e.g. the training losses with
// R"(step \d+ batch \d+/\d+ loss ([0-9.]+))".
inline std::vector<double> numbers(const std::string& log, const std::string& pattern) {
  std::vector<double> out;
  const std::regex re(pattern);
  for (auto it = std::sregex_iterator(log.begin(), log.end(), re); it != std::sregex_iterator(); ++it)
    out.push_back(std::stod((*it)[1].str()));
  return out;
}

// Every entry of two checkpoints: the same names, tensors bitwise equal, scalars equal. Returns the tensor count.
inline int check_same_checkpoint(const fs::path& a_path, const fs::path& b_path) {
  const ds::StateDict a = ds::load_checkpoint(a_path.string()), b = ds::load_checkpoint(b_path.string());
  REQUIRE(a.size() == b.size());
  int tensors = 0;
  for (const auto& [name, value] : a) {
    INFO(name);
    REQUIRE(b.contains(name));
    if (const ds::Tensor* t = std::get_if<ds::Tensor>(&value)) {
      CHECK(equal_bits(*t, b.tensor(name)));
      ++tensors;
    } else {
      CHECK(ds::state_kind_name(value) == ds::state_kind_name(*b.find(name)));
      if (const int64_t* i = std::get_if<int64_t>(&value)) CHECK(*i == b.integer(name));
      if (const double* d = std::get_if<double>(&value)) CHECK(*d == b.real(name));
      if (const std::string* t = std::get_if<std::string>(&value)) CHECK(*t == b.text(name));
    }
  }
  return tensors;
}

}  // namespace tool_test
