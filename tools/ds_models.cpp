// ds-models: the model zoo, one line per model: its name (torchvision's or Hugging Face's), family, parameter count
// with thousands separators and native input (one sample, without the batch dim).
#include <cstdio>
#include <string>

#include <ds/models/zoo.h>

namespace {

// 25557032 -> "25,557,032" (counts are never negative)
std::string with_separators(int64_t n) {
  const std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string input_str(const ds::Shape& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i > 0) out += 'x';
    out += std::to_string(s[i]);
  }
  return out;
}

}  // namespace

int main() {
  const auto& zoo = ds::models::zoo();
  std::printf("%-20s %-7s %17s  %s\n", "model", "family", "parameters", "input");
  for (const ds::models::ZooEntry& e : zoo)
    std::printf("%-20s %-7s %17s  %s\n", e.name.c_str(), e.family.c_str(), with_separators(e.parameter_count()).c_str(),
                input_str(e.input_shape).c_str());
  return 0;
}
