#include <ds/io/checkpoint_manager.h>

#include <algorithm>
#include <filesystem>
#include <system_error>

#include <ds/core/detail/check.h>
#include <ds/core/logging.h>
#include <ds/io/checkpoint.h>

#include "detail/file.h"

namespace ds {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kPrefix = "ckpt-", kSuffix = ".dsckpt";
constexpr size_t kStepDigits = 10;
constexpr int64_t kMaxStep = 9'999'999'999;

// Step and path of every checkpoint file in dir, oldest first.
std::vector<std::pair<int64_t, std::string>> scan(const std::string& dir) {
  std::vector<std::pair<int64_t, std::string>> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string path = it->path().string();
    if (const auto step = CheckpointManager::step_of(path)) out.emplace_back(*step, path);
  }
  DS_CHECK(!ec, "checkpoint", "{}: cannot list the folder: {}", dir, ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

// A temporary file of AtomicWriter for a checkpoint: ".ckpt-0000000042.dsckpt.tmp.<pid>.<n>".
bool is_temporary(const std::string& name) {
  const size_t tmp = name.find(".tmp.");
  if (name.empty() || name[0] != '.' || tmp == std::string::npos) return false;
  const std::string target = name.substr(1, tmp - 1);
  return CheckpointManager::step_of(target).has_value() && name.starts_with(io::temp_prefix(target));
}

}  // namespace

CheckpointManager::CheckpointManager(std::string dir, int keep_last) : dir_(std::move(dir)), keep_last_(keep_last) {
  DS_CHECK(keep_last >= 0, "checkpoint", "{}: keep_last must be >= 0 (0 keeps all), got {}", dir_, keep_last);
  std::error_code ec;
  fs::create_directories(dir_, ec);
  DS_CHECK(!ec, "checkpoint", "{}: cannot create the folder: {}", dir_, ec.message());
}

std::string CheckpointManager::path_for(int64_t step) const {
  DS_CHECK(step >= 0 && step <= kMaxStep, "checkpoint", "{}: step {} is outside [0, {}]", dir_, step, kMaxStep);
  return (fs::path(dir_) / fmt::format("{}{:0{}}{}", kPrefix, step, kStepDigits, kSuffix)).string();
}

std::optional<int64_t> CheckpointManager::step_of(const std::string& path) {
  const std::string name = fs::path(path).filename().string();
  if (name.size() != kPrefix.size() + kStepDigits + kSuffix.size() || !name.starts_with(kPrefix) ||
      !name.ends_with(kSuffix))
    return std::nullopt;
  int64_t step = 0;
  for (size_t i = kPrefix.size(); i < kPrefix.size() + kStepDigits; ++i) {
    if (name[i] < '0' || name[i] > '9') return std::nullopt;
    step = step * 10 + (name[i] - '0');
  }
  return step;
}

std::vector<std::string> CheckpointManager::list() const {
  std::vector<std::string> out;
  for (auto& [step, path] : scan(dir_)) out.push_back(std::move(path));
  return out;
}

std::string CheckpointManager::save(int64_t step, const StateDict& state) {
  const std::string path = path_for(step);
  remove_temporaries();
  // Before the write as well as after it: a writer killed again and again between its rename and its removals
  // leaves at most keep_last + 1 files.
  apply_retention(step, keep_last_);
  save_checkpoint(path, state);
  apply_retention(step, keep_last_ - 1);
  return path;
}

// The temporaries' writers are gone: this manager is the folder's only writer, and it is not writing now.
void CheckpointManager::remove_temporaries() const {
  std::error_code ec;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    if (!is_temporary(it->path().filename().string())) continue;
    std::error_code rm;
    fs::remove(it->path(), rm);
    if (rm)
      log_warn(fmt::format("[checkpoint] {}: cannot remove a leftover temporary file: {}", it->path().string(),
                           rm.message()));
    else
      log_debug(fmt::format("[checkpoint] removed the leftover temporary file {}", it->path().string()));
  }
}

void CheckpointManager::apply_retention(int64_t step, int keep_older) const {
  if (keep_last_ == 0) return;
  std::vector<std::pair<int64_t, std::string>> older;
  for (auto& e : scan(dir_))
    if (e.first < step) older.push_back(std::move(e));
  if (older.size() <= static_cast<size_t>(keep_older)) return;
  for (size_t i = 0; i < older.size() - static_cast<size_t>(keep_older); ++i) {
    std::error_code ec;
    fs::remove(older[i].second, ec);
    if (ec) log_warn(fmt::format("[checkpoint] {}: cannot remove an old checkpoint: {}", older[i].second, ec.message()));
  }
  try {
    io::fsync_dir(dir_, dir_);
  } catch (const Error& e) {
    log_warn(e.what());  // the new checkpoint is safe; only the removals may not survive a power loss
  }
}

std::optional<std::string> CheckpointManager::latest() const {
  const auto files = scan(dir_);
  for (auto it = files.rbegin(); it != files.rend(); ++it) {
    try {
      verify_checkpoint(it->second);
      return it->second;
    } catch (const Error& e) {
      log_warn(fmt::format("skipping a checkpoint that does not load: {}", e.what()));
    }
  }
  return std::nullopt;
}

std::optional<CheckpointManager::Loaded> CheckpointManager::load_latest() const {
  const auto files = scan(dir_);
  for (auto it = files.rbegin(); it != files.rend(); ++it) {
    try {
      return Loaded{it->first, it->second, load_checkpoint(it->second)};
    } catch (const Error& e) {
      log_warn(fmt::format("skipping a checkpoint that does not load: {}", e.what()));
    }
  }
  return std::nullopt;
}

}  // namespace ds
