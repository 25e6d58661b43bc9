// A distributed program that fails on purpose, for the fault tests (fault_test.cpp runs it under ./ds launch -n 2):
//   kill      rank 1 kills itself (SIGKILL) in the middle of a loop of allreduces
//   skip      rank 1 skips one allreduce, then carries on
//   mismatch  rank 0 and rank 1 allreduce tensors of different shapes (run with DS_DIST_DEBUG=1)
//   hang      rank 1 stops calling collectives (sleeps) while rank 0 waits in one
//   throw     rank 1 ends with an uncaught error in the middle of the loop
// It prints "step <k>" lines on rank 0 as it goes.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <thread>

#include <ds/distributed/init.h>
#include <ds/ops/factory.h>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s kill|skip|mismatch|hang|throw\n", argv[0]);
    return 2;
  }
  const std::string mode = argv[1];
  auto world = ds::dist::init_process_group();
  const int me = world->rank();
  for (int step = 0; step < 20; ++step) {
    if (me == 0) std::printf("step %d\n", step), std::fflush(stdout);
    if (me == 1 && step == 5) {
      if (mode == "kill") raise(SIGKILL);
      if (mode == "hang") std::this_thread::sleep_for(std::chrono::hours(1));
      if (mode == "throw") throw std::runtime_error("rank 1 gives up");
      if (mode == "skip") continue;
    }
    ds::Tensor t = ds::ones({mode == "mismatch" && me == 1 ? 5 : 4});
    world->allreduce(t)->wait();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ds::dist::destroy_process_group();
  return 0;
}
