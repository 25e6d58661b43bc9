#include <ds/data/dataloader.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>
#include <variant>

#include <ds/core/detail/check.h>
#include <ds/data/random_stream.h>
#include <ds/ops/factory.h>

namespace ds::data {

namespace detail {

// Everything needed to load any batch of one epoch; immutable, shared by the workers.
struct LoadPlan {
  std::shared_ptr<const Dataset> dataset;
  SampleSpec source, spec;  // an example as read, and after the transform
  TransformPtr transform;
  uint64_t seed;
  int64_t epoch, batch_size, num_examples;
  std::vector<int64_t> order;  // dataset index at each position of the epoch; empty: the identity

  int64_t index_at(int64_t pos) const { return order.empty() ? pos : order[static_cast<size_t>(pos)]; }
};

namespace {

Shape with_batch_dim(int64_t b, const Shape& s) {
  Shape out{b};
  for (int64_t d : s) out.push_back(d);
  return out;
}

// Batch b of the plan's epoch: each example is read (and transformed) straight into its row of the preallocated
// batch tensors, so collating costs one copy of the bytes.
Batch load_batch(const LoadPlan& plan, int64_t b) {
  const int64_t begin = b * plan.batch_size, count = std::min(plan.batch_size, plan.num_examples - begin);
  Batch batch{empty(with_batch_dim(count, plan.spec.input_shape), {.dtype = plan.spec.input_dtype}),
              empty(with_batch_dim(count, plan.spec.target_shape), {.dtype = plan.spec.target_dtype}),
              std::vector<int64_t>(static_cast<size_t>(count))};
  const size_t in_bytes = static_cast<size_t>(numel_of(plan.spec.input_shape)) * itemsize(plan.spec.input_dtype);
  const size_t tgt_bytes = static_cast<size_t>(numel_of(plan.spec.target_shape)) * itemsize(plan.spec.target_dtype);
  auto* in = static_cast<std::byte*>(batch.input.data());
  auto* tgt = static_cast<std::byte*>(batch.target.data());
  std::vector<float> scratch(plan.transform ? static_cast<size_t>(numel_of(plan.source.input_shape)) : 0);
  for (int64_t k = 0; k < count; ++k) {
    const int64_t index = plan.index_at(begin + k);
    batch.indices[static_cast<size_t>(k)] = index;
    void* in_row = in + static_cast<size_t>(k) * in_bytes;
    void* tgt_row = tgt + static_cast<size_t>(k) * tgt_bytes;
    try {
      if (!plan.transform) {
        plan.dataset->read_into(index, plan.source, in_row, tgt_row);
      } else {
        plan.dataset->read_into(index, plan.source, scratch.data(), tgt_row);
        RandomStream rng = RandomStream::for_sample(plan.seed, plan.epoch, index);
        plan.transform->apply(scratch.data(), plan.source.input_shape, static_cast<float*>(in_row), rng);
      }
    } catch (const std::exception& e) {
      DS_FAIL("data_loader", "loading example {} (batch {} of epoch {}): {}", index, b, plan.epoch, e.what());
    } catch (...) {
      DS_FAIL("data_loader", "loading example {} (batch {} of epoch {}): an exception of unknown type", index, b,
              plan.epoch);
    }
  }
  return batch;
}

}  // namespace

// Worker threads loading the batches [first, end) of one epoch: a worker claims the lowest unclaimed batch while
// fewer than `capacity` batches are claimed but not yet taken; the consumer takes them in order.
class Prefetcher {
 public:
  Prefetcher(std::shared_ptr<const LoadPlan> plan, int64_t first, int64_t end, int workers, int64_t capacity)
      : plan_(std::move(plan)), next_claim_(first), next_take_(first), end_(end), capacity_(capacity) {
    threads_.reserve(static_cast<size_t>(workers));
    for (int w = 0; w < workers; ++w) threads_.emplace_back([this] { work(); });
  }
  ~Prefetcher() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    can_claim_.notify_all();
    for (std::thread& t : threads_) t.join();
  }
  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;

  // Waits for batch b (the one after the last taken) and returns it, or rethrows the error its loading raised.
  Batch take(int64_t b) {
    std::unique_lock<std::mutex> lock(mu_);
    DS_CHECK(b == next_take_ && b < end_, "data_loader", "batch {} taken out of order (expected {})", b, next_take_);
    ready_cv_.wait(lock, [&] { return ready_.count(b) != 0; });
    auto node = ready_.extract(b);
    next_take_ = b + 1;
    lock.unlock();
    can_claim_.notify_all();
    if (auto* error = std::get_if<std::exception_ptr>(&node.mapped())) std::rethrow_exception(*error);
    return std::move(std::get<Batch>(node.mapped()));
  }

 private:
  void work() {
    for (;;) {
      int64_t b;
      {
        std::unique_lock<std::mutex> lock(mu_);
        can_claim_.wait(lock, [&] { return stop_ || next_claim_ >= end_ || next_claim_ < next_take_ + capacity_; });
        if (stop_ || next_claim_ >= end_) return;
        b = next_claim_++;
      }
      std::variant<Batch, std::exception_ptr> result;
      try {
        result = load_batch(*plan_, b);
      } catch (...) {
        result = std::current_exception();
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        ready_.emplace(b, std::move(result));
      }
      ready_cv_.notify_one();  // only the consumer waits on it
    }
  }

