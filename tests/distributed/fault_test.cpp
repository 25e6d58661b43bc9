// Faults end every rank loudly and promptly: a killed rank, a rank that skips an allreduce, a rank that hangs, a rank
// that throws, and (DS_DIST_DEBUG=1) mismatched collectives. Each runs fault_prog under ./ds launch -n 2 with a 4 s
// timeout and must end non-zero within the timeout plus 10 s, with the rank, the collective and the history named.
#include <chrono>
#include <cstdio>
#include <string>

#include <catch2/catch.hpp>

namespace {

struct Run {
  int status = 0;
  double seconds = 0;
  std::string output;
};

Run launch(const std::string& mode, const std::string& env = "") {
  const std::string cmd = "DS_DIST_TIMEOUT=4 " + env + " timeout -s KILL 60 " DS_SOURCE_DIR
                          "/tools/scripts/launch.sh -n 2 -- " DS_FAULT_PROG " " + mode + " 2>&1";
  const auto start = std::chrono::steady_clock::now();
  Run r;
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) r.output.append(buf, n);
  r.status = pclose(p);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

bool has(const std::string& s, const std::string& what) { return s.find(what) != std::string::npos; }

// What every fault must give: a failed job, within the timeout plus 10 s, with rank 0's report.
void check_ended_loudly(const Run& r) {
  CHECK(r.status != 0);
  CHECK(r.seconds < 4 + 10);
  CHECK(has(r.output, "[dist] rank 0 of 2"));
}

}  // namespace

TEST_CASE("a killed rank ends every rank with its history", "[launcher][fault]") {
  const Run r = launch("kill");
  INFO(r.output);
  check_ended_loudly(r);
  CHECK(has(r.output, "waiting in allreduce #"));
  CHECK(has(r.output, "rank 1 (pid"));
  CHECK(has(r.output, "the last collectives"));
}

TEST_CASE("a rank that skips an allreduce ends every rank by the timeout", "[launcher][fault]") {
  const Run r = launch("skip");
  INFO(r.output);
  check_ended_loudly(r);
  // Rank 1 reaches the final barrier while rank 0 is still in its last allreduce: MPI either fails the mismatched
  // pair at once or leaves both waiting until the timeout; every rank reports either way.
  CHECK((has(r.output, "did not complete within 4.0 s") || has(r.output, "barrier #20 on group 'world' failed")));
  CHECK(has(r.output, "[dist] rank 1 of 2"));
  CHECK(has(r.output, "the last collectives"));
}

TEST_CASE("a hung rank ends every rank by the timeout", "[launcher][fault]") {
  const Run r = launch("hang");
  INFO(r.output);
  check_ended_loudly(r);
  CHECK(has(r.output, "allreduce #6 on group 'world'"));  // #0 is start-up's exchange of pids
  CHECK(has(r.output, "did not complete within 4.0 s"));
  CHECK(has(r.output, "rank 1 (pid"));
}

TEST_CASE("a rank that throws ends every rank", "[launcher][fault]") {
  const Run r = launch("throw");
  INFO(r.output);
  check_ended_loudly(r);
  CHECK(has(r.output, "rank 1 gives up"));
}

TEST_CASE("DS_DIST_DEBUG names both sides of a mismatched collective", "[launcher][fault]") {
  const Run r = launch("mismatch", "DS_DIST_DEBUG=1");
  INFO(r.output);
  check_ended_loudly(r);
  CHECK(has(r.output, "collective mismatch"));
  CHECK(has(r.output, "allreduce #1 float32 [4] sum"));
  CHECK(has(r.output, "allreduce #1 float32 [5] sum"));
}
