#pragma once
// DataLoader (torch.utils.data.DataLoader, map-style): batches of a dataset in a seeded per-epoch order, loaded by
// background threads and handed out in order, with a state that resumes mid-epoch bitwise.
//
//   DataLoader loader(dataset, {.batch_size = 64, .shuffle = true, .seed = 1, .num_workers = 2});
//   for (int64_t epoch = 0; epoch < 10; ++epoch) {
//     loader.set_epoch(epoch);                 // optional: a finished epoch is followed by the next one anyway
//     for (Batch& b : loader) train_step(b.input, b.target);
//   }
//
// Reproducibility: the order of epoch e is a function of (seed, e) (identity without shuffle), and a random
// transform of example i in epoch e draws from the stream (seed, e, i). So the batches are bitwise the same for any
// num_workers, and a loader restored from state_dict() yields exactly the batches the saved one had left.
// One thread consumes a loader (next(), iteration, set_epoch, state); the workers only read the dataset, whose
// get()/read_into() must therefore be safe to call concurrently.
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>

#include <ds/data/dataset.h>
#include <ds/data/transforms.h>
#include <ds/ops/state_dict.h>

namespace ds::data {

namespace detail {
struct LoadPlan;
class Prefetcher;
}  // namespace detail

struct DataLoaderOptions {
  int64_t batch_size = 1;
  bool shuffle = false;
  uint64_t seed = 0;      // keys the shuffle and the random transforms
  bool drop_last = false;  // drop the last batch when it is smaller than batch_size
  int num_workers = 0;     // background threads that load batches; 0 loads them in next() on the caller's thread
  int prefetch_factor = 2;  // at most num_workers * prefetch_factor batches are loaded ahead of the consumer
  // Applied to each example's input (which must then be f32) before it is batched; null for none.
  TransformPtr transform;
  // Distributed sampling (torch's DistributedSampler): with num_replicas R > 1 this loader yields only the examples
  // at positions rank, rank + R, rank + 2R, ... of the epoch's order (the same order on every rank: it depends on
  // seed and epoch alone). The order is padded by wrapping around to a multiple of R, so every rank gets the same
  // number of examples, or cut to one with drop_last. Batch k of the R ranks together is then batch k of one loader
  // with batch_size R * batch_size.
  int num_replicas = 1;
  int rank = 0;
};

class DataLoader {
 public:
  DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options);
  // Stops and joins the worker threads, also mid-epoch (waiting at most for the batches they are loading).
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // Batches per epoch: ceil(examples / batch_size), or floor with drop_last, where examples is this replica's share.
  int64_t num_batches() const;
  // Examples per epoch this loader yields (the dataset's size, or this replica's share of it).
  int64_t num_examples() const;
  const Dataset& dataset() const { return *dataset_; }
  const DataLoaderOptions& options() const { return options_; }
  // Shapes of a batch's input (B, ...) and target (B, ...) without B: the dataset's, after the transform.
  const SampleSpec& batch_spec() const { return spec_; }

  // Starts epoch `epoch` from its first batch (abandoning the rest of the current one).
  void set_epoch(int64_t epoch);
  int64_t epoch() const { return epoch_; }
  // Batches of the current epoch already handed out (inside a range-for, the current batch included).
  int64_t position() const { return position_; }

  // The next batch of the current epoch: input (B, ...), target (B, ...), B = batch_size except perhaps the last;
  // nullopt once the epoch is over. An exception thrown while loading an example is rethrown here as a ds::Error
  // naming the example's index (the failed batch counts as handed out).
  std::optional<Batch> next();

  // {epoch, position, seed} and the settings they depend on (num_examples, batch_size, shuffle, drop_last,
  // num_replicas). Every replica is at the same epoch and position, so one replica's state serves all.
  StateDict state_dict() const;
  // Restores epoch, position and seed; the next batch is the one the saved loader would have given next. An error
  // when the dataset size, batch_size, shuffle or drop_last differ from the saved ones. A state saved with another
  // num_replicas (a run resumed on another number of ranks) continues after the examples the saved run had used
  // in this epoch, rounded down to whole batches of the new layout.
  void load_state_dict(const StateDict& state);

  // Range-for over the rest of the current epoch, or over the next epoch when the current one is finished
  // (so consecutive loops give consecutive epochs). An input iterator: one pass at a time.
  class Iterator {
   public:
    using value_type = Batch;
    using difference_type = std::ptrdiff_t;
    Iterator() = default;
    explicit Iterator(DataLoader* loader) : loader_(loader) { ++*this; }
    Batch& operator*() { return *batch_; }
    Batch* operator->() { return &*batch_; }
    Iterator& operator++() {
      batch_ = loader_->next();
      return *this;
    }
    void operator++(int) { ++*this; }
    bool operator==(std::default_sentinel_t) const { return !batch_.has_value(); }

   private:
    DataLoader* loader_ = nullptr;
    std::optional<Batch> batch_;
  };
  Iterator begin();
  std::default_sentinel_t end() { return {}; }

 private:
  void restart(int64_t epoch, int64_t position);  // joins the workers and moves to (epoch, position)

  std::shared_ptr<const Dataset> dataset_;
  DataLoaderOptions options_;
  SampleSpec source_spec_, spec_;  // the dataset's example, and after the transform
  int64_t epoch_ = 0, position_ = 0;
  std::shared_ptr<const detail::LoadPlan> plan_;  // the current epoch's order, made at its first batch
  std::unique_ptr<detail::Prefetcher> prefetcher_;  // the workers' pass over the current epoch, while running
};

}  // namespace ds::data
