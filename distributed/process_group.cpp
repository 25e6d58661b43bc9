// ProcessGroup: argument checks, sequence numbers and the flight recorder in front of the backends.
#include "process_group.h"

#include <algorithm>
#include <set>

#include <ds/core/detail/check.h>
#include <ds/ops/factory.h>

#include "detail/backend.h"
#include "detail/nccl.h"
#include "flight_recorder.h"

namespace ds::dist {

using detail::Collective;
using detail::OpKind;

namespace {

std::string tensor_str(const Tensor& t) { return fmt::format("{} {}", dtype_name(t.dtype()), shape_str(t.sizes())); }

void check_tensor(const Tensor& t, const char* op, const char* what, const std::string& group) {
  DS_CHECK(t.defined(), op, "the {} tensor is undefined (group '{}')", what, group);
  DS_CHECK(t.is_contiguous(), op,
           "the {} tensor ({}, strides {}) is not contiguous; collectives read and write memory in place: pass "
           "t.contiguous() and copy back", what, tensor_str(t), shape_str(t.strides()), group);
}

void check_same(const Tensor& a, const Tensor& b, const char* op) {
  DS_CHECK(a.dtype() == b.dtype(), op, "input {} and output {} have different dtypes", tensor_str(a), tensor_str(b));
  DS_CHECK(a.device() == b.device(), op, "input {} is on {} but output {} is on {}", tensor_str(a),
           a.device().str(), tensor_str(b), b.device().str());
}

// The sum of per-rank counts: one non-negative count per rank of the group.
int64_t checked_total(const std::vector<int64_t>& counts, int ranks, const char* op) {
  DS_CHECK(static_cast<int>(counts.size()) == ranks, op, "{} counts for a group of {} ranks", counts.size(), ranks);
  int64_t total = 0;
  for (int64_t n : counts) {
    DS_CHECK(n >= 0, op, "negative count {}", n);
    total += n;
  }
  return total;
}

}  // namespace

ProcessGroup::ProcessGroup(std::string name, int rank, std::vector<int> world_ranks,
                           std::shared_ptr<detail::Backend> cpu, Timeout timeout)
    : name_(std::move(name)), rank_(rank), world_ranks_(std::move(world_ranks)), cpu_(std::move(cpu)),
      timeout_(timeout) {}

ProcessGroup::~ProcessGroup() = default;

detail::Backend& ProcessGroup::backend_for(const Tensor& t, const char* op) {
  if (!t.defined() || t.is_cpu()) return *cpu_;
  if (!cuda_) cuda_ = detail::make_nccl_backend(*this, t.device());
  return *cuda_;
}

WorkPtr ProcessGroup::submit(Collective& c) {
  detail::Backend& backend = backend_for(c.in.defined() ? c.in : c.out, std::string(op_kind_name(c.kind)).c_str());
  c.seq = seq_++;
  std::string detail;
  const Tensor& t = c.in.defined() ? c.in : c.out;
  if (t.defined()) detail = tensor_str(t);
  if (c.kind == OpKind::kAllreduce || c.kind == OpKind::kReduce || c.kind == OpKind::kReduceScatter ||
      c.kind == OpKind::kReduceScatterV)
    detail += fmt::format(" {}", reduce_op_name(c.op));
  if (c.kind == OpKind::kBroadcast || c.kind == OpKind::kReduce) detail += fmt::format(" root {}", c.peer);
  if (c.kind == OpKind::kSend) detail += fmt::format(" to {} tag {}", c.peer, c.tag);
  if (c.kind == OpKind::kRecv) detail += fmt::format(" from {} tag {}", c.peer, c.tag);
  const std::string op(op_kind_name(c.kind));
  if (c.description.empty()) c.description = op;
  c.description = fmt::format("{} #{} on group '{}'{}", c.description, c.seq, name_,
                              detail.empty() ? "" : fmt::format(" ({})", detail));
  c.record_id = FlightRecorder::instance().record(name_, c.seq, op, detail);
  c.work = std::make_shared<Work>(c.description);
  c.timeout = timeout_;
  c.bytes_counter = &bytes_sent_;
  WorkPtr work = c.work;
  backend.enqueue(std::move(c));
  return work;
}

WorkPtr ProcessGroup::run_job(const std::string& name, const Tensor& t, std::function<void(detail::Comm&)> job) {
  check_tensor(t, name.c_str(), "", name_);
  DS_CHECK(t.is_cpu(), name, "runs on CPU tensors only; got a tensor on {} (group '{}')", t.device().str(), name_);
  Collective c{.kind = OpKind::kJob, .in = t, .out = t, .description = name};
  detail::Backend& backend = *cpu_;
  c.seq = seq_++;
  c.description = fmt::format("{} #{} on group '{}' ({})", name, c.seq, name_, tensor_str(t));
  c.record_id = FlightRecorder::instance().record(name_, c.seq, name, tensor_str(t));
  c.work = std::make_shared<Work>(c.description);
  c.timeout = timeout_;
  c.bytes_counter = &bytes_sent_;
  WorkPtr work = c.work;
  backend.enqueue_job(std::move(c), std::move(job));
  return work;
}

WorkPtr ProcessGroup::allreduce(const Tensor& t, ReduceOp op) {
  check_tensor(t, "allreduce", "", name_);
  DS_CHECK(op != ReduceOp::kAvg || is_floating(t.dtype()), "allreduce", "avg needs a floating tensor, got {}",
           tensor_str(t));
  Collective c{.kind = OpKind::kAllreduce, .op = op, .in = t, .out = t};
  return submit(c);
}

WorkPtr ProcessGroup::broadcast(const Tensor& t, int root) {
  check_tensor(t, "broadcast", "", name_);
  DS_CHECK(root >= 0 && root < size(), "broadcast", "root {} is not a rank of group '{}' (size {})", root, name_,
           size());
  Collective c{.kind = OpKind::kBroadcast, .peer = root, .in = t, .out = t};
  return submit(c);
}

WorkPtr ProcessGroup::reduce(const Tensor& t, int root, ReduceOp op) {
  check_tensor(t, "reduce", "", name_);
  DS_CHECK(root >= 0 && root < size(), "reduce", "root {} is not a rank of group '{}' (size {})", root, name_,
           size());
  DS_CHECK(op != ReduceOp::kAvg || is_floating(t.dtype()), "reduce", "avg needs a floating tensor, got {}",
           tensor_str(t));
  Collective c{.kind = OpKind::kReduce, .op = op, .peer = root, .in = t, .out = t};
  return submit(c);
}

WorkPtr ProcessGroup::allgather(const Tensor& out, const Tensor& in) {
  check_tensor(in, "allgather", "input", name_);
  check_tensor(out, "allgather", "output", name_);
  check_same(in, out, "allgather");
  DS_CHECK(out.numel() == in.numel() * size(), "allgather",
           "the output {} must hold {} ranks x {} elements of the input {}", tensor_str(out), size(), in.numel(),
           tensor_str(in));
  Collective c{.kind = OpKind::kAllgather, .in = in, .out = out,
               .counts = std::vector<int64_t>(static_cast<size_t>(size()), in.numel())};
  return submit(c);
}

WorkPtr ProcessGroup::allgather_v(const Tensor& out, const Tensor& in, std::vector<int64_t> counts) {
  check_tensor(in, "allgather_v", "input", name_);
  check_tensor(out, "allgather_v", "output", name_);
  check_same(in, out, "allgather_v");
  const int64_t total = checked_total(counts, size(), "allgather_v");
  DS_CHECK(in.numel() == counts[static_cast<size_t>(rank_)], "allgather_v",
           "the input {} has {} elements but this rank's count is {}", tensor_str(in), in.numel(),
           counts[static_cast<size_t>(rank_)]);
  DS_CHECK(out.numel() == total, "allgather_v", "the output {} must hold the sum of the counts, {} elements",
           tensor_str(out), total);
  Collective c{.kind = OpKind::kAllgatherV, .in = in, .out = out, .counts = std::move(counts)};
  return submit(c);
}

WorkPtr ProcessGroup::reduce_scatter(const Tensor& out, const Tensor& in, ReduceOp op) {
  check_tensor(in, "reduce_scatter", "input", name_);
  check_tensor(out, "reduce_scatter", "output", name_);
  check_same(in, out, "reduce_scatter");
  DS_CHECK(in.numel() == out.numel() * size(), "reduce_scatter",
           "the input {} must hold {} ranks x {} elements of the output {}", tensor_str(in), size(), out.numel(),
           tensor_str(out));
  DS_CHECK(op != ReduceOp::kAvg || is_floating(in.dtype()), "reduce_scatter", "avg needs a floating tensor, got {}",
           tensor_str(in));
  Collective c{.kind = OpKind::kReduceScatter, .op = op, .in = in, .out = out,
               .counts = std::vector<int64_t>(static_cast<size_t>(size()), out.numel())};
  return submit(c);
}

WorkPtr ProcessGroup::reduce_scatter_v(const Tensor& out, const Tensor& in, std::vector<int64_t> counts,
                                       ReduceOp op) {
  check_tensor(in, "reduce_scatter_v", "input", name_);
  check_tensor(out, "reduce_scatter_v", "output", name_);
  check_same(in, out, "reduce_scatter_v");
  const int64_t total = checked_total(counts, size(), "reduce_scatter_v");
  DS_CHECK(in.numel() == total, "reduce_scatter_v", "the input {} must hold the sum of the counts, {} elements",
           tensor_str(in), total);
  DS_CHECK(out.numel() == counts[static_cast<size_t>(rank_)], "reduce_scatter_v",
           "the output {} has {} elements but this rank's count is {}", tensor_str(out), out.numel(),
           counts[static_cast<size_t>(rank_)]);
  DS_CHECK(op != ReduceOp::kAvg || is_floating(in.dtype()), "reduce_scatter_v",
           "avg needs a floating tensor, got {}", tensor_str(in));
  Collective c{.kind = OpKind::kReduceScatterV, .op = op, .in = in, .out = out, .counts = std::move(counts)};
  return submit(c);
}

WorkPtr ProcessGroup::all_to_all(const Tensor& out, const Tensor& in) {
  check_tensor(in, "all_to_all", "input", name_);
  check_tensor(out, "all_to_all", "output", name_);
  check_same(in, out, "all_to_all");
  DS_CHECK(in.numel() == out.numel() && in.numel() % size() == 0, "all_to_all",
           "input {} and output {} must have the same number of elements, divisible by the group size {}",
           tensor_str(in), tensor_str(out), size());
  Collective c{.kind = OpKind::kAllToAll, .in = in, .out = out};
  return submit(c);
}

WorkPtr ProcessGroup::send(const Tensor& t, int dst, int tag) {
  check_tensor(t, "send", "", name_);
  DS_CHECK(dst >= 0 && dst < size() && dst != rank_, "send",
           "destination {} is not another rank of group '{}' (size {}, this rank {})", dst, name_, size(), rank_);
  DS_CHECK(tag >= 0 && tag < (1 << 20), "send", "tag {} is out of range [0, 2^20)", tag);
  Collective c{.kind = OpKind::kSend, .peer = dst, .tag = tag, .in = t, .out = t};
  return submit(c);
}

WorkPtr ProcessGroup::recv(const Tensor& t, int src, int tag) {
  check_tensor(t, "recv", "", name_);
  DS_CHECK(src >= 0 && src < size() && src != rank_, "recv",
           "source {} is not another rank of group '{}' (size {}, this rank {})", src, name_, size(), rank_);
  DS_CHECK(tag >= 0 && tag < (1 << 20), "recv", "tag {} is out of range [0, 2^20)", tag);
  Collective c{.kind = OpKind::kRecv, .peer = src, .tag = tag, .in = Tensor(), .out = t};
  return submit(c);
}

WorkPtr ProcessGroup::barrier() {
  Collective c{.kind = OpKind::kBarrier};
  return submit(c);
}

std::shared_ptr<ProcessGroup> ProcessGroup::split(int color, int key, const std::string& name) {
  const uint64_t seq = seq_++;
  const uint64_t id =
      FlightRecorder::instance().record(name_, seq, "split", fmt::format("color {} key {}", color, key));
  FlightRecorder::instance().started(id);
  std::shared_ptr<detail::Backend> sub = cpu_->split(color, key, timeout_);
  FlightRecorder::instance().ended(id, true);
  if (!sub) return nullptr;
  // The new group's members' world ranks, gathered over the new group.
  Tensor mine = full({1}, static_cast<int64_t>(world_ranks_[static_cast<size_t>(rank_)]), {.dtype = kI64});
  Tensor all = empty({sub->size()}, {.dtype = kI64});
  auto group = std::make_shared<ProcessGroup>(name, sub->rank(), std::vector<int>(static_cast<size_t>(sub->size())),
                                              sub, timeout_);
  group->allgather(all, mine)->wait();
  const int64_t* ranks = all.data_ptr<int64_t>();
  for (int r = 0; r < sub->size(); ++r) group->world_ranks_[static_cast<size_t>(r)] = static_cast<int>(ranks[r]);
  return group;
}

std::shared_ptr<ProcessGroup> ProcessGroup::new_group(const std::vector<int>& ranks, const std::string& name) {
  DS_CHECK(!ranks.empty(), "new_group", "a group needs at least one rank");
  std::set<int> seen;
  for (int r : ranks) {
    DS_CHECK(r >= 0 && r < size(), "new_group", "rank {} is not a rank of group '{}' (size {})", r, name_, size());
    DS_CHECK(seen.insert(r).second, "new_group", "rank {} is listed twice in {}", r, fmt::join(ranks, ", "));
  }
  const auto it = std::find(ranks.begin(), ranks.end(), rank_);
  const int color = it == ranks.end() ? -1 : 0;
  const int key = static_cast<int>(it - ranks.begin());
  const std::string n = name.empty() ? fmt::format("{}[{}]", name_, fmt::join(ranks, ",")) : name;
  return split(color, key, n);
}

}  // namespace ds::dist
