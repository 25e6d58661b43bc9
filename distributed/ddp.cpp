// DistributedDataParallel: rank 0's state broadcast, buckets filled from post-accumulate-grad hooks and reduced in
// order while backward runs, and the end-of-backward callback that waits and writes the averages back.
#include "ddp.h"

#include <algorithm>
#include <numeric>
#include <unordered_set>

#include <ds/autograd/engine.h>
#include <ds/autograd/node.h>
#include <ds/core/detail/check.h>
#include <ds/ops/factory.h>

namespace ds::dist {

struct DistributedDataParallel::Bucket {
  std::vector<size_t> params;
  Tensor buffer;  // (numel,) flat gradients of params, in order
  int pending = 0;
  WorkPtr work;
};

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

// Parameter shapes and dtypes as int64s: count, then per parameter ndim, dims..., dtype.
std::vector<int64_t> signature(const std::vector<Tensor>& ts) {
  std::vector<int64_t> s{static_cast<int64_t>(ts.size())};
  for (const Tensor& t : ts) {
    s.push_back(t.dim());
    for (int64_t d : t.sizes()) s.push_back(d);
    s.push_back(static_cast<int64_t>(t.dtype()));
  }
  return s;
}

}  // namespace

DistributedDataParallel::DistributedDataParallel(std::shared_ptr<nn::Module> module, ProcessGroupPtr group,
                                                 DDPOptions options)
    : nn::Module("DistributedDataParallel"), module_(std::move(module)), group_(std::move(group)),
      options_(std::move(options)) {
  DS_CHECK(module_ != nullptr, "DDP", "the module is null");
  DS_CHECK(group_ != nullptr, "DDP", "the process group is null (this rank is not a member of it)");
  DS_CHECK(options_.bucket_cap_mb > 0 && options_.first_bucket_cap_mb > 0, "DDP",
           "bucket sizes must be positive (bucket_cap_mb {}, first_bucket_cap_mb {})", options_.bucket_cap_mb,
           options_.first_bucket_cap_mb);
  register_module("module", module_);
  if (!options_.comm_hook) options_.comm_hook = allreduce_hook();
  std::unordered_set<TensorImpl*> seen;
  for (auto& [name, t] : module_->named_parameters())
    if (t.requires_grad() && seen.insert(t.impl()).second) params_.push_back({name, t});
  DS_CHECK(!params_.empty(), "DDP", "the module has no parameter that requires grad");
  NoGradGuard no_grad;

  // Every rank must wrap the same model: compare with rank 0's shapes, and fail together.
  std::vector<Tensor> tensors;
  for (const Param& p : params_) tensors.push_back(p.tensor);
  const std::vector<int64_t> mine = signature(tensors);
  Tensor len = full({1}, static_cast<int64_t>(mine.size()), {.dtype = kI64});
  group_->broadcast(len, 0)->wait();
  Tensor theirs = len.item<int64_t>() == static_cast<int64_t>(mine.size()) ? from_vector(mine)
                                                                             : zeros({len.item<int64_t>()}, {.dtype = kI64});
  group_->broadcast(theirs, 0)->wait();
  std::string mismatch;
  if (theirs.tolist<int64_t>() != mine) {
    mismatch = fmt::format("rank {} has {} parameters, rank 0's model differs (count or shapes)", group_->rank(),
                           params_.size());
    const std::vector<int64_t> ref = theirs.tolist<int64_t>();
    size_t k = 1;
    for (size_t i = 0; i < params_.size() && !ref.empty() && k < ref.size(); ++i) {
      const Tensor& t = params_[i].tensor;
      const int64_t nd = ref[k];
      std::vector<int64_t> dims(ref.begin() + static_cast<int64_t>(k) + 1,
                                ref.begin() + std::min<int64_t>(static_cast<int64_t>(ref.size()), k + 1 + nd));
      if (t.dim() != nd || std::vector<int64_t>(t.sizes().begin(), t.sizes().end()) != dims) {
        mismatch = fmt::format("parameter {} '{}' has shape {} on rank {} but {} on rank 0", i, params_[i].name,
                               shape_str(t.sizes()), group_->rank(), shape_str(dims));
        break;
      }
      k += static_cast<size_t>(nd) + 2;
    }
  }
  DS_CHECK(all_ranks(mismatch.empty()), "DDP", "every rank must wrap the same model: {}",
           mismatch.empty() ? "another rank's parameters differ from rank 0's" : mismatch);

  // Rank 0's values everywhere.
  std::vector<WorkPtr> works;
  for (const Param& p : params_) works.push_back(group_->broadcast(p.tensor, 0));
  for (const Tensor& b : module_->buffers()) works.push_back(group_->broadcast(b, 0));
  wait_all(works);

  std::vector<size_t> order(params_.size());
  std::iota(order.rbegin(), order.rend(), size_t{0});  // reverse registration order
  build_buckets(order);
  unused_in_forward_.assign(params_.size(), false);
  for (size_t i = 0; i < params_.size(); ++i)
    hooks_.push_back(params_[i].tensor.register_post_accumulate_grad_hook([this, i](const Tensor&) { on_gradient(i); }));
}

