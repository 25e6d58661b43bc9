// Streams, events, device guards and checked CUDA calls (ops/cuda/stream.h, check.h); tests/cuda/main.cpp says where
// these tests run.
#include <catch2/catch.hpp>

#include <ds/ds.h>

#include "ops/cuda/check.h"
#include "ops/cuda/stream.h"

using namespace ds;

TEST_CASE("cuda streams: the current stream is per thread and per device, set by StreamGuard", "[cuda]") {
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
}

TEST_CASE("cuda streams: events record, wait and time", "[cuda]") {
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
}

TEST_CASE("cuda checks: a failing runtime call throws ds::Error naming the call and CUDA's message", "[cuda]") {
  CHECK_THROWS_WITH(cuda::DeviceGuard(cuda_device_count() + 5),
                    Catch::Contains("[cuda] cudaSetDevice(device) failed: invalid device ordinal"));
  // The error was reported once: the next checked call succeeds.
  CHECK_NOTHROW(cuda_synchronize(0));
}
