#pragma once
// The flight recorder: every collective this process issues, with its group, sequence number, shapes and state,
// kept for the last DS_DIST_HISTORY (default 400) of them. When a run fails (a timeout, a dead peer, a mismatch)
// each surviving rank prints this history, so the last collective every rank reached can be compared.
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace ds::dist {

struct FlightRecord {
  enum class State : uint8_t { kQueued, kStarted, kCompleted, kFailed };
  uint64_t id = 0;       // process-wide, in issue order
  std::string group;
  uint64_t seq = 0;      // the group's sequence number
  std::string op;        // "allreduce"
  std::string detail;    // dtype, shape, reduce op, root: "f32 [1024] sum"
  State state = State::kQueued;
  std::chrono::steady_clock::time_point queued, started, ended;
};
std::string_view state_name(FlightRecord::State s);

class FlightRecorder {
 public:
  static FlightRecorder& instance();
  // Records a new collective (queued); returns its id.
  uint64_t record(std::string group, uint64_t seq, std::string op, std::string detail);
  void started(uint64_t id);
  void ended(uint64_t id, bool ok);
  // The records still kept, oldest first.
  std::vector<FlightRecord> snapshot() const;
  // The last `max` records as lines ("  #17 world allreduce f32 [1024] sum: started 10.2 s ago"), oldest first.
  std::string dump(size_t max = 400) const;
  // The oldest record not yet completed (what this rank is waiting in), if any.
  bool oldest_pending(FlightRecord& out) const;
  size_t capacity() const { return capacity_; }

 private:
  FlightRecorder();
  FlightRecord* find(uint64_t id);

  mutable std::mutex mu_;
  size_t capacity_;
  std::vector<FlightRecord> ring_;  // ring buffer: record id lives at (id - 1) % capacity
  uint64_t next_id_ = 1;
};

}  // namespace ds::dist
