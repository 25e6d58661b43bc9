#include "stream.h"

#include <array>

#include <ds/core/detail/check.h>

#include "check.h"
#include "device.h"
#include "index_error.h"

namespace ds::cuda {
namespace {
thread_local std::array<cudaStream_t, kMaxDevices> tls_current{};  // nullptr: the default stream

int checked_index(int device, const char* what) {
  DS_CHECK(device >= 0 && device < kMaxDevices, "cuda", "{}: device index {} is out of range", what, device);
  return device;
}
}  // namespace

DeviceGuard::DeviceGuard(int device) {
  DS_CUDA_CHECK(cudaGetDevice(&prev_));
  if (prev_ != device) {
    DS_CUDA_CHECK(cudaSetDevice(device));
    changed_ = true;
  }
}

DeviceGuard::~DeviceGuard() {
  if (changed_) cudaSetDevice(prev_);  // restoring a device that was valid cannot fail in a useful way
}

cudaStream_t current_stream(int device) { return tls_current[checked_index(device, "current_stream")]; }

void set_current_stream(int device, cudaStream_t stream) {
  tls_current[checked_index(device, "set_current_stream")] = stream;
}

void synchronize(int device) {
  DeviceGuard g(device);
  DS_CUDA_CHECK(cudaDeviceSynchronize());
  check_index_errors(device);
}

Stream::Stream(int device) : device_(checked_index(device, "Stream")) {
  DeviceGuard g(device_);
  DS_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
}

Stream::~Stream() {
  // Work still queued on the stream completes; destroying the handle does not wait for it.
  if (stream_) cudaStreamDestroy(stream_);
}

void Stream::synchronize() const { DS_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

bool Stream::query() const {
  const cudaError_t e = cudaStreamQuery(stream_);
  if (e == cudaErrorNotReady) return false;
  DS_CUDA_CHECK(e);
  return true;
}

StreamGuard::StreamGuard(const Stream& stream) : device_(stream.device()), prev_(current_stream(stream.device())) {
  set_current_stream(device_, stream.handle());
}

StreamGuard::~StreamGuard() { set_current_stream(device_, prev_); }

Event::Event(int device) : device_(checked_index(device, "Event")) {
  DeviceGuard g(device_);
  DS_CUDA_CHECK(cudaEventCreate(&event_));
}

Event::~Event() {
  if (event_) cudaEventDestroy(event_);
}

void Event::record(cudaStream_t stream) {
  DeviceGuard g(device_);
  DS_CUDA_CHECK(cudaEventRecord(event_, stream));
}

void Event::synchronize() const { DS_CUDA_CHECK(cudaEventSynchronize(event_)); }

bool Event::query() const {
  const cudaError_t e = cudaEventQuery(event_);
  if (e == cudaErrorNotReady) return false;
  DS_CUDA_CHECK(e);
  return true;
}

void Event::wait(cudaStream_t stream) const { DS_CUDA_CHECK(cudaStreamWaitEvent(stream, event_, 0)); }

float Event::elapsed_ms(const Event& later) const {
  float ms = 0;
  DS_CUDA_CHECK(cudaEventElapsedTime(&ms, event_, later.event_));
  return ms;
}

}  // namespace ds::cuda
