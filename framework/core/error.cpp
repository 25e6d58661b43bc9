#include "error.h"

namespace ds {
namespace {
std::string tagged(std::string_view op, const std::string& message) {
  std::string s;
  s.reserve(op.size() + message.size() + 3);
  s.append("[").append(op).append("] ").append(message);
  return s;
}
}  // namespace

Error::Error(std::string_view op, const std::string& message) : std::runtime_error(tagged(op, message)), op_(op) {}

void throw_error(std::string_view op, const std::string& message) { throw Error(op, message); }

}  // namespace ds
