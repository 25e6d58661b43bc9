// The watchdog thread: deadlines of operations in flight, caught termination signals, and the fault report.
#include "watchdog.h"

#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "flight_recorder.h"

namespace ds::dist {
namespace {

using Clock = std::chrono::steady_clock;

struct Pending {
  std::string what;
  Clock::time_point started;
  std::chrono::milliseconds timeout;
};

struct State {
  std::mutex mu;
  std::condition_variable cv;
  std::map<uint64_t, Pending> pending;
  uint64_t next_id = 1;
  int rank = 0, world_size = 1;
  std::string host;
  std::vector<PeerInfo> peers;
  std::vector<std::function<void(int)>> abort_handlers;
  std::atomic<bool> faulting{false};
  int signal_pipe[2] = {-1, -1};
};

State& state() {
  static State* s = new State();  // never destroyed: the watchdog thread may outlive static destruction
  return *s;
}

std::string host_name() {
  char buf[256] = {0};
  gethostname(buf, sizeof buf - 1);
  return buf;
}

void on_signal(int sig) {
  const int fd = state().signal_pipe[1];
  const unsigned char b = static_cast<unsigned char>(sig);
  if (fd >= 0) [[maybe_unused]] auto n = write(fd, &b, 1);
}

// "alive", "exited" or "exited (not yet reaped)", from /proc.
std::string process_state(int pid) {
  std::ifstream f(fmt::format("/proc/{}/stat", pid));
  std::string line;
  if (!f || !std::getline(f, line)) return "exited";
  const size_t p = line.rfind(')');
  if (p != std::string::npos && p + 2 < line.size()) {
    const char st = line[p + 2];
    if (st == 'Z' || st == 'X') return "exited (not yet reaped)";
  }
  return "alive";
}

}  // namespace

Watchdog& Watchdog::instance() {
  static Watchdog* w = [] {
    auto* wd = new Watchdog();
    return wd;
  }();
  return *w;
}

Watchdog::Watchdog() {
  State& s = state();
  s.host = host_name();
  if (pipe(s.signal_pipe) != 0) s.signal_pipe[0] = s.signal_pipe[1] = -1;
  std::thread([this] { run(); }).detach();
}

uint64_t Watchdog::begin(std::string what, std::chrono::milliseconds timeout) {
  State& s = state();
  std::lock_guard lock(s.mu);
  const uint64_t id = s.next_id++;
  s.pending.emplace(id, Pending{std::move(what), Clock::now(), timeout});
  s.cv.notify_all();
  return id;
}

void Watchdog::end(uint64_t id) {
  State& s = state();
  std::lock_guard lock(s.mu);
  s.pending.erase(id);
}

void Watchdog::set_identity(int rank, int world_size, std::vector<PeerInfo> peers) {
  State& s = state();
  std::lock_guard lock(s.mu);
  s.rank = rank;
  s.world_size = world_size;
  s.peers = std::move(peers);
}

void Watchdog::add_abort_handler(std::function<void(int)> fn) {
  State& s = state();
  std::lock_guard lock(s.mu);
  s.abort_handlers.push_back(std::move(fn));
}

void Watchdog::catch_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaction(sig, &sa, nullptr);
}

std::string Watchdog::whoami() const {
  State& s = state();
  return fmt::format("rank {} of {} (host {}, pid {})", s.rank, s.world_size, s.host, getpid());
}

std::string Watchdog::peer_status() const {
  State& s = state();
  std::string out;
  for (const PeerInfo& p : s.peers) {
    if (p.rank == s.rank) continue;
    if (p.host == s.host) out += fmt::format("  rank {} (pid {}): {}\n", p.rank, p.pid, process_state(p.pid));
    else out += fmt::format("  rank {} (pid {} on host {}): on another host, state unknown\n", p.rank, p.pid, p.host);
  }
  return out;
}

std::string Watchdog::report(const std::string& reason) const {
  const std::string me = whoami();
  std::string out = fmt::format("[dist] {}: {}\n", me, reason);
  FlightRecord pending;
  if (FlightRecorder::instance().oldest_pending(pending))
    out += fmt::format("[dist] {}: waiting in {} #{} on group '{}'{}, {}\n", me, pending.op, pending.seq,
                       pending.group, pending.detail.empty() ? "" : " (" + pending.detail + ")",
                       state_name(pending.state));
  const std::string peers = peer_status();
  if (!peers.empty()) out += fmt::format("[dist] {}: peers on this host:\n{}", me, peers);
  const std::string history = FlightRecorder::instance().dump();
  if (!history.empty()) out += fmt::format("[dist] {}: the last collectives, oldest first:\n{}", me, history);
  return out;
}

void Watchdog::fault(const std::string& reason, int exit_code) {
  State& s = state();
  if (s.faulting.exchange(true)) {
    // Another thread is already reporting: wait for it to end the process.
    for (;;) pause();
  }
  const std::string text = report(reason);
  std::fwrite(text.data(), 1, text.size(), stderr);
  std::fflush(stderr);
  std::fflush(stdout);
  // If an abort handler hangs (a transport that cannot abort), the process still ends.
  std::thread([exit_code] {
    std::this_thread::sleep_for(std::chrono::seconds(5));
    _exit(exit_code);
  }).detach();
  std::vector<std::function<void(int)>> handlers;
  {
    std::lock_guard lock(s.mu);
    handlers = s.abort_handlers;
  }
  for (auto& h : handlers) h(exit_code);
  _exit(exit_code);
}

void Watchdog::run() {
  State& s = state();
  for (;;) {
    // Signals first: poll the pipe for up to 100 ms.
    if (s.signal_pipe[0] >= 0) {
      pollfd p{s.signal_pipe[0], POLLIN, 0};
      if (poll(&p, 1, 100) > 0) {
        unsigned char sig = 0;
        if (read(s.signal_pipe[0], &sig, 1) == 1) {
          // A terminated rank does not abort the job itself: the launcher is already taking it down.
          {
            std::lock_guard lock(s.mu);
            s.abort_handlers.clear();
          }
          fault(fmt::format("terminated by signal {} ({}): the launcher stops every rank when one of them dies "
                            "or aborts", static_cast<int>(sig), strsignal(sig)),
                128 + sig);
        }
      }
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::string expired;
    {
      std::lock_guard lock(s.mu);
      const auto now = Clock::now();
      for (const auto& [id, p] : s.pending)
        if (now - p.started > p.timeout) {
          expired = fmt::format("{} did not complete within {:.1f} s (the group's timeout; DS_DIST_TIMEOUT sets "
                                "it): a peer is dead, stuck, or called a different collective",
                                p.what, std::chrono::duration<double>(p.timeout).count());
          break;
        }
    }
    if (!expired.empty()) fault(expired);
  }
}

}  // namespace ds::dist
