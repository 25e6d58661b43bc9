#include <ds/nn/memory_profiler.h>

#include <algorithm>
#include <atomic>
#include <cmath>

#include <ds/autograd/engine.h>
#include <ds/core/allocator.h>
#include <ds/core/detail/check.h>
#include <ds/ops/dispatch.h>

namespace ds::nn {
namespace {

// The dispatcher's profile hooks are plain function pointers, so they reach the profiler through this.
std::atomic<MemoryProfiler*> g_active{nullptr};

std::string human_bytes(int64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (std::abs(v) >= 1024.0 && u < 4) {
    v /= 1024.0;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", b) : fmt::format("{:.2f} {}", v, units[u]);
}

template <typename Row>
std::vector<Row> ran_sorted(const std::vector<Row>& rows) {
  std::vector<Row> out;
  for (const Row& r : rows)
    if (r.calls > 0) out.push_back(r);
  std::stable_sort(out.begin(), out.end(),
                   [](const Row& a, const Row& b) { return a.allocated_bytes > b.allocated_bytes; });
  return out;
}

}  // namespace

MemoryProfiler::MemoryProfiler(Module* root) : owner_(std::this_thread::get_id()) {
  MemoryProfiler* expected = nullptr;
  DS_CHECK(g_active.compare_exchange_strong(expected, this), "MemoryProfiler",
           "another MemoryProfiler is active; stop it first (one at a time)");
  if (root)
    for (auto& [path, m] : root->named_modules())
      names_[m] = path.empty() ? m->type_name() : fmt::format("{} ({})", path, m->type_name());
  start_live_ = live_ = peak_ = cpu_allocator().stats().live_bytes;
  DispatchHooks& h = dispatch_hooks();
  prev_begin_ = h.profile_begin;
  prev_end_ = h.profile_end;
  h.profile_begin = &on_op_begin;
  h.profile_end = &on_op_end;
  prev_profiling_ = dispatch_state().profiling;
  dispatch_state().profiling = true;
  prev_observer_ = set_module_call_observer(this);
  set_allocation_observer(&on_alloc, this);
  active_ = true;
}

MemoryProfiler::~MemoryProfiler() { stop(); }

void MemoryProfiler::stop() {
  if (!active_) return;
  DS_CHECK(std::this_thread::get_id() == owner_, "MemoryProfiler", "must be stopped on the thread that started it");
  set_allocation_observer(nullptr, nullptr);
  set_module_call_observer(prev_observer_);
  dispatch_state().profiling = prev_profiling_;
  DispatchHooks& h = dispatch_hooks();
  h.profile_begin = prev_begin_;
  h.profile_end = prev_end_;
  active_ = false;
  g_active.store(nullptr);
}

void MemoryProfiler::on_alloc(Device, int64_t delta, void* ctx) { static_cast<MemoryProfiler*>(ctx)->alloc(delta); }

void MemoryProfiler::alloc(int64_t delta) {
  std::lock_guard<std::mutex> lock(mu_);
  live_ += delta;
  if (std::this_thread::get_id() != owner_) {
    peak_ = std::max(peak_, live_);
    return;
  }
  if (live_ > peak_) {
    peak_ = live_;
    peak_op_ = op_stack_.empty() ? -1 : op_stack_.back().id;
    peak_module_ = module_stack_.empty() ? -1 : module_stack_.back().id;
    peak_in_backward_ = autograd::in_backward();
  }
  if (!op_stack_.empty()) op_stack_.back().max_live = std::max(op_stack_.back().max_live, live_);
  if (!module_stack_.empty()) module_stack_.back().max_live = std::max(module_stack_.back().max_live, live_);
  if (delta <= 0) return;
  if (!op_stack_.empty()) {
    OpStats& o = ops_[static_cast<size_t>(op_stack_.back().id)];
    ++o.allocs;
    o.allocated_bytes += delta;
  }
  for (const Frame& f : module_stack_) {
    ModuleStats& m = modules_[static_cast<size_t>(f.id)];
    ++m.allocs;
    m.allocated_bytes += delta;
  }
  if (!module_stack_.empty()) modules_[static_cast<size_t>(module_stack_.back().id)].self_bytes += delta;
}

void MemoryProfiler::on_op_begin(OpId op) {
  MemoryProfiler* p = g_active.load(std::memory_order_relaxed);
  if (p && p->active_ && std::this_thread::get_id() == p->owner_) {
    std::lock_guard<std::mutex> lock(p->mu_);
    const auto id = static_cast<size_t>(op);
    if (p->ops_.size() <= id) p->ops_.resize(id + 1);
    if (p->ops_[id].calls++ == 0) p->ops_[id].name = std::string(op_name(op));
    p->op_stack_.push_back({static_cast<int64_t>(id), p->live_});
  }
  if (p && p->prev_begin_) p->prev_begin_(op);
}

void MemoryProfiler::on_op_end(OpId op) {
  MemoryProfiler* p = g_active.load(std::memory_order_relaxed);
  if (p && p->active_ && std::this_thread::get_id() == p->owner_) p->pop_op(op);
  if (p && p->prev_end_) p->prev_end_(op);
}

// Pops up to and including `op`'s frame: an op that threw never reached its profile_end, so frames above may be
// stale. The popped peak passes to the enclosing op, which was running too.
void MemoryProfiler::pop_op(OpId op) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto id = static_cast<int64_t>(op);
  while (!op_stack_.empty()) {
    const Frame f = op_stack_.back();
    op_stack_.pop_back();
    OpStats& o = ops_[static_cast<size_t>(f.id)];
    o.peak_live_bytes = std::max(o.peak_live_bytes, f.max_live);
    if (!op_stack_.empty()) op_stack_.back().max_live = std::max(op_stack_.back().max_live, f.max_live);
    if (f.id == id) break;
  }
}

void MemoryProfiler::enter(Module& m) {
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, fresh] = module_index_.try_emplace(&m, modules_.size());
  if (fresh) {
    auto n = names_.find(&m);
    modules_.push_back({n != names_.end() ? n->second : m.type_name()});
  }
  ++modules_[it->second].calls;
  module_stack_.push_back({static_cast<int64_t>(it->second), live_});
}

