#include "compile.h"

#include <cmath>
#include <cstdlib>
#include <deque>
#include <map>
#include <optional>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <ds/autograd/autocast.h>
#include <ds/core/detail/check.h>
#include <ds/core/grad_mode.h>
#include <ds/core/logging.h>
#include <ds/ops/dispatch.h>

#include "dynamic.h"
#include "executor.h"
#include "fusion.h"
#include "graph_break.h"
#include "memory_plan.h"
#include "passes/passes.h"
#include "trace.h"

namespace ds {

namespace {

// What a trace assumed about its call.
struct Guard {
  struct Arg {
    DType dtype;
    Device device;
    Shape sizes, strides;
    bool requires_grad;
    bool operator==(const Arg&) const = default;
  };
  std::vector<Arg> args;
  bool grad_mode = true, autocast = false;
  DType low_precision = kBF16;
  bool operator==(const Guard&) const = default;

  static Guard of(std::span<const Tensor> xs) {
    Guard g;
    for (const Tensor& x : xs) {
      DS_CHECK(x.defined(), "compile", "argument {} is an undefined tensor", g.args.size());
      g.args.push_back({x.dtype(), x.device(), Shape(x.sizes()), Shape(x.strides()), x.requires_grad()});
    }
    g.grad_mode = is_grad_enabled();
    g.autocast = is_autocast_enabled();
    g.low_precision = autocast_dtype();
    return g;
  }
};

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

// Element by element within atol + rtol |b| (NaN matches NaN); `why` names the first element that is not.
bool close(const Tensor& a, const Tensor& b, double rtol, double atol, std::string& why) {
  if (a.sizes() != b.sizes() || a.dtype() != b.dtype()) {
    why = fmt::format("{} {} vs {} {}", dtype_name(a.dtype()), shape_str(a.sizes()), dtype_name(b.dtype()),
                      shape_str(b.sizes()));
    return false;
  }
  const std::vector<double> x = a.to(kCPU).to(kF64).contiguous().tolist<double>();
  const std::vector<double> y = b.to(kCPU).to(kF64).contiguous().tolist<double>();
  for (size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(x[i]) && std::isnan(y[i])) continue;
    if (!(std::fabs(x[i] - y[i]) <= atol + rtol * std::fabs(y[i]))) {
      why = fmt::format("element {}: compiled {} vs eager {}", i, x[i], y[i]);
      return false;
    }
  }
  return true;
}

}  // namespace

struct CompiledFunction::Impl {
  // The part of a graph break's trace before the read, compiled (graph/graph_break.h).
  struct Prefix {
    graph::BreakPrefix plan;
    graph::Graph graph;
    graph::FusionPlan fusion;
    graph::MemoryPlan memory;
    std::vector<Tensor> leaves;  // the captured tensors that require grad
    // Per host effect, this call's run: the leaves whose .grad it changed, and what it left there.
    std::vector<std::vector<std::pair<size_t, Tensor>>> after_effect;
    bool running = false;  // a call is rerunning it (a recursive call runs eagerly)
  };
  struct Entry {
    Guard guard;
    graph::Graph graph;
    bool eager = false;  // the trace read data on the host (a graph break): calls with this guard rerun the host code
    graph::FusionPlan fusion;
    graph::MemoryPlan memory;
    std::unique_ptr<Prefix> prefix;  // eager entries: the graph before the break, run compiled first
  };
  // Traces at several sizes of the dynamic dims, with one guard but for those sizes.
  struct Family {
    Guard key;                                              // sizes of the marked dims -1, their strides cleared
    std::vector<std::pair<int64_t, graph::Graph>> samples;  // traces before the passes, until the fit is decided
    std::optional<graph::DynamicGraph> general;
    bool failed = false;
    std::map<int64_t, Entry> instances;  // graphs made from `general`, by size
    std::deque<int64_t> made;            // their sizes, oldest first
  };
  static constexpr size_t kMaxInstances = 16;

  TensorFunction fn;
  CompileOptions o;
  bool enabled = true, fuse = true;
  int verify_every = 0;
  int64_t calls = 0;
  std::deque<Entry> entries;  // (stable addresses: `last` points into it)
  std::deque<Family> families;
  Stats stats;
  const graph::Graph* last = nullptr;
  bool warned_full = false;

  TensorList eager(std::span<const Tensor> args) {
    ++stats.eager;
    return fn(args);
  }

