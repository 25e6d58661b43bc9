// cudasim's scheduler: blocks run one after another, the threads of a block as fibers that switch only at barriers
// and warp collectives (scheduler.h says what that buys). A thread that finishes without waiting hands its stack to
// the next thread, so a kernel without barriers costs one stack switch per thread.
#include "scheduler.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include <driver_types.h>

#if !defined(__x86_64__)
#error "cudasim switches stacks with x86-64 code; port ds_cudasim_switch to build it on this machine"
#endif

// ds_cudasim_switch(save, load): saves the callee-saved registers on the current stack, stores the stack pointer in
// *save, switches to the stack `load` and restores the registers saved there (System V x86-64 ABI).
extern "C" void ds_cudasim_switch(void** save, void* load);
asm(R"(
  .text
  .globl ds_cudasim_switch
  .type ds_cudasim_switch, @function
ds_cudasim_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size ds_cudasim_switch, .-ds_cudasim_switch
  .section .note.GNU-stack,"",@progbits
  .text
)");

namespace ds::cudasim {

thread_local Coords tls_coords;

namespace {

// 256 KiB per thread: kernels keep register tiles in local arrays, and the host compiler's frames are larger than
// a GPU's register file. A guard page below each stack turns an overflow into a fault instead of corruption.
constexpr size_t kStackBytes = 256 << 10;

struct Stack {
  char* base = nullptr;  // the guard page
  char* top() const { return base + kStackBytes; }
};

Stack* new_stack() {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  void* p = mmap(nullptr, kStackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    std::fprintf(stderr, "cudasim: cannot map a %zu-byte fiber stack\n", kStackBytes);
    std::abort();
  }
  mprotect(p, page, PROT_NONE);
  return new Stack{static_cast<char*>(p)};
}

enum class State : uint8_t { not_started, ready, at_barrier, at_warp, done };

struct Thread {
  void* sp = nullptr;
  Stack* stack = nullptr;
  State state = State::not_started;
  int predicate = 0;  // barrier: in, the thread's predicate; out, the block's count
  WarpOp op = WarpOp::sync;
  unsigned mask = 0;
  int src_lane = 0;
  uint64_t value = 0;
  uint64_t result = 0;
};

struct Block {
  std::vector<Thread> threads;
  int n = 0;
  int current = -1;
  void* scheduler_sp = nullptr;
  KernelBody body = nullptr;
  void* args = nullptr;
  char* smem = nullptr;
  size_t smem_bytes = 0;
  std::string error;
  std::vector<Stack*> free_stacks;
};

thread_local Block* tls_block = nullptr;
thread_local std::string tls_last_error;

enum class Order { forward, reverse, shuffle };

// DS_CUDASIM_ORDER=reverse|shuffle changes the order in which waiting threads resume: a kernel that reads shared
// memory before the barrier that should order it then reads stale values in one of the orders.
Order order_from_env() {
  const char* e = std::getenv("DS_CUDASIM_ORDER");
  if (!e || !*e || std::strcmp(e, "forward") == 0) return Order::forward;
  if (std::strcmp(e, "reverse") == 0) return Order::reverse;
  if (std::strcmp(e, "shuffle") == 0) return Order::shuffle;
  std::fprintf(stderr, "cudasim: DS_CUDASIM_ORDER=%s is not forward, reverse or shuffle; using forward\n", e);
  return Order::forward;
}

Block& current_block(const char* what) {
  if (!tls_block) {
    std::fprintf(stderr, "cudasim: %s called outside a kernel\n", what);
    std::abort();
  }
  return *tls_block;
}

[[noreturn]] void fiber_main() {
  Block& b = *tls_block;
  b.body(b.args);
  Thread& t = b.threads[b.current];
  t.state = State::done;
  ds_cudasim_switch(&t.sp, b.scheduler_sp);
  __builtin_unreachable();
}

void wait_in_fiber(Block& b, State s) {
  Thread& t = b.threads[b.current];
  t.state = s;
  const Coords saved = tls_coords;
  ds_cudasim_switch(&t.sp, b.scheduler_sp);
  tls_coords = saved;
}

void set_coords(const Block& b, int i) {
  const dim3 bd = tls_coords.block_dim;
  const auto u = static_cast<unsigned>(i);
  tls_coords.thread_idx = uint3{u % bd.x, (u / bd.x) % bd.y, u / (bd.x * bd.y)};
}

void resume(Block& b, int i) {
  Thread& t = b.threads[i];
  set_coords(b, i);
  b.current = i;
  if (t.state == State::not_started) {
    if (b.free_stacks.empty()) b.free_stacks.push_back(new_stack());
    t.stack = b.free_stacks.back();
    b.free_stacks.pop_back();
    // The frame ds_cudasim_switch pops: six callee-saved registers, then fiber_main as the return address; the
    // slot above it is a null return address for fiber_main, which never returns. At fiber_main's entry
    // (sp + 56) % 16 == 8, as the ABI wants after a call.
    auto* sp = reinterpret_cast<void**>(t.stack->top() - 64);
    for (int k = 0; k < 6; ++k) sp[k] = nullptr;
    sp[6] = reinterpret_cast<void*>(&fiber_main);
    sp[7] = nullptr;
    t.sp = sp;
  }
  t.state = State::ready;
  ds_cudasim_switch(&b.scheduler_sp, t.sp);
  if (t.state == State::done) {
    b.free_stacks.push_back(t.stack);
    t.stack = nullptr;
  }
}

std::string hex(unsigned v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

// Completes the warp collectives whose lanes have all arrived. Returns whether any thread was released.
bool resolve_warps(Block& b) {
  bool released = false;
  for (int w0 = 0; w0 < b.n; w0 += 32) {
    const int lanes = std::min(32, b.n - w0);
    for (int l = 0; l < lanes; ++l) {
      Thread& t = b.threads[w0 + l];
      if (t.state != State::at_warp) continue;
      const std::string where = "warp " + std::to_string(w0 / 32) + ", lane " + std::to_string(l);
      if (!((t.mask >> l) & 1u)) {
        b.error = where + " is not in its own mask " + hex(t.mask);
        return false;
      }
      bool all = true;
      for (int k = 0; k < 32; ++k) {
        if (!((t.mask >> k) & 1u)) continue;
        if (k >= lanes) {
          b.error = where + ": mask " + hex(t.mask) + " names lane " + std::to_string(k) + ", which a block of " +
                    std::to_string(b.n) + " threads does not have";
          return false;
        }
        const Thread& o = b.threads[w0 + k];
        if (o.state == State::done) {
          b.error = where + ": mask " + hex(t.mask) + " names lane " + std::to_string(k) +
                    ", which exited before the warp collective";
          return false;
        }
        all = all && o.state == State::at_warp;
      }
      if (!all) continue;
      uint64_t vote = 0;
      for (int k = 0; k < 32; ++k) {
        if (!((t.mask >> k) & 1u)) continue;
        const Thread& o = b.threads[w0 + k];
        if (o.mask != t.mask || o.op != t.op) {
          b.error = where + " and lane " + std::to_string(k) + " wait at different warp collectives (masks " +
                    hex(t.mask) + " and " + hex(o.mask) + ")";
          return false;
        }
        if (o.value != 0) vote |= uint64_t{1} << k;
      }
      for (int k = 0; k < 32; ++k) {
        if (!((t.mask >> k) & 1u)) continue;
        Thread& o = b.threads[w0 + k];
        if (t.op == WarpOp::shuffle) {
          if (o.src_lane < 0 || o.src_lane >= 32 || !((t.mask >> o.src_lane) & 1u)) {
            b.error = "warp " + std::to_string(w0 / 32) + ", lane " + std::to_string(k) + " shuffles from lane " +
                      std::to_string(o.src_lane) + ", which is not in the mask " + hex(t.mask);
            return false;
          }
          o.result = b.threads[w0 + o.src_lane].value;
        } else if (t.op == WarpOp::vote) {
          o.result = vote;
        }
        o.state = State::ready;
      }
      released = true;
    }
  }
  return released;
}

bool run_block(Block& b, const std::vector<int>& order) {
  for (int i = 0; i < b.n; ++i) b.threads[i] = Thread{};
  if (b.smem_bytes) std::memset(b.smem, 0xff, b.smem_bytes);
  for (;;) {
    for (int i : order) {
      const State s = b.threads[i].state;
      if (s != State::not_started && s != State::ready) continue;
      resume(b, i);
      if (!b.error.empty()) return false;
    }
    if (resolve_warps(b)) continue;
    if (!b.error.empty()) return false;
    int alive = 0, at_barrier = 0, count = 0;
    for (int i = 0; i < b.n; ++i) {
      const Thread& t = b.threads[i];
      if (t.state == State::done) continue;
      ++alive;
      if (t.state == State::at_barrier) {
        ++at_barrier;
        count += t.predicate != 0;
      }
    }
    if (alive == 0) return true;
    if (at_barrier == alive) {
      for (Thread& t : b.threads)
        if (t.state == State::at_barrier) {
          t.predicate = count;
          t.state = State::ready;
        }
      continue;
    }
    b.error = "deadlock: " + std::to_string(at_barrier) + " of " + std::to_string(alive) +
              " live threads wait at __syncthreads while the others wait at a warp collective whose lanes never "
              "all arrive";
    return false;
  }
}

std::mutex& limits_mutex() {
  static std::mutex mu;
  return mu;
}
std::map<const void*, int>& smem_limits() {
  static std::map<const void*, int> m;
  return m;
}

void release_block_stacks(Block& b) {
  for (Thread& t : b.threads)
    if (t.stack) {
      b.free_stacks.push_back(t.stack);
      t.stack = nullptr;
    }
}

}  // namespace

int block_barrier(int predicate) {
  Block& b = current_block("__syncthreads");
  b.threads[b.current].predicate = predicate;
  wait_in_fiber(b, State::at_barrier);
  return b.threads[b.current].predicate;
}

uint64_t warp_collective(WarpOp op, unsigned mask, uint64_t value, int src_lane) {
  Block& b = current_block("a warp collective");
  Thread& t = b.threads[b.current];
  t.op = op;
  t.mask = mask;
  t.value = value;
  t.src_lane = src_lane;
  wait_in_fiber(b, State::at_warp);
  return b.threads[b.current].result;
}

unsigned live_lanes() {
  Block& b = current_block("__activemask");
  const int w0 = b.current / 32 * 32;
  unsigned m = 0;
  for (int k = 0; k < 32 && w0 + k < b.n; ++k)
    if (b.threads[w0 + k].state != State::done) m |= 1u << k;
  return m;
}

void* dynamic_shared() { return current_block("extern __shared__").smem; }

void trap(const char* why) {
  Block& b = current_block("__trap");
  b.error = std::string("device-side trap: ") + why;
  Thread& t = b.threads[b.current];
  t.state = State::done;  // its stack is reclaimed with the block's
  ds_cudasim_switch(&t.sp, b.scheduler_sp);
  __builtin_unreachable();
}

void set_max_dynamic_smem(const void* kernel, int bytes) {
  std::lock_guard<std::mutex> lock(limits_mutex());
  smem_limits()[kernel] = bytes;
}

const char* last_launch_error() { return tls_last_error.c_str(); }

int launch(const void* kernel, dim3 grid, dim3 block, size_t dynamic_smem, KernelBody body, void* args) {
  tls_last_error.clear();
  if (tls_block) {
    tls_last_error = "a kernel launched from inside a kernel (dynamic parallelism is not simulated)";
    return cudaErrorNotSupported;
  }
  const uint64_t threads = uint64_t{block.x} * block.y * block.z;
  if (threads == 0 || threads > 1024 || block.x > 1024 || block.y > 1024 || block.z > 64 || grid.x == 0 ||
      grid.x > 0x7fffffffu || grid.y == 0 || grid.y > 65535 || grid.z == 0 || grid.z > 65535) {
    tls_last_error = "grid (" + std::to_string(grid.x) + ", " + std::to_string(grid.y) + ", " +
                     std::to_string(grid.z) + ") of blocks (" + std::to_string(block.x) + ", " +
                     std::to_string(block.y) + ", " + std::to_string(block.z) + ") is outside CUDA's limits";
    return cudaErrorInvalidConfiguration;
  }
  int limit = 48 << 10;
  {
    std::lock_guard<std::mutex> lock(limits_mutex());
    auto it = smem_limits().find(kernel);
    if (it != smem_limits().end()) limit = it->second;
  }
  if (dynamic_smem > static_cast<size_t>(limit)) {
    tls_last_error = std::to_string(dynamic_smem) + " bytes of dynamic shared memory exceed the kernel's limit of " +
                     std::to_string(limit) + " (raise it with cudaFuncSetAttribute, up to 227 KiB)";
    return cudaErrorInvalidValue;
  }
  static const Order order_kind = order_from_env();
  thread_local Block b;
  b.n = static_cast<int>(threads);
  if (b.threads.size() < threads) b.threads.resize(threads);
  b.body = body;
  b.args = args;
  b.error.clear();
  b.smem_bytes = dynamic_smem;
  b.smem = dynamic_smem ? static_cast<char*>(std::aligned_alloc(128, (dynamic_smem + 127) / 128 * 128)) : nullptr;
  std::vector<int> order(threads);
  for (int i = 0; i < b.n; ++i) order[i] = i;
  if (order_kind == Order::reverse) std::reverse(order.begin(), order.end());
  std::mt19937 rng(12345);
  tls_block = &b;
  const Coords saved = tls_coords;
  tls_coords.block_dim = block;
  tls_coords.grid_dim = grid;
  bool ok = true;
  for (unsigned z = 0; z < grid.z && ok; ++z)
    for (unsigned y = 0; y < grid.y && ok; ++y)
      for (unsigned x = 0; x < grid.x && ok; ++x) {
        tls_coords.block_idx = uint3{x, y, z};
        if (order_kind == Order::shuffle) std::shuffle(order.begin(), order.end(), rng);
        ok = run_block(b, order);
        if (!ok) {
          tls_last_error = "block (" + std::to_string(x) + ", " + std::to_string(y) + ", " + std::to_string(z) +
                           "): " + b.error;
          release_block_stacks(b);
        }
      }
  tls_coords = saved;
  tls_block = nullptr;
  std::free(b.smem);
  b.smem = nullptr;
  return ok ? cudaSuccess : cudaErrorLaunchFailure;
}

}  // namespace ds::cudasim
