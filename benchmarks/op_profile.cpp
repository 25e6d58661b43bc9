#include "op_profile.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include <ds/ops/dispatch.h>

namespace ds::bench {
namespace {

struct Totals {
  std::vector<double> seconds = std::vector<double>(kNumPrimitives, 0.0);
  std::vector<int64_t> calls = std::vector<int64_t>(kNumPrimitives, 0);
  std::chrono::steady_clock::time_point t0;
  int depth = 0;
};
Totals* g_totals = nullptr;

void begin(OpId) {
  if (g_totals->depth++ == 0) g_totals->t0 = std::chrono::steady_clock::now();
}
void end(OpId op) {
  if (--g_totals->depth != 0) return;
  g_totals->seconds[static_cast<size_t>(op)] +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - g_totals->t0).count();
  g_totals->calls[static_cast<size_t>(op)]++;
}

}  // namespace

OpProfile::OpProfile() {
  g_totals = new Totals;
  dispatch_hooks().profile_begin = &begin;
  dispatch_hooks().profile_end = &end;
  dispatch_state().profiling = true;
}

OpProfile::~OpProfile() {
  dispatch_state().profiling = false;
  dispatch_hooks().profile_begin = nullptr;
  dispatch_hooks().profile_end = nullptr;
  delete g_totals;
  g_totals = nullptr;
}

void OpProfile::print(const std::string& title, int steps, double step_ms) const {
  const Totals& t = *g_totals;
  std::vector<size_t> order;
  double sum = 0;
  for (size_t i = 0; i < t.seconds.size(); ++i)
    if (t.calls[i]) order.push_back(i), sum += t.seconds[i];
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return t.seconds[a] > t.seconds[b]; });
  std::printf("\n%s: ms per step by primitive (sum %.2f ms of %.2f ms per step)\n", title.c_str(), sum * 1e3 / steps,
              step_ms);
  for (size_t i : order)
    if (t.seconds[i] * 1e3 / steps > 0.01)
      std::printf("  %-38s %9.3f ms  %7.1f calls\n", std::string(op_name(static_cast<OpId>(i))).c_str(),
                  t.seconds[i] * 1e3 / steps, double(t.calls[i]) / steps);
}

}  // namespace ds::bench
