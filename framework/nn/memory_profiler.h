#pragma once
// The memory profiler (the seed's @memory_profiler): a scope that attributes the bytes the allocator hands out to
// the op that allocated them (through the dispatcher's profile hooks) and to the modules running at the time
// (through Module::operator() / nn::ModuleScope), and finds the overall peak and where it happened.
//
//   nn::MemoryProfiler prof(model.get());   // the root names modules by their dotted path ("layers.3")
//   auto loss = criterion((*model)(x), y);
//   loss.backward();
//   std::cout << prof.report();
//
// What it counts: bytes as requested from the CPU allocator (its live_bytes), the way MemoryStats does. "Allocated"
// sums every allocation made while an op (or module) ran; "peak live" is the highest live byte count seen while it
// ran, everything else alive included. Allocations during backward are attributed to the backward's ops; no module
// is on the stack then. Ops run by other threads are counted in the live total only. One profiler at a time, on the
// thread that made it; while it lives, profiling is on for that thread (the dispatcher calls its hooks per op).
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <ds/nn/module.h>
#include <ds/ops/op_list.h>

namespace ds::nn {

class MemoryProfiler final : public ModuleCallObserver {
 public:
  struct OpStats {
    std::string name;
    int64_t calls = 0;
    int64_t allocs = 0;           // allocations made by the op (its outputs and any scratch)
    int64_t allocated_bytes = 0;  // their bytes, summed over calls
    int64_t peak_live_bytes = 0;  // highest live bytes while it ran
  };
  struct ModuleStats {
    std::string name;             // "layers.3 (Linear)", or the type when the module is not under the root
    int64_t calls = 0;
    int64_t allocs = 0;
    int64_t allocated_bytes = 0;  // while it ran, children included
    int64_t self_bytes = 0;       // while it ran and no child module did
    int64_t peak_live_bytes = 0;
  };

  explicit MemoryProfiler(Module* root = nullptr);
  explicit MemoryProfiler(const std::shared_ptr<Module>& root) : MemoryProfiler(root.get()) {}
  ~MemoryProfiler() override;
  MemoryProfiler(const MemoryProfiler&) = delete;
  MemoryProfiler& operator=(const MemoryProfiler&) = delete;

  // Stops recording (the destructor does it too); the results stay readable.
  void stop();

  // Ops and modules, most bytes allocated first.
  std::vector<OpStats> op_stats() const;
  std::vector<ModuleStats> module_stats() const;
  // The row of one op or module name (an empty row with calls == 0 when it never ran).
  OpStats op(std::string_view name) const;
  ModuleStats module(std::string_view name) const;

  int64_t start_live_bytes() const { return start_live_; }
  int64_t live_bytes() const;
  int64_t peak_bytes() const;
  // Where the peak was reached: the innermost op ("(no op)" outside ops) and module ("(no module)"), and whether
  // a backward was running.
  std::string peak_op() const;
  std::string peak_module() const;
  bool peak_in_backward() const;

  // A table: the overall peak and where it happened, then the top ops and modules by bytes allocated.
  std::string report(size_t top = 10) const;

  // ModuleCallObserver
  void enter(Module& m) override;
  void exit(Module& m) override;

 private:
  struct Frame {
    int64_t id;        // op id or module index
    int64_t max_live;  // highest live bytes since it started
  };
  static void on_alloc(Device device, int64_t delta, void* ctx);
  static void on_op_begin(OpId op);
  static void on_op_end(OpId op);
  void alloc(int64_t delta);
  void pop_op(OpId op);

  mutable std::mutex mu_;
  std::thread::id owner_;
  bool active_ = false;
  void (*prev_begin_)(OpId) = nullptr;
  void (*prev_end_)(OpId) = nullptr;
  bool prev_profiling_ = false;
  ModuleCallObserver* prev_observer_ = nullptr;

  std::unordered_map<const Module*, std::string> names_;
  std::unordered_map<const Module*, size_t> module_index_;
  std::vector<ModuleStats> modules_;
  std::vector<OpStats> ops_;  // indexed by OpId; calls == 0 for ops that never ran
  std::vector<Frame> op_stack_, module_stack_;
  int64_t start_live_ = 0, live_ = 0, peak_ = 0;
  int64_t peak_op_ = -1, peak_module_ = -1;
  bool peak_in_backward_ = false;
};

}  // namespace ds::nn
