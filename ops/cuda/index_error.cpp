#include "index_error.h"

#include <array>
#include <atomic>
#include <mutex>

#include <ds/core/detail/check.h>
#include <ds/ops/op_def.h>

#include "check.h"
#include "stream.h"

namespace ds::cuda {
namespace {
struct Records {
  std::mutex mu;
  std::array<std::atomic<IndexErrorRecord*>, kMaxDevices> ptr{};
};
Records& records() {
  static Records* r = new Records;  // never destroyed: kernels may run during static destruction
  return *r;
}
}  // namespace

IndexErrorRecord* index_error_record(int device) {
  Records& r = records();
  if (IndexErrorRecord* p = r.ptr[device].load(std::memory_order_acquire)) return p;
  std::lock_guard lock(r.mu);
  if (IndexErrorRecord* p = r.ptr[device].load(std::memory_order_relaxed)) return p;
  DeviceGuard guard(device);
  void* p = nullptr;
  DS_CUDA_CHECK(cudaMalloc(&p, sizeof(IndexErrorRecord)));
  DS_CUDA_CHECK(cudaMemset(p, 0, sizeof(IndexErrorRecord)));
  r.ptr[device].store(static_cast<IndexErrorRecord*>(p), std::memory_order_release);
  return static_cast<IndexErrorRecord*>(p);
}

void check_index_errors(int device) {
  IndexErrorRecord* p = records().ptr[device].load(std::memory_order_acquire);
  if (p == nullptr) return;
  DeviceGuard guard(device);
  IndexErrorRecord rec{};
  DS_CUDA_CHECK(cudaMemcpy(&rec, p, sizeof(rec), cudaMemcpyDeviceToHost));
  if (rec.flag == 0) return;
  DS_CUDA_CHECK(cudaMemset(p, 0, sizeof(IndexErrorRecord)));
  DS_FAIL(op_name(static_cast<OpId>(rec.op)),
          "index {} is out of bounds for dimension {} with size {} (found by the kernel on cuda:{}, reported at "
          "the next synchronisation)", rec.index, rec.dim, rec.size, device);
}

}  // namespace ds::cuda
