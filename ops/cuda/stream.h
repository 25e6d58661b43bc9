#pragma once
// Streams and events of the CUDA backend (internal; includes cuda_runtime.h). Each thread has a current stream per
// device, the default stream until set; ops launch on it and the caching allocator keys its pools by it.
#include <cuda_runtime.h>

namespace ds::cuda {

inline constexpr int kMaxDevices = 64;

// Makes `device` current for the scope (cudaSetDevice) and restores the previous one.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int prev_ = 0;
  bool changed_ = false;
};

// The calling thread's current stream on `device` (nullptr: the default stream).
cudaStream_t current_stream(int device);
void set_current_stream(int device, cudaStream_t stream);

// An owned, non-blocking stream on one device (it does not synchronise with the default stream).
class Stream {
 public:
  explicit Stream(int device);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  cudaStream_t handle() const { return stream_; }
  int device() const { return device_; }
  // Waits until all work queued on the stream has finished.
  void synchronize() const;
  // Whether all queued work has finished (no wait).
  bool query() const;

 private:
  int device_;
  cudaStream_t stream_ = nullptr;
};

// Makes `stream` the current stream of its device for the scope.
class StreamGuard {
 public:
  explicit StreamGuard(const Stream& stream);
  ~StreamGuard();
  StreamGuard(const StreamGuard&) = delete;
  StreamGuard& operator=(const StreamGuard&) = delete;

 private:
  int device_;
  cudaStream_t prev_;
};

// A CUDA event with timing: record it on a stream, then wait for it from the host or from another stream.
class Event {
 public:
  explicit Event(int device);
  ~Event();
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  void record(cudaStream_t stream);
  // Blocks the host until the recorded work has finished.
  void synchronize() const;
  bool query() const;
  // Makes `stream` wait (on the device, not the host) for the recorded work.
  void wait(cudaStream_t stream) const;
  // Milliseconds between this event and a later one, both recorded and finished.
  float elapsed_ms(const Event& later) const;

 private:
  int device_;
  cudaEvent_t event_ = nullptr;
};

}  // namespace ds::cuda
