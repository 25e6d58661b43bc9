#include "atomic_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <ds/core/detail/check.h>

namespace ds::data::detail {

void write_file_atomic(const std::string& path, std::initializer_list<std::string_view> parts, const char* component) {
  const std::string temp = path + ".tmp." + std::to_string(::getpid());
  bool ok = false;
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    DS_CHECK(out.is_open(), component, "{}: cannot create {}: {}", path, temp, std::strerror(errno));
    for (const std::string_view p : parts) out.write(p.data(), static_cast<std::streamsize>(p.size()));
    out.flush();
    ok = out.good();
  }
  std::error_code ec;
  if (ok) std::filesystem::rename(temp, path, ec);
  if (!ok || ec) {
    const std::string reason = ok ? ec.message() : std::strerror(errno);
    std::filesystem::remove(temp, ec);
    DS_FAIL(component, "{}: {} failed: {}", path, ok ? "rename" : "write", reason);
  }
}

}  // namespace ds::data::detail