  TensorList replay(Entry& e, std::span<const Tensor> args) {
    last = &e.graph;
    if (e.eager) {
      // Not inside a trace or another rerun (they see every call one by one), nor in anomaly mode (it checks each
      // kernel's outputs).
      const DispatchState& st = dispatch_state();
      if (e.prefix && !e.prefix->running && !st.tracing && !st.substituting && !st.check_finite)
        return replay_prefix(e, args);
      return eager(args);
    }
    ++stats.replays;
    if (verify_every > 0 && stats.replays % verify_every == 0) return verify(e, args);
    // A graph with its own backward (gradients left in .grad) replays without autograd; a forward-only one records
    // autograd when the caller's grad mode does, so its outputs can be differentiated eagerly.
    return graph::execute(e.graph, args, nullptr, e.guard.grad_mode && e.graph.grads().empty(), &e.fusion,
                          &e.memory);
  }

  // Wraps the prefix graph's host effects so that each notes the leaves whose .grad it changed (zero_grad's), and
  // what it left there. Returns the number of effects.
  static int32_t watch_effects(Prefix& p) {
    for (const Tensor& c : p.graph.captured())
      if (c.requires_grad()) p.leaves.push_back(c);
    Prefix* at = &p;  // (the Prefix lives on the heap, owned by its entry)
    int32_t e = 0;
    for (graph::Action& a : p.graph.mutable_actions()) {
      if (!a.host) continue;
      at->after_effect.emplace_back();
      a.host = [at, e = e++, fn = std::move(a.host)] {
        std::vector<const TensorImpl*> was;
        for (const Tensor& l : at->leaves) was.push_back(l.grad().impl());
        fn();
        auto& changed = at->after_effect[static_cast<size_t>(e)];
        changed.clear();
        for (size_t i = 0; i < at->leaves.size(); ++i)
          if (at->leaves[i].grad().impl() != was[i]) changed.emplace_back(i, at->leaves[i].grad());
      };
    }
    return e;
  }

  // Sets the leaves' .grad to `grads` where they differ.
  static void set_grads(const std::vector<Tensor>& leaves, const std::vector<Tensor>& grads) {
    for (size_t i = 0; i < leaves.size(); ++i)
      if (leaves[i].grad().impl() != grads[i].impl()) Tensor(leaves[i]).set_grad(grads[i]);
  }

  // A graph break's call: the graph before the break runs compiled, then the host code reruns, taking the graph's
  // results up to the break (graph/graph_break.h).
  TensorList replay_prefix(Entry& e, std::span<const Tensor> args) {
    Prefix& p = *e.prefix;
    ++stats.prefix_replays;
    p.running = true;
    struct Done {  // (declared before the rerun, so destroyed after it)
      Entry& e;
      bool drop = false;  // the call took another path: later calls rerun eagerly
      ~Done() {
        e.prefix->running = false;
        for (auto& changed : e.prefix->after_effect) changed.clear();  // (they hold gradients)
        if (drop) e.prefix.reset();
      }
    } done{e};
    // The host code draws again what the graph drew: the generators are rewound (a destroyed one is the
    // executor's error to name).
    std::vector<std::pair<Generator*, PhiloxState>> rewind;
    for (const graph::RngDraw& d : p.graph.rng())
      if (!d.alive.expired() &&
          std::none_of(rewind.begin(), rewind.end(), [&](const auto& r) { return r.first == d.generator; }))
        rewind.emplace_back(d.generator, d.generator->state());
    auto rewound = [&] {
      for (auto& [gen, state] : rewind) gen->set_state(state);
    };
    // The graph leaves the leaves' gradients as the host code before the read would. The rerun starts from those of
    // before, and each effect it skips leaves them as it did in the graph; the rerun's autograd sets the rest, as
    // the graph did. (A rerun that fails before the read leaves the graph's.)
    std::vector<Tensor> before, after;
    for (const Tensor& l : p.leaves) before.push_back(l.grad());
    TensorList produced;
    try {
      produced = graph::execute(p.graph, args, nullptr, false, &p.fusion, &p.memory);
    } catch (...) {
      rewound();
      throw;
    }
    rewound();
    for (const Tensor& l : p.leaves) after.push_back(l.grad());
    set_grads(p.leaves, before);
    before.clear();
    TensorList program(args);
    for (const Tensor& c : p.graph.captured()) program.push_back(c);
    std::optional<graph::PrefixReplay> rerun;
    try {
      rerun.emplace(p.plan, std::move(produced), program, o.name, [&](int32_t effect) {
        for (auto& [i, g] : p.after_effect[static_cast<size_t>(effect)]) Tensor(p.leaves[i]).set_grad(g);
      });
      TensorList out = fn(args);
      rerun->finish();
      return out;
    } catch (...) {
      // Only a call that did not get through the part before the read took another path (an error after it is
      // the program's own); its gradients are the graph's.
      if (!rerun || !rerun->finished()) {
        set_grads(p.leaves, after);
        log_info(fmt::format("[compile] {}: calls like this one rerun eagerly from now on", o.name));
        done.drop = true;
      }
      throw;
    }
  }

