#include <atomic>

#include <ds/core/detail/check.h>
#include <ds/ops/device_info.h>

#if DS_HAVE_CUDA
#include "device.h"
#endif

namespace ds {
namespace {
std::atomic<bool> allow_tf32{false};
}  // namespace

void cuda_set_allow_tf32(bool allow) { allow_tf32.store(allow, std::memory_order_relaxed); }
bool cuda_allow_tf32() { return allow_tf32.load(std::memory_order_relaxed); }


bool cuda_built() { return DS_HAVE_CUDA != 0; }

int cuda_device_count() {
#if DS_HAVE_CUDA
  return cuda::device_count();
#else
  return 0;
#endif
}

std::string cuda_device_name(int device) {
  const int n = cuda_device_count();
  DS_CHECK(device >= 0 && device < n, "cuda_device_name", "cuda:{} does not exist: this machine has {} CUDA device(s)",
           device, n);
#if DS_HAVE_CUDA
  return cuda::device_name(device);
#else
  return {};
#endif
}

bool cuda_is_simulated() {
#if DS_HAVE_CUDA
  return cuda::is_simulated();
#else
  return false;
#endif
}

void cuda_synchronize(int device) {
  const int n = cuda_device_count();
  DS_CHECK(device >= 0 && device < n, "cuda_synchronize", "cuda:{} does not exist: {}", device,
           cuda_built() ? fmt::format("this machine has {} CUDA device(s)", n) : "ds was built without CUDA");
#if DS_HAVE_CUDA
  cuda::synchronize(device);
#endif
}

}  // namespace ds