  std::shared_ptr<const LoadPlan> plan_;
  std::mutex mu_;
  std::condition_variable can_claim_, ready_cv_;
  int64_t next_claim_, next_take_, end_, capacity_;
  bool stop_ = false;
  std::map<int64_t, std::variant<Batch, std::exception_ptr>> ready_;
  std::vector<std::thread> threads_;
};

}  // namespace detail

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options)
    : dataset_(std::move(dataset)), options_(std::move(options)) {
  DS_CHECK(dataset_ != nullptr, "data_loader", "the dataset is null");
  DS_CHECK(options_.num_replicas >= 1 && options_.rank >= 0 && options_.rank < options_.num_replicas, "data_loader",
           "rank {} is not in [0, num_replicas {})", options_.rank, options_.num_replicas);
  DS_CHECK(options_.batch_size >= 1 && options_.num_workers >= 0 && options_.prefetch_factor >= 1, "data_loader",
           "needs batch_size >= 1, num_workers >= 0 and prefetch_factor >= 1, got {}, {} and {}", options_.batch_size,
           options_.num_workers, options_.prefetch_factor);
  if (dataset_->size() > 0) source_spec_ = dataset_->spec();
  spec_ = source_spec_;
  if (options_.transform && dataset_->size() > 0) {
    DS_CHECK(source_spec_.input_dtype == kF32, "data_loader", "transforms need f32 inputs, the dataset's are {}",
             dtype_name(source_spec_.input_dtype));
    spec_.input_shape = options_.transform->output_shape(source_spec_.input_shape);
  }
}

DataLoader::~DataLoader() = default;  // ~Prefetcher stops and joins the workers

int64_t DataLoader::num_examples() const {
  const int64_t n = dataset_->size(), r = options_.num_replicas;
  return options_.drop_last ? n / r : (n + r - 1) / r;
}

int64_t DataLoader::num_batches() const {
  const int64_t n = num_examples(), bs = options_.batch_size;
  return options_.drop_last ? n / bs : (n + bs - 1) / bs;
}

void DataLoader::restart(int64_t epoch, int64_t position) {
  prefetcher_.reset();
  plan_.reset();
  epoch_ = epoch;
  position_ = position;
}

void DataLoader::set_epoch(int64_t epoch) {
  DS_CHECK(epoch >= 0, "data_loader", "epoch must be >= 0, got {}", epoch);
  restart(epoch, 0);
}

std::optional<Batch> DataLoader::next() {
  const int64_t total = num_batches();
  if (position_ >= total) return std::nullopt;
  if (!plan_) {
    const int64_t n = dataset_->size();
    std::vector<int64_t> order =
        options_.shuffle ? epoch_permutation(n, options_.seed, epoch_) : std::vector<int64_t>{};
    if (options_.num_replicas > 1) {
      // This replica's positions of the epoch's order, padded by wrapping around.
      std::vector<int64_t> mine(static_cast<size_t>(num_examples()));
      for (size_t k = 0; k < mine.size(); ++k) {
        const int64_t pos = (options_.rank + static_cast<int64_t>(k) * options_.num_replicas) % n;
        mine[k] = order.empty() ? pos : order[static_cast<size_t>(pos)];
      }
      order = std::move(mine);
    }
    plan_ = std::make_shared<const detail::LoadPlan>(detail::LoadPlan{dataset_, source_spec_, spec_,
                                                                      options_.transform, options_.seed, epoch_,
                                                                      options_.batch_size, num_examples(),
                                                                      std::move(order)});
  }
  const int64_t b = position_++;  // a batch that fails to load counts as handed out
  if (options_.num_workers == 0) return detail::load_batch(*plan_, b);
  if (!prefetcher_) {
    const int64_t capacity = int64_t{options_.num_workers} * options_.prefetch_factor;
    prefetcher_ = std::make_unique<detail::Prefetcher>(plan_, b, total, options_.num_workers, capacity);
  }
  Batch batch = prefetcher_->take(b);
  if (position_ == total) prefetcher_.reset();  // the workers have finished: join them now
  return batch;
}

DataLoader::Iterator DataLoader::begin() {
  if (position_ >= num_batches() && num_batches() > 0) restart(epoch_ + 1, 0);
  return Iterator(this);
}

StateDict DataLoader::state_dict() const {
  StateDict s;
  s.set("epoch", epoch_);
  s.set("position", position_);
  s.set("seed", static_cast<int64_t>(options_.seed));  // the bits of the u64
  s.set("num_examples", dataset_->size());
  s.set("batch_size", options_.batch_size);
  s.set("shuffle", int64_t{options_.shuffle});
  s.set("drop_last", int64_t{options_.drop_last});
  s.set("num_replicas", int64_t{options_.num_replicas});
  return s;
}

void DataLoader::load_state_dict(const StateDict& state) {
  const auto same = [&](const char* key, int64_t mine) {
    const int64_t saved = state.integer(key);
    DS_CHECK(saved == mine, "data_loader", "the state was saved with {} = {}, this loader has {} = {}", key, saved, key,
             mine);
  };
  same("num_examples", dataset_->size());
  same("batch_size", options_.batch_size);
  same("shuffle", options_.shuffle);
  same("drop_last", options_.drop_last);
  const int64_t epoch = state.integer("epoch");
  int64_t position = state.integer("position");
  const int64_t replicas = state.contains("num_replicas") ? state.integer("num_replicas") : 1;
  DS_CHECK(replicas >= 1, "data_loader", "the state's num_replicas {} is not positive", replicas);
  if (replicas != options_.num_replicas) {
    // The same examples used so far in this epoch, in batches of the new layout (rounded down).
    const int64_t used = position * options_.batch_size * replicas;
    position = std::min(used / (options_.batch_size * options_.num_replicas), num_batches());
  }
  DS_CHECK(epoch >= 0 && position >= 0 && position <= num_batches(), "data_loader",
           "the state's epoch {} and position {} are out of range ({} batches per epoch)", epoch, position,
           num_batches());
  options_.seed = static_cast<uint64_t>(state.integer("seed"));
  restart(epoch, position);
}

}  // namespace ds::data
