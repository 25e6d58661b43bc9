#pragma once
// CheckpointManager: a folder of numbered checkpoints, "<dir>/ckpt-<step, 10 digits>.dsckpt", for training that
// may be killed at any moment and resumed. Saves are atomic (see save_checkpoint), the oldest are removed beyond
// keep_last, and latest() finds the newest file that is complete and valid. One writer per folder at a time.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <ds/ops/state_dict.h>

namespace ds {

class CheckpointManager {
 public:
  // Creates dir when missing. save() keeps the keep_last newest checkpoints (0 keeps all).
  explicit CheckpointManager(std::string dir, int keep_last = 3);

  // Writes state as the checkpoint of `step` (0 <= step < 10^10) atomically and returns its path. Removes the
  // temporaries a killed writer left, and the checkpoints older than `step` beyond keep_last (never newer ones).
  std::string save(int64_t step, const StateDict& state);

  // The newest checkpoint that passes every check of load_checkpoint (checksums included). A newer file that fails is
  // skipped with a logged warning and left in place for inspection.
  std::optional<std::string> latest() const;

  struct Loaded {
    int64_t step = 0;
    std::string path;
    StateDict state;
  };
  // Loads the newest checkpoint that loads, skipping failing ones like latest() (reading each file once).
  std::optional<Loaded> load_latest() const;

  // The checkpoint files by step, oldest first: names that match, not checked (temporaries are not listed).
  std::vector<std::string> list() const;
  std::string path_for(int64_t step) const;
  // The step in a checkpoint file name "ckpt-0000000042.dsckpt" (any folder), or nothing for another name.
  static std::optional<int64_t> step_of(const std::string& path);

  const std::string& dir() const { return dir_; }
  int keep_last() const { return keep_last_; }

 private:
  void remove_temporaries() const;
  // Removes the checkpoints older than `step` but the newest keep_older of them.
  void apply_retention(int64_t step, int keep_older) const;

  std::string dir_;
  int keep_last_;
};

}  // namespace ds
