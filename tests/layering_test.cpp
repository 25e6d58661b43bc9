// STYLE.md rule 7: dependencies point down the layers only. Every #include "ds/..." (or relative include) in a
// layer's sources must name the layer itself or one below it.
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <string>

#include <catch2/catch.hpp>

namespace fs = std::filesystem;

TEST_CASE("no source file includes a layer above its own", "[layering]") {
  // Layer order (index = height) and the include alias each folder is known by.
  // nn, optim, data, io and graph are siblings: each may use the layers below, never one another.
  const std::map<std::string, int> height = {{"core", 0},  {"ops", 1},  {"autograd", 2}, {"nn", 3},
                                             {"optim", 3}, {"data", 3}, {"io", 3},       {"graph", 3},
                                             {"distributed", 4}, {"models", 5}};
  const std::map<std::string, std::string> folder_alias = {
      {"framework/core", "core"}, {"ops", "ops"},         {"autograd", "autograd"}, {"framework/nn", "nn"},
      {"framework/optim", "optim"}, {"framework/data", "data"}, {"framework/io", "io"},
      {"framework/graph", "graph"}, {"distributed", "distributed"},
      {"models", "models"}};
  const fs::path root = DS_SOURCE_DIR;
  const std::regex inc(R"(#include\s*[<"]ds/(\w+)/)");
  int files = 0;
  for (const auto& [folder, alias] : folder_alias) {
    for (const auto& e : fs::recursive_directory_iterator(root / folder)) {
      const auto ext = e.path().extension();
      if (ext != ".h" && ext != ".cpp" && ext != ".cu") continue;
      ++files;
      std::ifstream in(e.path());
      std::string line;
      while (std::getline(in, line)) {
        std::smatch m;
        if (!std::regex_search(line, m, inc)) continue;
        const auto it = height.find(m[1]);
        if (it == height.end()) continue;
        INFO(e.path().string() << ": " << line);
        CHECK((it->first == alias || it->second < height.at(alias)));
      }
    }
  }
  CHECK(files > 40);
}

TEST_CASE("public distributed headers include neither mpi.h nor nccl.h", "[layering]") {
  // Only the backends' .cpp files and their internal headers (mpi/, nccl/) may see the transports.
  const fs::path root = fs::path(DS_SOURCE_DIR) / "distributed";
  const std::regex inc(R"(#include\s*[<"](mpi|nccl|cuda_runtime)\.h[>"])");
  int headers = 0;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.path().extension() != ".h") continue;
    const std::string parent = e.path().parent_path().filename().string();
    if (parent == "mpi" || parent == "nccl") continue;
    ++headers;
    std::ifstream in(e.path());
    std::string line;
    while (std::getline(in, line)) {
      INFO(e.path().string() << ": " << line);
      CHECK_FALSE(std::regex_search(line, inc));
    }
  }
  CHECK(headers > 5);
}

TEST_CASE("no source file is over 800 lines", "[layering]") {
  // STYLE.md rule 8: small files with one job. Every .h, .cpp, .cu and .cuh of the project counts.
  const fs::path root = DS_SOURCE_DIR;
  int files = 0;
  for (const char* folder : {"framework", "ops", "autograd", "distributed", "models", "tools", "tests", "benchmarks"}) {
    for (const auto& e : fs::recursive_directory_iterator(root / folder)) {
      const auto ext = e.path().extension();
      if (ext != ".h" && ext != ".cpp" && ext != ".cu" && ext != ".cuh") continue;
      ++files;
      std::ifstream in(e.path());
      int lines = 0;
      for (std::string line; std::getline(in, line);) ++lines;
      INFO(e.path().string() << " has " << lines << " lines");
      CHECK(lines <= 800);
    }
  }
  CHECK(files > 300);
}
