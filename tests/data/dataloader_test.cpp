// DataLoader: batch counts, shuffling, equality across worker counts, resume, errors from workers, early
// destruction, epochs through range-for, and the cost of collating a batch.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <thread>

#include <catch2/catch.hpp>

#include <ds/data/data.h>

#include "../test_util.h"

using namespace ds;
using namespace ds::data;

namespace {
// input: (2,) f32 = {i, -i}; target: () i64 = i. Through Dataset's default read_into. Throws for example fail_at;
// sleeps `delay` per example; counts live instances of itself.
class Indexed : public Dataset {
 public:
  explicit Indexed(int64_t n, int64_t fail_at = -1, std::chrono::microseconds delay = {})
      : n_(n), fail_at_(fail_at), delay_(delay) {}
  int64_t size() const override { return n_; }
  Example get(int64_t i) const override {
    check_index(i, n_, "indexed");
    if (i == fail_at_) throw std::runtime_error("cannot decode this one");
    if (delay_.count() > 0) std::this_thread::sleep_for(delay_);
    return {tensor({static_cast<float>(i), static_cast<float>(-i)}), scalar_tensor(i, {.dtype = kI64})};
  }

 private:
  int64_t n_, fail_at_;
  std::chrono::microseconds delay_;
};

std::vector<Batch> drain(DataLoader& loader) {
  std::vector<Batch> out;
  while (auto b = loader.next()) out.push_back(std::move(*b));
  return out;
}

bool same_batches(const std::vector<Batch>& a, const std::vector<Batch>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!equal_bits(a[i].input, b[i].input) || !equal_bits(a[i].target, b[i].target) || a[i].indices != b[i].indices)
      return false;
  return true;
}

// Image-like examples with every transform, so that equality covers the per-example random streams.
DataLoaderOptions augmented(int workers) {
  return {.batch_size = 7, .shuffle = true, .seed = 99, .num_workers = workers, .prefetch_factor = 2,
          .transform = std::make_shared<Compose>(std::vector<TransformPtr>{
              std::make_shared<RandomCrop>(6, 2), std::make_shared<RandomHorizontalFlip>(0.5),
              std::make_shared<Normalize>(std::vector<float>{0.1f, 0.2f}, std::vector<float>{0.9f, 1.1f})})};
}
std::shared_ptr<const Dataset> images() {
  static const auto d = std::make_shared<const TensorDataset>(make_pattern_images(50, 5, 2, 6, 6, 1));
  return d;
}
}  // namespace

TEST_CASE("DataLoader batch counts with and without drop_last", "[data]") {
  auto d = std::make_shared<Indexed>(10);
  DataLoader keep(d, {.batch_size = 4});
  CHECK(keep.num_batches() == 3);
  const std::vector<Batch> batches = drain(keep);
  REQUIRE(batches.size() == 3);
  CHECK(batches[0].input.sizes() == Shape{4, 2});
  CHECK(batches[0].target.sizes() == Shape{4});
  CHECK(batches[2].target.tolist<int64_t>() == std::vector<int64_t>{8, 9});
  CHECK(batches[1].input.tolist<float>() == std::vector<float>{4, -4, 5, -5, 6, -6, 7, -7});
  CHECK_FALSE(keep.next().has_value());  // stays at the end of the epoch
  DataLoader drop(d, {.batch_size = 4, .drop_last = true});
  CHECK(drop.num_batches() == 2);
  CHECK(drain(drop).size() == 2);
  CHECK(DataLoader(d, {.batch_size = 5, .drop_last = true}).num_batches() == 2);
  CHECK(DataLoader(d, {.batch_size = 11, .drop_last = true}).num_batches() == 0);
  CHECK(DataLoader(std::make_shared<Indexed>(0), {.batch_size = 3}).num_batches() == 0);
  CHECK_THROWS_WITH(DataLoader(d, {.batch_size = 0}), Catch::Contains("[data_loader] needs batch_size >= 1"));
}

TEST_CASE("DataLoader shuffles with a permutation of (seed, epoch)", "[data]") {
  auto d = std::make_shared<Indexed>(23);
  const DataLoaderOptions opts{.batch_size = 5, .shuffle = true, .seed = 7};
  DataLoader a(d, opts);
  std::vector<int64_t> seen;
  const std::vector<Batch> first = drain(a);
  for (const Batch& b : first) {
    CHECK(b.target.tolist<int64_t>() == b.indices);
    seen.insert(seen.end(), b.indices.begin(), b.indices.end());
  }
  CHECK(seen == epoch_permutation(23, 7, 0));
  std::vector<int64_t> sorted = seen;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 23; ++i) CHECK(sorted[static_cast<size_t>(i)] == i);
  DataLoader b(d, opts);
  CHECK(same_batches(first, drain(b)));  // same seed: same order
  b.set_epoch(1);
  CHECK_FALSE(same_batches(first, drain(b)));  // another epoch: another order
  a.set_epoch(0);
  CHECK(same_batches(first, drain(a)));
  DataLoader plain(d, {.batch_size = 5});
  CHECK(drain(plain)[1].indices == std::vector<int64_t>{5, 6, 7, 8, 9});
}