  // The guard with the dynamic dims' sizes wildcarded, and their common size; nullopt where this call is specialised
  // (no dims marked, marked sizes that differ or are below 2, a non-contiguous argument).
  std::optional<std::pair<Guard, int64_t>> dynamic_key(const Guard& guard, std::span<const Tensor> args) const {
    if (o.dynamic_dims.empty()) return std::nullopt;
    Guard key = guard;
    int64_t size = -1;
    for (const CompileOptions::DynamicDim& m : o.dynamic_dims) {
      DS_CHECK(m.arg >= 0 && static_cast<size_t>(m.arg) < args.size(), "compile", "{}: dynamic_dims names argument "
               "{}, but the call has {} arguments", o.name, m.arg, args.size());
      const Tensor& x = args[static_cast<size_t>(m.arg)];
      const int64_t d = m.dim < 0 ? m.dim + x.dim() : m.dim;
      DS_CHECK(d >= 0 && d < x.dim(), "compile", "{}: dynamic_dims names dimension {} of argument {}, which is {}",
               o.name, m.dim, m.arg, shape_str(x.sizes()));
      if (!x.is_contiguous() || x.size(d) < 2 || (size >= 0 && x.size(d) != size)) return std::nullopt;
      size = x.size(d);
      Guard::Arg& a = key.args[static_cast<size_t>(m.arg)];
      a.sizes[static_cast<size_t>(d)] = -1;
      a.strides.clear();
    }
    return std::pair(std::move(key), size);
  }

  Family* find_family(const Guard& key) {
    for (Family& f : families)
      if (f.key == key) return &f;
    return nullptr;
  }

  // The graph of a generalised family at `size` (made on first use); null where the fit gives no graph there.
  Entry* instance(Family& f, int64_t size, const Guard& guard) {
    if (auto it = f.instances.find(size); it != f.instances.end()) return &it->second;
    std::optional<graph::Graph> g = f.general->at(size);
    if (!g) return nullptr;
    Entry e = build(guard, std::move(*g), nullptr);  // (before the eviction: it may throw)
    ++stats.dynamic_graphs;
    if (f.instances.size() >= kMaxInstances) {
      if (last == &f.instances.at(f.made.front()).graph) last = nullptr;
      f.instances.erase(f.made.front());
      f.made.pop_front();
    }
    f.made.push_back(size);
    return &(f.instances[size] = std::move(e));
  }

  // Adds a trace to its family's samples and fits them once there are two or more.
  void add_sample(Family& f, int64_t size, const graph::Graph& g) {
    for (const auto& s : f.samples)
      if (s.first == size) return;
    f.samples.emplace_back(size, g);
    if (f.samples.size() < 2) return;
    std::vector<graph::DynamicGraph::Sample> samples;
    for (const auto& [n, sg] : f.samples) samples.push_back({n, &sg});
    std::string why;
    const graph::FitResult r = graph::DynamicGraph::fit(samples, f.general, why);
    if (r == graph::FitResult::NeedMore) return;
    if (r == graph::FitResult::Done) {
      ++stats.generalized;
      log_info(fmt::format("[compile] {}: the traces at sizes {} generalise over the dynamic dims ({} numbers follow "
                           "the size): other sizes replay without tracing", o.name,
                           fmt::join(f.general->sample_sizes(), ", "), f.general->fitted_numbers()));
    } else {
      f.failed = true;
      log_info(fmt::format("[compile] {}: no graph for every size of the dynamic dims: {}; each size is traced",
                           o.name, why));
    }
    f.samples.clear();
  }

