#include "device.h"

#include <cstdlib>

#include "error.h"

namespace ds {

Device::Device(const std::string& spec) {
  if (spec == "cpu") { type = DeviceType::CPU; index = 0; return; }
  if (spec == "meta") { type = DeviceType::Meta; index = 0; return; }
  if (spec.rfind("cuda", 0) == 0) {
    type = DeviceType::CUDA;
    index = 0;
    if (spec.size() == 4) return;
    if (spec[4] == ':' && spec.size() > 5) {
      char* end = nullptr;
      const long i = std::strtol(spec.c_str() + 5, &end, 10);
      if (*end == '\0' && i >= 0 && i < 128) { index = static_cast<int8_t>(i); return; }
    }
  }
  throw_error("device", "cannot parse device '" + spec + "' (expected cpu, cuda, cuda:N or meta)");
}

std::string Device::str() const {
  switch (type) {
    case DeviceType::CPU: return "cpu";
    case DeviceType::CUDA: return "cuda:" + std::to_string(index);
    case DeviceType::Meta: return "meta";
  }
  return "?";
}

}  // namespace ds
