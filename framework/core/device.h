#pragma once
// Device: where a tensor's memory lives. CPU, CUDA:n, or meta: tensors with sizes, strides and a dtype but no memory,
// on which ops compute only their outputs' metadata (a model's shapes and sizes without its data, a graph traced
// without running it). Reading a meta tensor's values is an error naming the op or call that tried.
#include <cstdint>
#include <string>

namespace ds {

enum class DeviceType : uint8_t { CPU = 0, CUDA = 1, Meta = 2 };
inline constexpr int kNumDeviceTypes = 3;

struct Device {
  DeviceType type = DeviceType::CPU;
  int8_t index = 0;

  constexpr Device() = default;
  constexpr Device(DeviceType t, int i = 0) : type(t), index(static_cast<int8_t>(i)) {}  // NOLINT
  // Parses "cpu", "cuda", "cuda:1", "meta"; throws ds::Error otherwise.
  explicit Device(const std::string& spec);

  constexpr bool is_cpu() const { return type == DeviceType::CPU; }
  constexpr bool is_cuda() const { return type == DeviceType::CUDA; }
  constexpr bool is_meta() const { return type == DeviceType::Meta; }
  constexpr bool operator==(const Device&) const = default;
  std::string str() const;  // "cpu", "cuda:0", "meta"
};

inline constexpr Device kCPU{DeviceType::CPU, 0};
inline constexpr Device kCUDA{DeviceType::CUDA, 0};
inline constexpr Device kMeta{DeviceType::Meta, 0};

}  // namespace ds
