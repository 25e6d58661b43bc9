#include "logging.h"

#include <cstdlib>
#include <string>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "error.h"

namespace ds {
namespace {

spdlog::level::level_enum parse_level(std::string_view s) {
  const auto lvl = spdlog::level::from_str(std::string(s));
  if (lvl == spdlog::level::off && s != "off")
    throw_error("log", "unknown log level '" + std::string(s) + "' (trace, debug, info, warn, error, off)");
  return lvl;
}

spdlog::logger& logger() {
  static std::shared_ptr<spdlog::logger> l = [] {
    auto lg = spdlog::stderr_color_mt("ds");
    lg->set_pattern("[ds %L %H:%M:%S.%e] %v");
    lg->set_level(spdlog::level::info);
    if (const char* env = std::getenv("DS_LOG_LEVEL")) {
      try {
        lg->set_level(parse_level(env));
      } catch (const Error& e) {
        lg->warn("ignoring DS_LOG_LEVEL: {}", e.what());
      }
    }
    return lg;
  }();
  return *l;
}

}  // namespace

void set_log_level(std::string_view level) { logger().set_level(parse_level(level)); }
void log_info(std::string_view message) { logger().info("{}", message); }
void log_warn(std::string_view message) { logger().warn("{}", message); }
void log_debug(std::string_view message) { logger().debug("{}", message); }

}  // namespace ds
