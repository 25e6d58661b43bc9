// CheckpointManager: names, retention, leftover temporaries, skipping a bad newest file, and a writer killed with
// SIGKILL at random moments (at least 50 times) without ever leaving latest() on an incomplete checkpoint.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <thread>

#include <catch2/catch.hpp>

#include "io_test_util.h"

using namespace ds;
using io_test::TempDir;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

StateDict step_state(int64_t step) {
  StateDict s;
  s.set("step", step);
  s.set("w", full({3}, static_cast<double>(step)));
  return s;
}

std::vector<int64_t> steps(const CheckpointManager& m) {
  std::vector<int64_t> out;
  for (const std::string& p : m.list()) out.push_back(*CheckpointManager::step_of(p));
  return out;
}

}  // namespace

TEST_CASE("checkpoint names carry the step in ten digits", "[io][manager]") {
  TempDir dir;
  CheckpointManager m(dir.file("run/ckpts"), 2);
  CHECK(fs::is_directory(dir.file("run/ckpts")));
  CHECK(m.path_for(42) == dir.file("run/ckpts/ckpt-0000000042.dsckpt"));
  CHECK(CheckpointManager::step_of("/x/ckpt-0000000042.dsckpt") == 42);
  CHECK(CheckpointManager::step_of("ckpt-9999999999.dsckpt") == 9999999999);
  CHECK_FALSE(CheckpointManager::step_of("ckpt-42.dsckpt"));
  CHECK_FALSE(CheckpointManager::step_of("ckpt-00000000x2.dsckpt"));
  CHECK_FALSE(CheckpointManager::step_of(".ckpt-0000000042.dsckpt.tmp.1.0"));
  CHECK_THROWS_WITH(m.path_for(-1), Contains("step -1 is outside [0, 9999999999]"));
  CHECK_THROWS_WITH(m.path_for(10'000'000'000), Contains("outside"));
  CHECK_THROWS_WITH(CheckpointManager(dir.file("x"), -1), Contains("keep_last must be >= 0"));
  CHECK_FALSE(m.latest());
  CHECK_FALSE(m.load_latest());
}

TEST_CASE("save keeps the newest keep_last checkpoints and never removes newer ones", "[io][manager]") {
  TempDir dir;
  CheckpointManager m(dir.path().string(), 3);
  for (int64_t s = 1; s <= 6; ++s) m.save(s * 10, step_state(s * 10));
  CHECK(steps(m) == std::vector<int64_t>{40, 50, 60});
  // Resuming from an earlier step (the newer files may be bad): only older files count against keep_last.
  m.save(45, step_state(45));
  CHECK(steps(m) == std::vector<int64_t>{40, 45, 50, 60});
  CHECK(m.latest() == m.path_for(60));
  const auto loaded = m.load_latest();
  REQUIRE(loaded);
  CHECK(loaded->step == 60);
  CHECK(loaded->state.integer("step") == 60);

  CheckpointManager all(dir.file("all"), 0);
  for (int64_t s = 0; s < 5; ++s) all.save(s, step_state(s));
  CHECK(steps(all).size() == 5);
}

TEST_CASE("a bad newest checkpoint is skipped with a warning, and kept", "[io][manager]") {
  TempDir dir;
  CheckpointManager m(dir.path().string(), 5);
  for (int64_t s = 1; s <= 3; ++s) m.save(s, step_state(s));
  const std::string newest = m.path_for(3);
  fs::resize_file(newest, fs::file_size(newest) - 1);
  CHECK(m.latest() == m.path_for(2));
  CHECK(m.load_latest()->state.integer("step") == 2);
  CHECK(fs::exists(newest));
  // Every file bad: nothing.
  for (int64_t s = 1; s <= 2; ++s) io_test::write_bytes(m.path_for(s), "garbage");
  CHECK_FALSE(m.latest());
  CHECK(m.list().size() == 3);
}

TEST_CASE("leftover temporaries are ignored, then removed by the next save", "[io][manager]") {
  TempDir dir;
  CheckpointManager m(dir.path().string(), 2);
  m.save(1, step_state(1));
  const std::string tmp = dir.file(".ckpt-0000000002.dsckpt.tmp.99999.0");
  io_test::write_bytes(tmp, "half a checkpoint");
  io_test::write_bytes(dir.file("notes.txt"), "not ours");
  io_test::write_bytes(dir.file(".other.tmp.1.0"), "not ours either");
  CHECK(m.list() == std::vector<std::string>{m.path_for(1)});
  CHECK(m.latest() == m.path_for(1));
  m.save(2, step_state(2));
  CHECK_FALSE(fs::exists(tmp));
  CHECK(fs::exists(dir.file("notes.txt")));
  CHECK(fs::exists(dir.file(".other.tmp.1.0")));
  CHECK(steps(m) == std::vector<int64_t>{1, 2});
}

// ---- SIGKILL

namespace {

constexpr int64_t kKillElems = 1 << 20;  // 4 MiB of f32 per checkpoint: a save takes a while

// Written element by element: the child process avoids ops (an OpenMP pool does not survive fork()).
StateDict kill_state(int64_t step) {
  StateDict s;
  s.set("step", step);
  Tensor w = empty({kKillElems});
  float* p = w.data_ptr<float>();
  for (int64_t i = 0; i < kKillElems; ++i) p[i] = static_cast<float>(step * 4096 + (i % 4096));
  s.set("w", w);
  s.set("tag", "state of step " + std::to_string(step));
  return s;
}

bool is_kill_state(const StateDict& s, int64_t step) {
  if (s.integer("step") != step || s.text("tag") != "state of step " + std::to_string(step)) return false;
  const Tensor& w = s.tensor("w");
  if (w.sizes() != Shape{kKillElems} || w.dtype() != kF32) return false;
  const float* p = w.data_ptr<float>();
  for (int64_t i = 0; i < kKillElems; ++i)
    if (p[i] != static_cast<float>(step * 4096 + (i % 4096))) return false;
  return true;
}

// The child: resume from the newest checkpoint and save step after step, reporting each finished save on fd.
[[noreturn]] void save_forever(const std::string& dir, int fd) {
  try {
    CheckpointManager m(dir, 2);
    const auto last = m.load_latest();
    for (int64_t step = last ? last->step + 1 : 0;; ++step) {
      m.save(step, kill_state(step));
      if (::write(fd, &step, sizeof step) != static_cast<ssize_t>(sizeof step)) ::_exit(2);
    }
  } catch (...) {
    ::_exit(3);
  }
}

}  // namespace

TEST_CASE("a writer killed at random moments leaves a loadable latest checkpoint", "[io][manager][kill]") {
  TempDir dir;
  // Calibrate the kill delays on this machine's disk: a save and a load of one state.
  const auto t0 = std::chrono::steady_clock::now();
  {
    TempDir scratch;
    CheckpointManager m(scratch.path().string(), 1);
    m.save(0, kill_state(0));
    (void)m.load_latest();
  }
  const auto round = std::chrono::steady_clock::now() - t0;
  const int64_t max_delay_us = std::max<int64_t>(
      2000, 3 * std::chrono::duration_cast<std::chrono::microseconds>(round).count());

  std::mt19937 rng(12345);
  int64_t newest_reported = -1;
  int kills = 0, mid_write = 0;
  for (; kills < 60; ++kills) {
    int pipefd[2];
    REQUIRE(::pipe(pipefd) == 0);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::close(pipefd[0]);
      save_forever(dir.path().string(), pipefd[1]);
    }
    ::close(pipefd[1]);
    std::this_thread::sleep_for(
        std::chrono::microseconds(std::uniform_int_distribution<int64_t>(0, max_delay_us)(rng)));
    ::kill(pid, SIGKILL);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    INFO("kill " << kills << ", child status " << status);
    REQUIRE((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL));  // not an error exit of its own
    for (int64_t s; ::read(pipefd[0], &s, sizeof s) == static_cast<ssize_t>(sizeof s);) newest_reported = std::max(newest_reported, s);
    ::close(pipefd[0]);

    for (const auto& e : fs::directory_iterator(dir.path()))
      if (e.path().filename().string().starts_with(".ckpt-")) ++mid_write;
    CheckpointManager m(dir.path().string(), 2);
    const std::optional<std::string> latest = m.latest();
    if (newest_reported >= 0) REQUIRE(latest);
    if (latest) {
      const int64_t step = *CheckpointManager::step_of(*latest);
      CHECK(step >= newest_reported);
      REQUIRE(is_kill_state(load_checkpoint(*latest), step));
    }
    CHECK(m.list().size() <= 3);  // keep_last, plus one when killed between the rename and the removal
  }
  INFO(kills << " kills, " << mid_write << " in the middle of a write, newest step saved " << newest_reported);
  CHECK(kills >= 50);
  CHECK(newest_reported > 0);
  CHECK(mid_write > 0);
}