DistributedDataParallel::~DistributedDataParallel() {
  for (RemovableHandle& h : hooks_) h.remove();
  for (auto& b : buckets_)
    if (b->work) {
      try {
        b->work->wait();
      } catch (...) {
      }
    }
}

void DistributedDataParallel::build_buckets(const std::vector<size_t>& order) {
  buckets_.clear();
  int64_t bytes = 0;
  double cap = options_.first_bucket_cap_mb * 1024 * 1024;
  for (size_t i : order) {
    Param& p = params_[i];
    const int64_t nbytes = static_cast<int64_t>(p.tensor.nbytes());
    bool fresh = buckets_.empty();
    if (!fresh) {
      const Param& first = params_[buckets_.back()->params.front()];
      fresh = first.tensor.dtype() != p.tensor.dtype() || first.tensor.device() != p.tensor.device() ||
              bytes + nbytes > cap;
    }
    if (fresh) {
      if (!buckets_.empty()) cap = options_.bucket_cap_mb * 1024 * 1024;
      buckets_.push_back(std::make_unique<Bucket>());
      bytes = 0;
    }
    Bucket& b = *buckets_.back();
    p.bucket = buckets_.size() - 1;
    p.offset = bytes / static_cast<int64_t>(p.tensor.element_size());
    b.params.push_back(i);
    bytes += nbytes;
  }
  for (auto& b : buckets_) {
    int64_t numel = 0;
    for (size_t i : b->params) numel += params_[i].tensor.numel();
    const Tensor& t = params_[b->params.front()].tensor;
    b->buffer = zeros({numel}, {.dtype = t.dtype(), .device = t.device()});
  }
}

std::vector<std::vector<std::string>> DistributedDataParallel::bucket_layout() const {
  std::vector<std::vector<std::string>> out;
  for (const auto& b : buckets_) {
    out.emplace_back();
    for (size_t i : b->params) out.back().push_back(params_[i].name);
  }
  return out;
}

void DistributedDataParallel::broadcast_state() {
  if (!options_.broadcast_buffers || group_->size() == 1) return;
  NoGradGuard no_grad;
  std::vector<WorkPtr> works;
  for (const Tensor& b : module_->buffers()) works.push_back(group_->broadcast(b, 0));
  wait_all(works);
}

Tensor DistributedDataParallel::forward(const Tensor& x) {
  return run([&] { return (*module_)(x); });
}

Tensor DistributedDataParallel::run(const std::function<Tensor()>& forward_fn) {
  broadcast_state();
  Tensor out = forward_fn();
  if (options_.find_unused_parameters && is_grad_enabled()) find_unused({out});
  return out;
}

std::vector<Tensor> DistributedDataParallel::run_many(const std::function<std::vector<Tensor>()>& forward_fn) {
  broadcast_state();
  std::vector<Tensor> out = forward_fn();
  if (options_.find_unused_parameters && is_grad_enabled()) find_unused(out);
  return out;
}

// Marks the parameters whose AccumulateGrad the outputs' graph does not reach: they will get no gradient.
void DistributedDataParallel::find_unused(const std::vector<Tensor>& outputs) {
  std::unordered_set<const TensorImpl*> reached;
  std::unordered_set<const autograd::Node*> seen;
  std::vector<autograd::Node*> stack;
  for (const Tensor& t : outputs) {
    if (!t.defined()) continue;
    reached.insert(t.impl());
    const AutogradMeta* m = t.impl()->autograd();
    if (m && m->grad_fn) stack.push_back(static_cast<autograd::Node*>(m->grad_fn.get()));
  }
  while (!stack.empty()) {
    autograd::Node* n = stack.back();
    stack.pop_back();
    if (!seen.insert(n).second) continue;
    if (n->is_sink()) reached.insert(static_cast<autograd::AccumulateGrad*>(n)->leaf());
    for (const autograd::Edge& e : n->next_edges())
      if (e.node) stack.push_back(e.node.get());
  }
  for (size_t i = 0; i < params_.size(); ++i) unused_in_forward_[i] = !reached.count(params_[i].tensor.impl());
}