TEST_CASE("DataLoader gives the same batches for 0, 1 and 3 workers", "[data]") {
  DataLoader serial(images(), augmented(0));
  CHECK(serial.batch_spec().input_shape == Shape{2, 6, 6});
  std::vector<Batch> reference = drain(serial);
  serial.set_epoch(1);
  const std::vector<Batch> reference1 = drain(serial);
  REQUIRE(reference.size() == 8);
  CHECK(reference.back().input.sizes() == Shape{1, 2, 6, 6});
  CHECK_FALSE(same_batches(reference, reference1));
  for (int workers : {1, 3}) {
    INFO(workers << " workers");
    DataLoader loader(images(), augmented(workers));
    CHECK(same_batches(reference, drain(loader)));
    loader.set_epoch(1);
    CHECK(same_batches(reference1, drain(loader)));
  }
  // Prefetching deeper than the epoch, and a prefetch factor of 1.
  DataLoaderOptions wide = augmented(8);
  wide.prefetch_factor = 1;
  DataLoader loader(images(), wide);
  CHECK(same_batches(reference, drain(loader)));
}

TEST_CASE("a DataLoader resumed from its state yields the rest of the epoch bitwise", "[data]") {
  for (int workers : {0, 2}) {
    for (int64_t stop_at : {0, 3, 8}) {
      INFO(workers << " workers, saved after " << stop_at << " batches");
      DataLoader full(images(), augmented(0));
      full.set_epoch(2);
      const std::vector<Batch> all = drain(full);
      DataLoader first(images(), augmented(workers));
      first.set_epoch(2);
      for (int64_t i = 0; i < stop_at; ++i) REQUIRE(first.next().has_value());
      const StateDict state = first.state_dict();
      CHECK(state.integer("epoch") == 2);
      CHECK(state.integer("position") == stop_at);
      // A fresh loader (another worker count, another seed in its options) restores the saved one.
      DataLoaderOptions other = augmented(3 - workers);
      other.seed = 1234;
      DataLoader resumed(images(), other);
      resumed.load_state_dict(state);
      CHECK(resumed.epoch() == 2);
      CHECK(same_batches(std::vector<Batch>(all.begin() + stop_at, all.end()), drain(resumed)));
      // And so does the saved loader itself, after being moved elsewhere.
      first.set_epoch(0);
      first.load_state_dict(state);
      CHECK(same_batches(std::vector<Batch>(all.begin() + stop_at, all.end()), drain(first)));
    }
  }
  DataLoader other(images(), {.batch_size = 5});
  DataLoader saved(images(), augmented(0));
  CHECK_THROWS_WITH(other.load_state_dict(saved.state_dict()),
                    Catch::Contains("[data_loader] the state was saved with batch_size = 7, this loader has "
                                    "batch_size = 5"));
}

TEST_CASE("an error loading an example is rethrown by next() with the example's index", "[data]") {
  for (int workers : {0, 1, 3}) {
    INFO(workers << " workers");
    DataLoader loader(std::make_shared<Indexed>(20, 13), {.batch_size = 4, .num_workers = workers});
    for (int i = 0; i < 3; ++i) REQUIRE(loader.next().has_value());
    CHECK_THROWS_WITH(loader.next(), Catch::Contains("[data_loader] loading example 13 (batch 3 of epoch 0)") &&
                                         Catch::Contains("cannot decode this one"));
    // The failed batch is passed; the epoch goes on.
    auto last = loader.next();
    REQUIRE(last.has_value());
    CHECK(last->indices == std::vector<int64_t>{16, 17, 18, 19});
    CHECK_FALSE(loader.next().has_value());
  }
}

