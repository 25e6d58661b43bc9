// FashionMNIST: the Debian package's files (sizes, labels, pixel statistics, loader speed) and the errors for a
// missing package or broken files. Tests that need the package skip visibly without it.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <ds/data/data.h>

#include "../test_util.h"

using namespace ds;
using namespace ds::data;
namespace fs = std::filesystem;

namespace {
bool have_package() {
  if (fs::exists(std::string(FashionMNIST::kDefaultRoot) + "/train-images-idx3-ubyte.gz")) return true;
  WARN("skipped: " << FashionMNIST::kDefaultRoot << " is absent (Debian package dataset-fashion-mnist)");
  return false;
}
// Loaded once for all the tests (reading and inflating the training set takes a fraction of a second).
const FashionMNIST& train_set() {
  static const FashionMNIST d(std::string(FashionMNIST::kDefaultRoot), true);
  return d;
}

// A fresh empty directory, removed at the end of the scope.
struct TempDir {
  fs::path path;
  TempDir() {
    static int counter = 0;
    path = fs::temp_directory_path() /
           ("ds_fmnist_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// Writes an uncompressed IDX file (zlib reads plain files as they are) under a .gz name.
void write_idx(const fs::path& file, std::vector<uint32_t> header, size_t data_bytes, uint8_t value = 0) {
  std::ofstream out(file, std::ios::binary);
  for (uint32_t v : header) {
    const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                       static_cast<char>(v)};
    out.write(b, 4);
  }
  const std::vector<char> data(data_bytes, static_cast<char>(value));
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}
}  // namespace

TEST_CASE("FashionMNIST has 60000 training and 10000 test examples of 10 balanced classes", "[data]") {
  if (!have_package()) return;
  const FashionMNIST& train = train_set();
  const FashionMNIST test(std::string(FashionMNIST::kDefaultRoot), false);
  CHECK(train.size() == 60000);
  CHECK(test.size() == 10000);
  CHECK(train.train());
  CHECK_FALSE(test.train());
  CHECK(train.images().sizes() == Shape{60000, 28, 28});
  CHECK(train.images().dtype() == kU8);
  // Each class has 6000 training and 1000 test examples.
  for (const auto* d : {&train, &test}) {
    std::vector<int64_t> counts(10, 0);
    for (int64_t label : d->labels().tolist<int64_t>()) {
      REQUIRE(label >= 0);
      REQUIRE(label < 10);
      ++counts[static_cast<size_t>(label)];
    }
    for (int64_t c : counts) CHECK(c == d->size() / 10);
  }
  CHECK(train.labels().tolist<int64_t>()[0] == 9);  // the first training image is an ankle boot
  CHECK(FashionMNIST::class_names()[9] == "Ankle boot");
  CHECK(FashionMNIST::class_names()[0] == "T-shirt/top");
}

TEST_CASE("FashionMNIST examples are (1,28,28) f32 in [0,1] with the known pixel mean", "[data]") {
  if (!have_package()) return;
  const FashionMNIST& train = train_set();
  const Example e = train.get(0);
  CHECK(e.input.sizes() == Shape{1, 28, 28});
  CHECK(e.input.dtype() == kF32);
  CHECK(e.target.item<int64_t>() == 9);
  CHECK((e.input - (train.images()[0].to(kF32) / 255.0).unsqueeze(0)).abs().max().item<float>() < 1e-7f);
  CHECK_THROWS_WITH(train.get(60000), Catch::Contains("[fashion_mnist] index 60000 out of range"));
  // Mean and std over the whole training set, through the loader (torchvision's usual 0.2860 and 0.3530).
  DataLoader loader(std::shared_ptr<const Dataset>(&train, [](const Dataset*) {}),
                    {.batch_size = 1000, .num_workers = 2});
  double sum = 0, sum_sq = 0;
  float lo = 1, hi = 0;
  for (Batch& b : loader) {
    sum += b.input.sum().item<double>();
    sum_sq += b.input.square().sum().item<double>();
    lo = std::min(lo, b.input.min().item<float>());
    hi = std::max(hi, b.input.max().item<float>());
  }
  const double count = 60000.0 * 784.0, mean = sum / count;
  CHECK(mean == Approx(0.2860).margin(1e-3));
  CHECK(std::sqrt(sum_sq / count - mean * mean) == Approx(0.3530).margin(1e-3));
  CHECK(lo == 0.0f);
  CHECK(hi == 1.0f);
}

TEST_CASE("a FashionMNIST batch of 64 costs microseconds", "[data]") {
  if (!have_package()) return;
  const FashionMNIST& train = train_set();
  DataLoader loader(std::shared_ptr<const Dataset>(&train, [](const Dataset*) {}),
                    {.batch_size = 64, .shuffle = true, .seed = 1});
  for (int i = 0; i < 20; ++i) loader.next();  // warm the allocator's pool
  const int batches = 400;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < batches; ++i) REQUIRE(loader.next()->input.sizes() == Shape{64, 1, 28, 28});
  const auto elapsed = std::chrono::steady_clock::now() - start;
  const double us = std::chrono::duration<double, std::micro>(elapsed).count() / batches;
  std::printf("[data] FashionMNIST batch of 64 (u8 -> f32 [0,1], shuffled): %.1f us per batch\n", us);
  CHECK(us < 2000.0);  // a loose bound for sanitizer builds
}

TEST_CASE("FashionMNIST without the package says which file is missing and how to install it", "[data]") {
  TempDir empty_dir;
  CHECK_THROWS_WITH(FashionMNIST(empty_dir.path.string(), true),
                    Catch::Contains("[fashion_mnist] cannot open") && Catch::Contains("train-images-idx3-ubyte.gz") &&
                        Catch::Contains("install the Debian package dataset-fashion-mnist (./ds setup does)"));
  CHECK_THROWS_WITH(FashionMNIST((empty_dir.path / "nowhere").string(), false),
                    Catch::Contains("nowhere not found") && Catch::Contains("dataset-fashion-mnist"));
}

TEST_CASE("FashionMNIST rejects files with a wrong magic number, size or count", "[data]") {
  TempDir dir;
  const fs::path images = dir.path / "t10k-images-idx3-ubyte.gz", labels = dir.path / "t10k-labels-idx1-ubyte.gz";
  const auto load = [&] { FashionMNIST d(dir.path.string(), false); };
  write_idx(images, {0x0803, 3, 28, 28}, 3 * 784);
  write_idx(labels, {0x0801, 3}, 3, 7);
  FashionMNIST ok(dir.path.string(), false);
  CHECK(ok.size() == 3);
  CHECK(ok.get(2).target.item<int64_t>() == 7);
  write_idx(images, {0x0801, 3, 28, 28}, 3 * 784);
  CHECK_THROWS_WITH(load(), Catch::Contains("magic number 0x00000801, expected 0x00000803"));
  write_idx(images, {0x0803, 3, 28, 27}, 3 * 784);
  CHECK_THROWS_WITH(load(), Catch::Contains("images of 28x27, expected 28x28"));
  write_idx(images, {0x0803, 3, 28, 28}, 3 * 784 - 10);
  CHECK_THROWS_WITH(load(), Catch::Contains("t10k-images-idx3-ubyte.gz is truncated"));
  write_idx(images, {0x0803, 3, 28, 28}, 3 * 784 + 1);
  CHECK_THROWS_WITH(load(), Catch::Contains("bytes after the data"));
  write_idx(images, {0x0803, 4, 28, 28}, 4 * 784);
  CHECK_THROWS_WITH(load(), Catch::Contains("4 images but 3 labels"));
  write_idx(images, {0x0803, 3, 28, 28}, 3 * 784);
  write_idx(labels, {0x0801, 3}, 3, 10);
  CHECK_THROWS_WITH(load(), Catch::Contains("label 10 of example 0 is not a class"));
}
