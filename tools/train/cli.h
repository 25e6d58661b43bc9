#pragma once
// The options of the ds command-line tools: "--name [value]" after the positional arguments. Errors are ds::Error
// "[<tool>] --name ..." so a tool can print them as usage errors.
#include <cstdint>
#include <string>

#include <ds/core/error.h>

namespace ds::train {

class OptionReader {
 public:
  OptionReader(int argc, char** argv, int first, std::string tool)
      : argc_(argc), argv_(argv), i_(first - 1), tool_(std::move(tool)) {}
  // Moves to the next option; false when there is none left.
  bool next() { return ++i_ < argc_; }
  std::string name() const { return argv_[i_]; }
  // The option's value: the argument after it.
  std::string value() {
    if (i_ + 1 >= argc_) throw Error(tool_, name() + " needs a value");
    return argv_[++i_];
  }
  int64_t integer() {
    return parse<int64_t>("an integer", [](const std::string& v, size_t* end) { return std::stoll(v, end); });
  }
  double number() {
    return parse<double>("a number", [](const std::string& v, size_t* end) { return std::stod(v, end); });
  }

 private:
  template <typename T, typename F>
  T parse(const char* what, F f) {
    const std::string option = name(), v = value();
    try {
      size_t end = 0;
      const T x = f(v, &end);
      if (end == v.size()) return x;
    } catch (...) {
    }
    throw Error(tool_, option + " needs " + what + ", got '" + v + "'");
  }
  int argc_;
  char** argv_;
  int i_;
  std::string tool_;
};

}  // namespace ds::train