TEST_CASE("destroying a DataLoader mid-epoch joins its workers promptly", "[data]") {
  auto d = std::make_shared<Indexed>(1000, -1, std::chrono::microseconds(200));
  const auto start = std::chrono::steady_clock::now();
  {
    DataLoader loader(d, {.batch_size = 10, .shuffle = true, .num_workers = 3, .prefetch_factor = 2});
    REQUIRE(loader.next().has_value());
    REQUIRE(loader.next().has_value());
    // A change of epoch mid-way also stops the workers of the old one.
    loader.set_epoch(5);
    REQUIRE(loader.next().has_value());
    CHECK(d.use_count() > 1);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(d.use_count() == 1);  // the workers let go of the dataset
  CHECK(seconds < 2.0);       // far less than the 0.2 s per 1000 examples a full pass takes; no hang
  { DataLoader never_started(d, {.batch_size = 10, .num_workers = 2}); }
}

TEST_CASE("range-for runs the rest of the epoch, then whole next epochs", "[data]") {
  auto d = std::make_shared<Indexed>(9);
  DataLoader loader(d, {.batch_size = 4, .shuffle = true, .seed = 3, .num_workers = 2});
  REQUIRE(loader.next().has_value());
  int64_t count = 0;
  for (Batch& b : loader) count += b.input.size(0);
  CHECK(count == 5);  // the rest of epoch 0
  CHECK(loader.epoch() == 0);
  std::vector<int64_t> order;
  for (const Batch& b : loader) order.insert(order.end(), b.indices.begin(), b.indices.end());
  CHECK(loader.epoch() == 1);
  CHECK(order == epoch_permutation(9, 3, 1));
  loader.set_epoch(7);
  order.clear();
  for (const Batch& b : loader) order.insert(order.end(), b.indices.begin(), b.indices.end());
  CHECK(order == epoch_permutation(9, 3, 7));
}

TEST_CASE("collating a batch of 64 28x28 images costs microseconds", "[data]") {
  // A TensorDataset of (1,28,28) f32 images: each example is one memcpy into the preallocated batch.
  const int64_t n = 64 * 40;
  auto d = std::make_shared<TensorDataset>(rand({n, 1, 28, 28}), zeros({n}, {.dtype = kI64}));
  DataLoader loader(d, {.batch_size = 64, .shuffle = true});
  drain(loader);  // warm the allocator's pool
  loader.set_epoch(1);
  const auto start = std::chrono::steady_clock::now();
  int64_t batches = 0;
  while (auto b = loader.next()) batches += b->input.size(0) == 64;
  const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() /
                    static_cast<double>(batches);
  // The floor: memcpy of the same 64 shuffled rows into one buffer.
  const std::vector<int64_t> order = epoch_permutation(n, 0, 2);
  std::vector<float> buffer(64 * 784);
  const auto* rows = d->inputs().data_ptr<float>();
  const auto copy_start = std::chrono::steady_clock::now();
  for (int64_t b = 0; b < 40; ++b)
    for (int64_t k = 0; k < 64; ++k)
      std::memcpy(buffer.data() + k * 784, rows + order[static_cast<size_t>(b * 64 + k)] * 784, 784 * sizeof(float));
  const double copy_us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - copy_start).count() / 40;
  std::printf("[data] DataLoader batch of 64 x (1,28,28) f32 from a TensorDataset: %.1f us (plain memcpy: %.1f us)\n",
              us, copy_us);
  CHECK(batches == 40);
  CHECK(us < 2000.0);  // a loose bound for sanitizer builds; about 10 us in a release build
}

TEST_CASE("distributed sampling: R replicas of batch b make the batches of one loader of batch R b", "[data]") {
  auto ds = std::make_shared<Indexed>(37);
  const int R = 3;
  const int64_t b = 4;
  DataLoader whole(ds, {.batch_size = R * b, .shuffle = true, .seed = 9});
  std::vector<std::unique_ptr<DataLoader>> parts;
  for (int r = 0; r < R; ++r)
    parts.push_back(std::make_unique<DataLoader>(
        ds, DataLoaderOptions{.batch_size = b, .shuffle = true, .seed = 9, .num_replicas = R, .rank = r}));
  // 37 examples pad to 39 = 3 x 13 per replica: 4 batches each (the last of 1), the first two examples repeated.
  for (auto& p : parts) CHECK(p->num_examples() == 13);
  CHECK(parts[0]->num_batches() == 4);
  std::vector<int64_t> seen;
  for (int64_t k = 0; k < whole.num_batches(); ++k) {
    std::vector<int64_t> want = whole.next()->indices, got;
    for (auto& p : parts) {
      const auto batch = p->next();
      REQUIRE(batch.has_value());
      got.insert(got.end(), batch->indices.begin(), batch->indices.end());
    }
    seen.insert(seen.end(), got.begin(), got.end());
    std::sort(want.begin(), want.end());
    std::sort(got.begin(), got.end());
    if (k + 1 < whole.num_batches()) CHECK(got == want);  // the last global batch also holds the 2 padded repeats
  }
  std::sort(seen.begin(), seen.end());
  CHECK(std::unique(seen.begin(), seen.end()) - seen.begin() == 37);  // every example, once or (padding) twice
  CHECK(seen.size() == 39);
  // drop_last cuts to a multiple of R instead of padding.
  DataLoader cut(ds, {.batch_size = b, .drop_last = true, .num_replicas = R, .rank = 2});
  CHECK(cut.num_examples() == 12);
  CHECK(cut.num_batches() == 3);
  CHECK_THROWS_WITH(DataLoader(ds, {.num_replicas = 2, .rank = 2}), Catch::Matchers::Contains("rank 2"));
}

TEST_CASE("a replica's loader state resumes on another number of replicas", "[data]") {
  auto ds = std::make_shared<Indexed>(48);
  DataLoader two(ds, {.batch_size = 4, .shuffle = true, .seed = 3, .num_replicas = 2, .rank = 1});
  for (int i = 0; i < 3; ++i) two.next();  // 3 batches x 4 x 2 replicas = 24 examples of the epoch used
  const StateDict saved = two.state_dict();
  CHECK(saved.integer("num_replicas") == 2);
  DataLoader four(ds, {.batch_size = 4, .shuffle = true, .seed = 3, .num_replicas = 4, .rank = 0});
  four.load_state_dict(saved);
  CHECK(four.position() == 1);  // 24 / (4 x 4), rounded down
  DataLoader one(ds, {.batch_size = 4, .shuffle = true, .seed = 3});
  one.load_state_dict(saved);
  CHECK(one.position() == 6);
}
