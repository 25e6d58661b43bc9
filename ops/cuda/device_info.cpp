#include <ds/ops/device_info.h>

#if DS_HAVE_CUDA
#include "device.h"
#endif

namespace ds {

bool cuda_built() { return DS_HAVE_CUDA != 0; }

int cuda_device_count() {
#if DS_HAVE_CUDA
  return cuda::device_count();
#else
  return 0;
#endif
}

}  // namespace ds