  TensorList trace(std::span<const Tensor> args, Guard guard, Family* fam, int64_t size) {
    graph::Graph g;
    TensorList out;
    std::optional<graph::BreakPrefix> plan;
    {
      graph::Tracer t(args);
      out = fn(args);
      g = t.finish(out);
      plan = t.take_break_prefix();
    }
    ++stats.traces;
    if (!g.host_reads().empty()) {
      ++stats.graph_breaks;
      Entry& e = entries.emplace_back(Entry{.guard = guard, .graph = std::move(g), .eager = true});
      std::string log = "the host code of calls like this one reruns eagerly";
      if (plan && !plan->calls.empty()) {
        auto p = std::make_unique<Prefix>();
        Entry compiled = build(guard, graph::prefix_graph(e.graph, *plan), &log);
        p->plan = std::move(*plan);
        p->graph = std::move(compiled.graph);
        const int32_t effects = watch_effects(*p);
        DS_CHECK(effects == p->plan.effects, "compile", "{}: the graph before the break has {} host effects, the "
                 "trace {}", o.name, effects, p->plan.effects);
        p->fusion = std::move(compiled.fusion);
        p->memory = std::move(compiled.memory);
        log = fmt::format("the host code of calls like this one reruns, taking the results of its first {} calls "
                          "from a graph run before it ({}; {} results nothing reads after the break not computed)",
                          p->plan.calls.size(), log, p->plan.stand_ins);
        e.prefix = std::move(p);
      }
      log_info(fmt::format("[compile] {}: graph break: {}; {}", o.name, e.graph.host_read_str(), log));
      last = &e.graph;
      return out;
    }
    if (fam && !fam->general && !fam->failed) add_sample(*fam, size, g);
    std::string log;
    entries.push_back(build(std::move(guard), std::move(g), &log));
    log_info(fmt::format("[compile] {}: {} (graph {} of at most {})", o.name, log, entries.size(), o.max_graphs));
    last = &entries.back().graph;
    return out;
  }

  // Runs the passes over a trace and plans its fusion and memory; `log` (if given) receives what they did.
  Entry build(Guard guard, graph::Graph g, std::string* log) {
    const size_t traced = g.nodes().size();
    int recomputed = 0, folded = 0;
    if (o.optimize) {
      graph::simplify(g);
      graph::eliminate_common_subexpressions(g);
      // After simplify, which knows the wrapped numbers folding turns into plain constants.
      if (o.fold) folded = graph::fold_constants(g);
      graph::eliminate_dead_code(g);
      stats.nodes_removed += static_cast<int64_t>(traced - g.nodes().size());
      stats.folded += folded;
      // Last: common subexpressions would merge a recomputation back into its original.
      if (o.remat) recomputed = graph::rematerialize(g);
      stats.recomputed += recomputed;
      g.verify();
    }
    graph::FusionPlan fusion;
    if (fuse) fusion = graph::plan_fusion(g);
    stats.fused_nodes += fusion.fused_nodes;
    graph::MemoryPlan memory = graph::plan_memory(g, fuse ? &fusion : nullptr,
                                                    {.reuse = o.reuse_memory, .arena = o.arena});
    stats.reused_outputs += memory.reused;
    stats.planned_peak_bytes = std::max(stats.planned_peak_bytes, memory.peak_bytes);
    stats.arena_bytes = std::max(stats.arena_bytes, memory.arena_bytes);
    if (log)
      *log = fmt::format("traced {} nodes, {} after the passes ({} folded, {} recomputed), {} of them in {} fused "
                         "groups; {}", traced, g.nodes().size(), folded, recomputed, fusion.fused_nodes,
                         fusion.groups.size(), memory.str());
    return {std::move(guard), std::move(g), false, std::move(fusion), std::move(memory)};
  }

