#include "error.h"

namespace ds {

Error::Error(std::string_view op, const std::string& message)
    : std::runtime_error("[" + std::string(op) + "] " + message), op_(op) {}

void throw_error(std::string_view op, const std::string& message) { throw Error(op, message); }

}  // namespace ds
