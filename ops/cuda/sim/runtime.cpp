// cudasim's CUDA runtime: the part of the CUDA runtime API that ds calls, implemented on the host, so that the
// CUDA backend built against it (libds_cudasim) runs its real host code and kernels on a machine without a GPU.
// "Device" memory is host memory from a capacity-limited heap per simulated device, so out-of-memory paths run; every
// copy checks that its device side lies inside a live device allocation and its host side does not, which catches
// host/device pointer mix-ups that would fault on a GPU. Work is synchronous: a stream or event is always complete.
//
// DS_CUDASIM_DEVICES (default 1) sets the number of devices, DS_CUDASIM_MEMORY_MB (default 4096) each one's memory.
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>

#include <cuda_runtime_api.h>

#include "scheduler.h"

namespace {

int env_int(const char* name, int fallback) {
  const char* e = std::getenv(name);
  return e && *e ? std::atoi(e) : fallback;
}

int num_devices() {
  static const int n = env_int("DS_CUDASIM_DEVICES", 1);
  return n;
}

size_t capacity_bytes() {
  static const size_t c = static_cast<size_t>(env_int("DS_CUDASIM_MEMORY_MB", 4096)) << 20;
  return c;
}

enum class Kind { device, pinned };
struct Allocation {
  size_t bytes;
  Kind kind;
  int device;
};

struct State {
  std::mutex mu;
  std::map<const char*, Allocation> allocations;  // by base address
  size_t used[64] = {};
};
State& state() {
  static State* s = new State;  // never destroyed: frees may come during static teardown
  return *s;
}

thread_local int tls_device = 0;
thread_local cudaError_t tls_last = cudaSuccess;

cudaError_t fail(cudaError_t e) {
  tls_last = e;
  return e;
}

// The live allocation holding [p, p + n), if any (the caller holds the mutex).
const Allocation* find(const void* p, size_t n) {
  State& s = state();
  const char* c = static_cast<const char*>(p);
  auto it = s.allocations.upper_bound(c);
  if (it == s.allocations.begin()) return nullptr;
  --it;
  if (c < it->first || c + n > it->first + it->second.bytes) return nullptr;
  return &it->second;
}

bool is_device_range(const void* p, size_t n) {
  std::lock_guard<std::mutex> lock(state().mu);
  const Allocation* a = find(p, n == 0 ? 1 : n);
  return a && a->kind == Kind::device;
}

bool is_device_pointer(const void* p) {
  std::lock_guard<std::mutex> lock(state().mu);
  const Allocation* a = find(p, 1);
  return a && a->kind == Kind::device;
}

struct SimStream {
  int device;
};
struct SimEvent {
  int device;
  bool recorded = false;
  std::chrono::steady_clock::time_point at;
};

bool valid_stream(cudaStream_t s) {
  // The legacy and per-thread default streams are the handles 0, 1 and 2.
  return reinterpret_cast<uintptr_t>(s) <= 2 || reinterpret_cast<SimStream*>(s)->device >= 0;
}

cudaError_t copy(void* dst, const void* src, size_t n, cudaMemcpyKind kind) {
  if (n == 0) return cudaSuccess;
  if (!dst || !src) return fail(cudaErrorInvalidValue);
  if (kind == cudaMemcpyDefault)
    kind = is_device_pointer(dst) ? (is_device_pointer(src) ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
                                  : (is_device_pointer(src) ? cudaMemcpyDeviceToHost : cudaMemcpyHostToHost);
  const bool dst_dev = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
  const bool src_dev = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
  if (dst_dev ? !is_device_range(dst, n) : is_device_pointer(dst)) return fail(cudaErrorInvalidValue);
  if (src_dev ? !is_device_range(src, n) : is_device_pointer(src)) return fail(cudaErrorInvalidValue);
  std::memmove(dst, src, n);
  return cudaSuccess;
}

}  // namespace

namespace ds::cudasim {
// For tests: whether p points into a live simulated device allocation.
bool is_device_memory(const void* p) { return is_device_pointer(p); }
}  // namespace ds::cudasim

extern "C" {

cudaError_t cudaGetDeviceCount(int* count) {
  *count = num_devices();
  return cudaSuccess;
}

cudaError_t cudaGetDevice(int* device) {
  *device = tls_device;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) {
  if (device < 0 || device >= num_devices()) return fail(cudaErrorInvalidDevice);
  tls_device = device;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int device) {
  if (device < 0 || device >= num_devices()) return fail(cudaErrorInvalidDevice);
  *p = cudaDeviceProp{};
  std::strcpy(p->name, "ds cudasim (CUDA on the CPU, H100-like limits)");
  p->totalGlobalMem = capacity_bytes();
  p->sharedMemPerBlock = 48 << 10;
  p->sharedMemPerBlockOptin = 227 << 10;
  p->sharedMemPerMultiprocessor = 228 << 10;
  p->regsPerBlock = 65536;
  p->regsPerMultiprocessor = 65536;
  p->warpSize = 32;
  p->maxThreadsPerBlock = 1024;
  p->maxThreadsDim[0] = 1024;
  p->maxThreadsDim[1] = 1024;
  p->maxThreadsDim[2] = 64;
  p->maxGridSize[0] = 0x7fffffff;
  p->maxGridSize[1] = 65535;
  p->maxGridSize[2] = 65535;
  p->major = 9;
  p->minor = 0;
  p->multiProcessorCount = 132;
  p->maxThreadsPerMultiProcessor = 2048;
  p->maxBlocksPerMultiProcessor = 32;
  p->l2CacheSize = 50 << 20;
  p->unifiedAddressing = 1;
  p->concurrentKernels = 1;
  p->pciBusID = device;
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device) {
  cudaDeviceProp p;
  if (cudaGetDeviceProperties(&p, device) != cudaSuccess) return fail(cudaErrorInvalidDevice);
  switch (attr) {
    case cudaDevAttrMultiProcessorCount: *value = p.multiProcessorCount; break;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *value = static_cast<int>(p.sharedMemPerBlockOptin); break;
    case cudaDevAttrMaxSharedMemoryPerBlock: *value = static_cast<int>(p.sharedMemPerBlock); break;
    case cudaDevAttrComputeCapabilityMajor: *value = p.major; break;
    case cudaDevAttrComputeCapabilityMinor: *value = p.minor; break;
    case cudaDevAttrMaxThreadsPerBlock: *value = p.maxThreadsPerBlock; break;
    case cudaDevAttrWarpSize: *value = 32; break;
    case cudaDevAttrL2CacheSize: *value = p.l2CacheSize; break;
    default: return fail(cudaErrorInvalidValue);
  }
  return cudaSuccess;
}

cudaError_t cudaDriverGetVersion(int* v) {
  *v = CUDART_VERSION;
  return cudaSuccess;
}
cudaError_t cudaRuntimeGetVersion(int* v) {
  *v = CUDART_VERSION;
  return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }

cudaError_t cudaGetLastError() {
  const cudaError_t e = tls_last;
  tls_last = cudaSuccess;
  return e;
}
cudaError_t cudaPeekAtLastError() { return tls_last; }

const char* cudaGetErrorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorNotReady: return "cudaErrorNotReady";
    case cudaErrorNotSupported: return "cudaErrorNotSupported";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    default: return "cudaErrorUnknown";
  }
}

