// Device memory of the CUDA backend: cudaMalloc/cudaFree under the caching allocator (framework/core), one
// allocator per GPU, and the copy hook that moves bytes between host and GPUs. Both are registered with core when
// libds loads; the allocator of cuda:n is made on first use, and asking for one where no GPU exists is an error.
#include <array>
#include <atomic>
#include <cstdlib>
#include <memory>
#include <mutex>

#include <ds/core/caching_allocator.h>
#include <ds/core/detail/check.h>
#include <ds/core/tensor_base.h>

#include "check.h"
#include "device.h"
#include "index_error.h"
#include "stream.h"

namespace ds::cuda {
namespace {

class CudaMemory final : public DeviceMemory {
 public:
  explicit CudaMemory(int device) : device_(device) {}
  void* reserve(size_t nbytes) override {
    DeviceGuard g(device_);
    void* p = nullptr;
    const cudaError_t e = cudaMalloc(&p, nbytes);
    if (e == cudaErrorMemoryAllocation) {
      cudaGetLastError();  // out of memory is the allocator's to handle (release the cache, retry, report)
      return nullptr;
    }
    DS_CUDA_CHECK(e);
    return p;
  }
  void release(void* p, size_t) override {
    DeviceGuard g(device_);
    DS_CUDA_CHECK(cudaFree(p));  // waits for the device: only empty_cache and the out-of-memory path come here
  }
  StreamId current_stream() const override { return reinterpret_cast<StreamId>(cuda::current_stream(device_)); }
  Device device() const override { return Device(DeviceType::CUDA, device_); }
  void fill(void* p, size_t nbytes, uint8_t byte) override {
    DeviceGuard g(device_);
    DS_CUDA_CHECK(cudaMemsetAsync(p, byte, nbytes, cuda::current_stream(device_)));
  }

 private:
  int device_;
};

// The allocator of cuda:index, made on first use. Never destroyed: tensors may outlive static teardown.
Allocator* allocator_of(int index) {
  static std::array<std::atomic<CachingAllocator*>, kMaxDevices> allocators{};
  if (index >= 0 && index < kMaxDevices)
    if (CachingAllocator* a = allocators[index].load(std::memory_order_acquire)) return a;
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  const int n = device_count();
  DS_CHECK(n > 0, "cuda", "cuda:{} is not available: ds was built with CUDA but finds no CUDA device (no GPU or no "
           "driver) on this machine", index);
  DS_CHECK(index >= 0 && index < n && index < kMaxDevices, "cuda", "cuda:{} does not exist: this machine has {} CUDA "
           "device(s)", index, n);
  if (!allocators[index].load(std::memory_order_relaxed)) {
    auto* a = new CachingAllocator(std::make_unique<CudaMemory>(index));
    const char* poison = std::getenv("DS_CUDA_POISON");
    if (poison && *poison && *poison != '0') a->set_poison(0xff);
    allocators[index].store(a, std::memory_order_release);
  }
  return allocators[index].load(std::memory_order_relaxed);
}

// Copies on the current stream of the GPU involved. Host -> device from pageable memory returns once the host
// bytes are staged (CUDA's rule for pageable memory), so the host buffer may be freed at once; device -> host waits
// for the copy, so the bytes are there when this returns.
void copy(void* dst, Device dst_device, const void* src, Device src_device, size_t nbytes) {
  if (nbytes == 0) return;
  const int device = dst_device.is_cuda() ? dst_device.index : src_device.index;
  DeviceGuard g(device);
  const cudaStream_t stream = current_stream(device);
  if (dst_device.is_cuda() && src_device.is_cuda() && dst_device.index != src_device.index) {
    DS_CUDA_CHECK(cudaMemcpyPeerAsync(dst, dst_device.index, src, src_device.index, nbytes, stream));
    return;
  }
  const cudaMemcpyKind kind = src_device.is_cpu()   ? cudaMemcpyHostToDevice
                              : dst_device.is_cpu() ? cudaMemcpyDeviceToHost
                                                    : cudaMemcpyDeviceToDevice;
  DS_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, kind, stream));
  if (kind == cudaMemcpyDeviceToHost) {
    DS_CUDA_CHECK(cudaStreamSynchronize(stream));
    check_index_errors(device);
  }
}

// Only function pointers are stored here: no CUDA call runs while libds loads.
const bool registered = [] {
  register_allocator(DeviceType::CUDA, &allocator_of);
  register_device_copy(DeviceType::CUDA, &copy);
  return true;
}();

}  // namespace
}  // namespace ds::cuda
