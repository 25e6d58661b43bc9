// Streams, events, device guards and checked CUDA calls (ops/cuda/stream.h, check.h) on a real GPU; skipped
// visibly without one. The headers include cuda_runtime.h, so the bodies compile only in a CUDA build.
#include <catch2/catch.hpp>

#include <ds/ds.h>

#if DS_HAVE_CUDA
#include "ops/cuda/check.h"
#include "ops/cuda/stream.h"
#endif

using namespace ds;

TEST_CASE("cuda streams: the current stream is per thread and per device, set by StreamGuard", "[cuda]") {
  if (cuda_device_count() == 0) {
    WARN("skipped: no CUDA device");
    return;
  }
#if DS_HAVE_CUDA
  CHECK(cuda::current_stream(0) == nullptr);  // the default stream
  cuda::Stream s(0);
  CHECK(s.handle() != nullptr);
  {
    cuda::StreamGuard g(s);
    CHECK(cuda::current_stream(0) == s.handle());
    // Copies run on the current stream, and device -> host waits for them.
    const Tensor x = arange(0, 64).to(kF32);
    CHECK(x.to(kCUDA).to(kCPU).tolist<float>() == x.tolist<float>());
  }
  CHECK(cuda::current_stream(0) == nullptr);
  s.synchronize();
  CHECK(s.query());
#endif
}

TEST_CASE("cuda streams: events record, wait and time", "[cuda]") {
  if (cuda_device_count() == 0) {
    WARN("skipped: no CUDA device");
    return;
  }
#if DS_HAVE_CUDA
  cuda::Stream s(0);
  cuda::Event start(0), stop(0);
  start.record(s.handle());
  {
    cuda::StreamGuard g(s);
    const Tensor big = zeros({1 << 22}).to(kCUDA);
    CHECK(big.to(kCPU).sum().item<float>() == 0.0f);
  }
  stop.record(s.handle());
  stop.synchronize();
  CHECK(stop.query());
  CHECK(start.elapsed_ms(stop) >= 0.0f);
  cuda::Stream other(0);
  stop.wait(other.handle());
  other.synchronize();
#endif
}

TEST_CASE("cuda checks: a failing runtime call throws ds::Error naming the call and CUDA's message", "[cuda]") {
  if (cuda_device_count() == 0) {
    WARN("skipped: no CUDA device");
    return;
  }
#if DS_HAVE_CUDA
  CHECK_THROWS_WITH(cuda::DeviceGuard(cuda_device_count() + 5),
                    Catch::Contains("[cuda] cudaSetDevice(device) failed: invalid device ordinal"));
  // The error was reported once: the next checked call succeeds.
  CHECK_NOTHROW(cuda_synchronize(0));
#endif
}