void MemoryProfiler::exit(Module& m) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto it = module_index_.find(&m);
  const int64_t id = it == module_index_.end() ? -1 : static_cast<int64_t>(it->second);
  while (!module_stack_.empty()) {  // as pop_op: a forward that threw leaves its frame behind
    const Frame f = module_stack_.back();
    module_stack_.pop_back();
    ModuleStats& s = modules_[static_cast<size_t>(f.id)];
    s.peak_live_bytes = std::max(s.peak_live_bytes, f.max_live);
    if (!module_stack_.empty()) module_stack_.back().max_live = std::max(module_stack_.back().max_live, f.max_live);
    if (f.id == id) break;
  }
}

std::vector<MemoryProfiler::OpStats> MemoryProfiler::op_stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ran_sorted(ops_);
}

std::vector<MemoryProfiler::ModuleStats> MemoryProfiler::module_stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ran_sorted(modules_);
}

MemoryProfiler::OpStats MemoryProfiler::op(std::string_view name) const {
  for (const OpStats& o : op_stats())
    if (o.name == name) return o;
  return {std::string(name)};
}

MemoryProfiler::ModuleStats MemoryProfiler::module(std::string_view name) const {
  for (const ModuleStats& m : module_stats())
    if (m.name == name) return m;
  return {std::string(name)};
}

int64_t MemoryProfiler::live_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return live_;
}

int64_t MemoryProfiler::peak_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return peak_;
}

std::string MemoryProfiler::peak_op() const {
  std::lock_guard<std::mutex> lock(mu_);
  return peak_op_ < 0 ? "(no op)" : ops_[static_cast<size_t>(peak_op_)].name;
}

std::string MemoryProfiler::peak_module() const {
  std::lock_guard<std::mutex> lock(mu_);
  return peak_module_ < 0 ? "(no module)" : modules_[static_cast<size_t>(peak_module_)].name;
}

bool MemoryProfiler::peak_in_backward() const {
  std::lock_guard<std::mutex> lock(mu_);
  return peak_in_backward_;
}

std::string MemoryProfiler::report(size_t top) const {
  const auto ops = op_stats();
  const auto mods = module_stats();
  std::string s = fmt::format(
      "Memory profile (CPU allocator, bytes requested)\n"
      "  peak live: {} ({} bytes), reached {} in op '{}' inside module '{}'\n"
      "  live at start: {}, live now: {}\n",
      human_bytes(peak_bytes()), peak_bytes(), peak_in_backward() ? "during backward" : "during forward", peak_op(),
      peak_module(), human_bytes(start_live_), human_bytes(live_bytes()));
  s += fmt::format("\n  {:<28} {:>8} {:>8} {:>14} {:>14}\n", "top ops by bytes", "calls", "allocs", "allocated",
                   "peak live");
  for (size_t i = 0; i < ops.size() && i < top; ++i)
    s += fmt::format("  {:<28} {:>8} {:>8} {:>14} {:>14}\n", ops[i].name, ops[i].calls, ops[i].allocs,
                     human_bytes(ops[i].allocated_bytes), human_bytes(ops[i].peak_live_bytes));
  if (ops.size() > top) s += fmt::format("  ... {} more ops\n", ops.size() - top);
  s += fmt::format("\n  {:<28} {:>8} {:>14} {:>14} {:>14}\n", "top modules by bytes", "calls", "allocated", "self",
                   "peak live");
  if (mods.empty()) s += "  (no module calls seen: call modules through operator() or nn::ModuleScope)\n";
  for (size_t i = 0; i < mods.size() && i < top; ++i)
    s += fmt::format("  {:<28} {:>8} {:>14} {:>14} {:>14}\n", mods[i].name, mods[i].calls,
                     human_bytes(mods[i].allocated_bytes), human_bytes(mods[i].self_bytes),
                     human_bytes(mods[i].peak_live_bytes));
  if (mods.size() > top) s += fmt::format("  ... {} more modules\n", mods.size() - top);
  return s;
}

}  // namespace ds::nn