  // Replays, then restores the captured state, runs the function eagerly and compares outputs and state.
  TensorList verify(const Entry& e, std::span<const Tensor> args) {
    const graph::Graph& g = e.graph;
    NoGradGuard no_grad;
    std::vector<Tensor> before;
    std::vector<Tensor> grads_before;
    for (const Tensor& c : g.captured()) {
      before.push_back(c.clone());
      grads_before.push_back(c.grad().defined() ? c.grad().clone() : Tensor());
    }
    std::vector<PhiloxState> rng_before;
    for (const graph::RngDraw& d : g.rng()) rng_before.push_back(d.generator->state());

    TensorList compiled = graph::execute(g, args, nullptr, false, &e.fusion, &e.memory);
    for (Tensor& t : compiled) t = t.clone();
    std::vector<Tensor> after;
    for (const Tensor& c : g.captured()) after.push_back(c.clone());

    for (size_t i = 0; i < g.captured().size(); ++i) {
      Tensor c = g.captured()[i];
      c.copy_(before[i]);
      c.set_grad(grads_before[i]);
    }
    for (size_t i = g.rng().size(); i-- > 0;) g.rng()[i].generator->set_state(rng_before[i]);
    TensorList eager_out;
    {
      GradModeGuard restore(e.guard.grad_mode);
      eager_out = fn(args);
    }
    ++stats.verified;
    std::string why;
    DS_CHECK(compiled.size() == eager_out.size(), "compile", "{}: the compiled graph returned {} outputs, eager {}",
             o.name, compiled.size(), eager_out.size());
    for (size_t k = 0; k < compiled.size(); ++k)
      DS_CHECK(close(compiled[k], eager_out[k], o.verify_rtol, o.verify_atol, why), "compile",
               "{} (DS_COMPILE_VERIFY): output {} differs from the eager run: {}", o.name, k, why);
    for (size_t i = 0; i < after.size(); ++i)
      DS_CHECK(close(after[i], g.captured()[i], o.verify_rtol, o.verify_atol, why), "compile",
               "{} (DS_COMPILE_VERIFY): captured tensor {} {} differs from the eager run after the call: {}", o.name,
               i, shape_str(after[i].sizes()), why);
    return eager_out;
  }
};

CompiledFunction::CompiledFunction(TensorFunction fn, CompileOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->fn = std::move(fn);
  impl_->o = std::move(options);
  impl_->enabled = env_int("DS_COMPILE", 1) != 0;
  impl_->fuse = impl_->o.fuse && env_int("DS_COMPILE_FUSE", 1) != 0;
  impl_->o.remat = impl_->o.remat && env_int("DS_COMPILE_REMAT", 1) != 0;
  impl_->o.fold = impl_->o.fold && env_int("DS_COMPILE_FOLD", 1) != 0;
  impl_->o.reuse_memory = impl_->o.reuse_memory && env_int("DS_COMPILE_REUSE", 1) != 0;
  impl_->o.arena = impl_->o.arena && env_int("DS_COMPILE_ARENA", 1) != 0;
  impl_->verify_every = impl_->o.verify_every >= 0 ? impl_->o.verify_every : env_int("DS_COMPILE_VERIFY", 0);
  DS_CHECK(impl_->o.warmup >= 0 && impl_->o.max_graphs >= 1, "compile", "{}: warmup must be >= 0 and max_graphs "
           ">= 1, got {} and {}", impl_->o.name, impl_->o.warmup, impl_->o.max_graphs);
}
CompiledFunction::~CompiledFunction() = default;
CompiledFunction::CompiledFunction(CompiledFunction&&) noexcept = default;
CompiledFunction& CompiledFunction::operator=(CompiledFunction&&) noexcept = default;

TensorList CompiledFunction::operator()(std::span<const Tensor> args) {
  Impl& s = *impl_;
  const int64_t call = s.calls++;
  if (!s.enabled || call < s.o.warmup) return s.eager(args);
  // Inside another function's trace (or its graph break's rerun), a compiled function is part of that function:
  // it runs eagerly, and the outer trace records its ops.
  if (graph::Tracer::current() || dispatch_state().substituting) return s.eager(args);
  Guard guard = Guard::of(args);
  for (Impl::Entry& e : s.entries)
    if (e.guard == guard) return s.replay(e, args);
  std::optional<std::pair<Guard, int64_t>> dynamic = s.dynamic_key(guard, args);
  Impl::Family* fam = dynamic ? s.find_family(dynamic->first) : nullptr;
  if (fam && fam->general)
    if (Impl::Entry* e = s.instance(*fam, dynamic->second, guard)) return s.replay(*e, args);
  if (static_cast<int>(s.entries.size()) >= s.o.max_graphs) {
    if (!s.warned_full)
      log_info(fmt::format("[compile] {}: {} graphs traced already; calls with new shapes or modes run eagerly",
                           s.o.name, s.o.max_graphs));
    s.warned_full = true;
    return s.eager(args);
  }
  // A new family only for a call that traces (at most max_graphs of them, as traces are).
  if (dynamic && !fam) {
    s.families.push_back({dynamic->first});
    fam = &s.families.back();
  }
  return s.trace(args, std::move(guard), fam, dynamic ? dynamic->second : 0);
}

const CompiledFunction::Stats& CompiledFunction::stats() const { return impl_->stats; }
const graph::Graph* CompiledFunction::last_graph() const { return impl_->last; }

CompiledFunction compile(TensorFunction fn, CompileOptions options) {
  return CompiledFunction(std::move(fn), std::move(options));
}

}  // namespace ds
