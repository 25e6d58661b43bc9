// The flight recorder: a ring buffer of the process's collectives.
#include "flight_recorder.h"

#include <cstdlib>

#include <fmt/format.h>

namespace ds::dist {

std::string_view state_name(FlightRecord::State s) {
  switch (s) {
    case FlightRecord::State::kQueued: return "queued";
    case FlightRecord::State::kStarted: return "started";
    case FlightRecord::State::kCompleted: return "completed";
    case FlightRecord::State::kFailed: return "failed";
  }
  return "?";
}

FlightRecorder& FlightRecorder::instance() {
  static FlightRecorder r;
  return r;
}

FlightRecorder::FlightRecorder() {
  long n = 400;
  if (const char* s = std::getenv("DS_DIST_HISTORY")) n = std::strtol(s, nullptr, 10);
  capacity_ = static_cast<size_t>(n < 16 ? 16 : n);
  ring_.resize(capacity_);
}

FlightRecord* FlightRecorder::find(uint64_t id) {
  FlightRecord& r = ring_[(id - 1) % capacity_];
  return r.id == id ? &r : nullptr;
}

uint64_t FlightRecorder::record(std::string group, uint64_t seq, std::string op, std::string detail) {
  std::lock_guard lock(mu_);
  const uint64_t id = next_id_++;
  FlightRecord& r = ring_[(id - 1) % capacity_];
  r = FlightRecord{id, std::move(group), seq, std::move(op), std::move(detail), FlightRecord::State::kQueued,
                   std::chrono::steady_clock::now(), {}, {}};
  return id;
}

void FlightRecorder::started(uint64_t id) {
  std::lock_guard lock(mu_);
  if (FlightRecord* r = find(id)) {
    r->state = FlightRecord::State::kStarted;
    r->started = std::chrono::steady_clock::now();
  }
}

void FlightRecorder::ended(uint64_t id, bool ok) {
  std::lock_guard lock(mu_);
  if (FlightRecord* r = find(id)) {
    r->state = ok ? FlightRecord::State::kCompleted : FlightRecord::State::kFailed;
    r->ended = std::chrono::steady_clock::now();
  }
}

std::vector<FlightRecord> FlightRecorder::snapshot() const {
  std::lock_guard lock(mu_);
  std::vector<FlightRecord> out;
  const uint64_t first = next_id_ > capacity_ ? next_id_ - capacity_ : 1;
  for (uint64_t id = first; id < next_id_; ++id) out.push_back(ring_[(id - 1) % capacity_]);
  return out;
}

bool FlightRecorder::oldest_pending(FlightRecord& out) const {
  for (const FlightRecord& r : snapshot())
    if (r.state == FlightRecord::State::kQueued || r.state == FlightRecord::State::kStarted) {
      out = r;
      return true;
    }
  return false;
}

std::string FlightRecorder::dump(size_t max) const {
  const std::vector<FlightRecord> all = snapshot();
  const auto now = std::chrono::steady_clock::now();
  const size_t from = all.size() > max ? all.size() - max : 0;
  std::string out;
  for (size_t i = from; i < all.size(); ++i) {
    const FlightRecord& r = all[i];
    auto secs = [](auto d) { return std::chrono::duration<double>(d).count(); };
    std::string when;
    switch (r.state) {
      case FlightRecord::State::kQueued:
        when = fmt::format("queued {:.3f} s ago, not started", secs(now - r.queued));
        break;
      case FlightRecord::State::kStarted:
        when = fmt::format("started {:.3f} s ago, not completed", secs(now - r.started));
        break;
      case FlightRecord::State::kCompleted:
      case FlightRecord::State::kFailed:
        when = fmt::format("{} in {:.3f} ms", state_name(r.state), 1e3 * secs(r.ended - r.started));
        break;
    }
    out += fmt::format("  {:>6} group '{}' #{} {} {}: {}\n", r.id, r.group, r.seq, r.op, r.detail, when);
  }
  return out;
}

}  // namespace ds::dist
