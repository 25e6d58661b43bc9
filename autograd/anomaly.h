#pragma once
// Anomaly mode: while on, the engine checks every gradient a backward function produces and stops with an error
// that names the op whose backward produced a NaN or an infinity.
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
