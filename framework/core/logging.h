#pragma once
// Logging goes through spdlog (kept out of public headers). DS_LOG_LEVEL=trace|debug|info|warn|error|off in the
// environment sets the initial level.
#include <string_view>

namespace ds {

void set_log_level(std::string_view level);  // throws ds::Error for an unknown level
void log_info(std::string_view message);
void log_warn(std::string_view message);
void log_debug(std::string_view message);

}  // namespace ds