const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorNotReady: return "device not ready";
    case cudaErrorNotSupported: return "operation not supported";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    default: return "unknown error";
  }
}

cudaError_t cudaMalloc(void** p, size_t n) {
  *p = nullptr;
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  const int d = tls_device;
  if (n > capacity_bytes() - s.used[d]) return fail(cudaErrorMemoryAllocation);
  const size_t rounded = (n + 255) / 256 * 256;
  void* m = std::aligned_alloc(256, rounded == 0 ? 256 : rounded);
  if (!m) return fail(cudaErrorMemoryAllocation);
  s.used[d] += n;
  s.allocations[static_cast<const char*>(m)] = Allocation{n, Kind::device, d};
  *p = m;
  return cudaSuccess;
}

cudaError_t cudaFree(void* p) {
  if (!p) return cudaSuccess;
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.allocations.find(static_cast<const char*>(p));
  if (it == s.allocations.end() || it->second.kind != Kind::device) return fail(cudaErrorInvalidValue);
  s.used[it->second.device] -= it->second.bytes;
  s.allocations.erase(it);
  std::free(p);
  return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total) {
  std::lock_guard<std::mutex> lock(state().mu);
  *total = capacity_bytes();
  *free_bytes = capacity_bytes() - state().used[tls_device];
  return cudaSuccess;
}

cudaError_t cudaHostAlloc(void** p, size_t n, unsigned int) {
  void* m = std::aligned_alloc(256, (n + 255) / 256 * 256 + 256);
  if (!m) return fail(cudaErrorMemoryAllocation);
  std::lock_guard<std::mutex> lock(state().mu);
  state().allocations[static_cast<const char*>(m)] = Allocation{n, Kind::pinned, -1};
  *p = m;
  return cudaSuccess;
}
cudaError_t cudaMallocHost(void** p, size_t n) { return cudaHostAlloc(p, n, 0); }

