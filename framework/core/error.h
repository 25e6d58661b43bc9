#pragma once
// ds::Error: the one error type. Its message starts with "[op_name]" and names the offending shapes, dtypes and
// devices, e.g. "[matmul] [2, 3] @ [4, 5]: inner dimensions 3 and 4 differ".
#include <stdexcept>
#include <string>
#include <string_view>

namespace ds {

class Error : public std::runtime_error {
 public:
  Error(std::string_view op, const std::string& message);
  // The op (or component) that raised the error: "matmul", "checkpoint", ...
  const std::string& op() const noexcept { return op_; }
 private:
  std::string op_;
};

[[noreturn]] void throw_error(std::string_view op, const std::string& message);

}  // namespace ds
