#pragma once
// Anomaly mode: while on, the engine checks every gradient a backward function produces and stops with an error
// that names the op whose backward produced a NaN or an infinity; and every op run on the thread that turned it on
// checks its outputs, so the forward op that first turns finite inputs into a NaN or an infinity is named too.
namespace ds {

bool is_anomaly_enabled();
void set_anomaly_enabled(bool enabled);

// Turns anomaly detection on in a scope (torch.autograd.detect_anomaly()).
class DetectAnomalyGuard {
 public:
  DetectAnomalyGuard() : prev_(is_anomaly_enabled()) { set_anomaly_enabled(true); }
  ~DetectAnomalyGuard() { set_anomaly_enabled(prev_); }
  DetectAnomalyGuard(const DetectAnomalyGuard&) = delete;
  DetectAnomalyGuard& operator=(const DetectAnomalyGuard&) = delete;

 private:
  bool prev_;
};

}  // namespace ds