cudaError_t cudaFreeHost(void* p) {
  if (!p) return cudaSuccess;
  std::lock_guard<std::mutex> lock(state().mu);
  auto it = state().allocations.find(static_cast<const char*>(p));
  if (it == state().allocations.end() || it->second.kind != Kind::pinned) return fail(cudaErrorInvalidValue);
  state().allocations.erase(it);
  std::free(p);
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t n, cudaMemcpyKind kind) { return copy(dst, src, n, kind); }

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t n, cudaMemcpyKind kind, cudaStream_t s) {
  if (!valid_stream(s)) return fail(cudaErrorInvalidResourceHandle);
  return copy(dst, src, n, kind);
}

cudaError_t cudaMemcpyPeerAsync(void* dst, int dst_device, const void* src, int src_device, size_t n,
                                cudaStream_t) {
  if (dst_device < 0 || dst_device >= num_devices() || src_device < 0 || src_device >= num_devices())
    return fail(cudaErrorInvalidDevice);
  return copy(dst, src, n, cudaMemcpyDeviceToDevice);
}

cudaError_t cudaMemcpy2DAsync(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width, size_t height,
                              cudaMemcpyKind kind, cudaStream_t) {
  for (size_t r = 0; r < height; ++r) {
    const cudaError_t e =
        copy(static_cast<char*>(dst) + r * dpitch, static_cast<const char*>(src) + r * spitch, width, kind);
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void* p, int value, size_t n, cudaStream_t) {
  if (n == 0) return cudaSuccess;
  if (!is_device_range(p, n)) return fail(cudaErrorInvalidValue);
  std::memset(p, value, n);
  return cudaSuccess;
}
cudaError_t cudaMemset(void* p, int value, size_t n) { return cudaMemsetAsync(p, value, n, nullptr); }

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned int) {
  *s = reinterpret_cast<cudaStream_t>(new SimStream{tls_device});
  return cudaSuccess;
}
cudaError_t cudaStreamCreate(cudaStream_t* s) { return cudaStreamCreateWithFlags(s, 0); }
cudaError_t cudaStreamDestroy(cudaStream_t s) {
  if (reinterpret_cast<uintptr_t>(s) <= 2) return fail(cudaErrorInvalidResourceHandle);
  delete reinterpret_cast<SimStream*>(s);
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t s) {
  return valid_stream(s) ? cudaSuccess : fail(cudaErrorInvalidResourceHandle);
}
cudaError_t cudaStreamQuery(cudaStream_t s) { return cudaStreamSynchronize(s); }
cudaError_t cudaStreamWaitEvent(cudaStream_t, cudaEvent_t e, unsigned int) {
  return e ? cudaSuccess : fail(cudaErrorInvalidResourceHandle);
}
cudaError_t cudaStreamIsCapturing(cudaStream_t, cudaStreamCaptureStatus* status) {
  *status = cudaStreamCaptureStatusNone;
  return cudaSuccess;
}
cudaError_t cudaLaunchHostFunc(cudaStream_t, cudaHostFn_t fn, void* user) {
  fn(user);
  return cudaSuccess;
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned int) {
  *e = reinterpret_cast<cudaEvent_t>(new SimEvent{tls_device});
  return cudaSuccess;
}
cudaError_t cudaEventCreate(cudaEvent_t* e) { return cudaEventCreateWithFlags(e, 0); }
cudaError_t cudaEventDestroy(cudaEvent_t e) {
  if (!e) return fail(cudaErrorInvalidResourceHandle);
  delete reinterpret_cast<SimEvent*>(e);
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t) {
  if (!e) return fail(cudaErrorInvalidResourceHandle);
  auto* ev = reinterpret_cast<SimEvent*>(e);
  ev->recorded = true;
  ev->at = std::chrono::steady_clock::now();
  return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t e) { return e ? cudaSuccess : fail(cudaErrorInvalidResourceHandle); }
cudaError_t cudaEventQuery(cudaEvent_t e) { return cudaEventSynchronize(e); }
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t a, cudaEvent_t b) {
  auto *x = reinterpret_cast<SimEvent*>(a), *y = reinterpret_cast<SimEvent*>(b);
  if (!x || !y || !x->recorded || !y->recorded) return fail(cudaErrorInvalidResourceHandle);
  *ms = std::chrono::duration<float, std::milli>(y->at - x->at).count();
  return cudaSuccess;
}

cudaError_t cudaFuncSetAttribute(const void* func, cudaFuncAttribute attr, int value) {
  if (attr == cudaFuncAttributeMaxDynamicSharedMemorySize) {
    if (value < 0 || value > (227 << 10)) return fail(cudaErrorInvalidValue);
    ds::cudasim::set_max_dynamic_smem(func, value);
  }
  return cudaSuccess;
}

}  // extern "C"