void DistributedDataParallel::begin_backward() {
  in_backward_ = true;
  backward_start_ = Clock::now();
  bytes_at_start_ = group_->bytes_sent();
  next_bucket_ = 0;
  for (Param& p : params_) p.ready = p.used = false;
  for (auto& b : buckets_) {
    b->pending = static_cast<int>(b->params.size());
    b->work.reset();
  }
  autograd::queue_callback([this] { finalize(); });
  if (options_.find_unused_parameters)
    for (size_t i = 0; i < params_.size(); ++i)
      if (unused_in_forward_[i]) mark_ready(i, false);
}

void DistributedDataParallel::on_gradient(size_t index) {
  if (!require_sync_) return;  // no_sync: gradients accumulate locally
  if (!in_backward_) begin_backward();
  DS_CHECK(!params_[index].ready, "DDP",
           "parameter '{}' got its gradient twice in one backward (used both inside and outside a reentrant "
           "checkpoint, or marked unused by find_unused_parameters although the graph reaches it)",
           params_[index].name);
  mark_ready(index, true);
}

void DistributedDataParallel::mark_ready(size_t index, bool has_grad) {
  NoGradGuard no_grad;
  Param& p = params_[index];
  Bucket& b = *buckets_[p.bucket];
  Tensor slot = b.buffer.narrow(0, p.offset, p.tensor.numel());
  const Tensor g = p.tensor.grad();
  if (has_grad && g.defined()) slot.copy_(g.reshape({p.tensor.numel()}));
  else slot.zero_();
  p.ready = true;
  p.used = has_grad;
  if (!rebuilt_) arrival_.push_back(index);
  --b.pending;
  launch_ready_buckets();
}

void DistributedDataParallel::launch_ready_buckets() {
  // In bucket order on every rank, so that the collectives line up.
  while (next_bucket_ < buckets_.size() && buckets_[next_bucket_]->pending == 0) {
    Bucket& b = *buckets_[next_bucket_];
    b.work = options_.comm_hook->reduce(*group_, static_cast<int>(next_bucket_), b.buffer);
    ++next_bucket_;
  }
}

void DistributedDataParallel::finalize() {
  NoGradGuard no_grad;
  std::vector<std::string> missing;
  for (size_t i = 0; i < params_.size(); ++i) {
    if (params_[i].ready) continue;
    if (options_.find_unused_parameters) mark_ready(i, false);
    else missing.push_back(params_[i].name);
  }
  if (!missing.empty()) {
    in_backward_ = false;
    DS_FAIL("DDP",
            "rank {}: {} parameter(s) got no gradient in this backward: {}. Every parameter must take part in every "
            "step's loss; if some do not (branches, frozen parts), construct DDP with find_unused_parameters = true",
            group_->rank(), missing.size(), fmt::join(missing, ", "));
  }
  const auto wait_start = Clock::now();
  for (auto& b : buckets_) b->work->wait();
  stats_.exposed_comm_ms = ms_since(wait_start);
  // With find_unused_parameters a parameter no rank used keeps .grad undefined.
  std::vector<bool> used_anywhere(params_.size(), true);
  if (options_.find_unused_parameters) {
    Tensor used = zeros({static_cast<int64_t>(params_.size())}, {.dtype = kI32});
    int32_t* u = used.data_ptr<int32_t>();
    for (size_t i = 0; i < params_.size(); ++i) u[i] = params_[i].used ? 1 : 0;
    group_->allreduce(used, ReduceOp::kMax)->wait();
    for (size_t i = 0; i < params_.size(); ++i) used_anywhere[i] = u[i] != 0;
  }
  for (size_t i = 0; i < params_.size(); ++i) {
    Param& p = params_[i];
    if (!used_anywhere[i]) continue;
    Tensor avg = buckets_[p.bucket]->buffer.narrow(0, p.offset, p.tensor.numel()).view(p.tensor.sizes());
    Tensor g = p.tensor.grad();
    if (g.defined()) g.copy_(avg);
    else p.tensor.set_grad(avg.clone());
  }
  if (!rebuilt_) {
    // Rank 0's arrival order for everyone, then buckets in that order.
    Tensor order = from_vector(std::vector<int64_t>(arrival_.begin(), arrival_.end()));
    group_->broadcast(order, 0)->wait();
    std::vector<size_t> o;
    for (int64_t v : order.tolist<int64_t>()) o.push_back(static_cast<size_t>(v));
    build_buckets(o);
    rebuilt_ = true;
    arrival_.clear();
  }
  stats_.buckets = static_cast<int>(buckets_.size());
  stats_.bytes_sent = group_->bytes_sent() - bytes_at_start_;
  stats_.backward_ms = ms_since(backward_start_);
  in_backward_ = false;
}

bool DistributedDataParallel::all_ranks(bool ok) {
  Tensor flag = full({1}, ok ? 1 : 0, {.dtype = kI32});
  group_->allreduce(flag, ReduceOp::kMin)->wait();
  return flag.item<int32_t>() == 1;
}

}  // namespace ds::dist
