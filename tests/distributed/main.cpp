// The distributed tests' runner. Every rank runs the same Catch2 session; the process exits with the worst result
// of all ranks. DS_TEST_RANKS=N (set by CTest) re-launches this program under ./ds launch -n N first; rank 0
// prints to the console, the other ranks' reports are printed only when they failed, prefixed with their rank.
#define CATCH_CONFIG_RUNNER
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <ds/distributed/init.h>
#include <ds/ops/device_info.h>
#include <ds/ops/factory.h>

int main(int argc, char** argv) {
  bool listing = false;
  for (int i = 1; i < argc; ++i) listing |= std::strncmp(argv[i], "--list", 6) == 0;
  // The NCCL variant (label cuda) reports itself skipped where there is no GPU, as the other cuda tests do.
  if (!listing && std::getenv("DS_TEST_NEEDS_GPU") && ds::cuda_device_count() == 0) {
    std::printf("skipped: no CUDA device on this machine\n");
    return 77;
  }
  // Collectives in tests must not wait the production default of 10 minutes for a broken peer.
  setenv("DS_DIST_TIMEOUT", "120", 0);
  const char* want = std::getenv("DS_TEST_RANKS");
  if (want && std::atoi(want) > 1 && !std::getenv("OMPI_COMM_WORLD_SIZE")) {
    std::vector<std::string> args = {DS_SOURCE_DIR "/tools/scripts/launch.sh", "-n", want, "--", argv[0]};
    for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
    std::vector<char*> cargs;
    for (auto& a : args) cargs.push_back(a.data());
    cargs.push_back(nullptr);
    execv(cargs[0], cargs.data());
    std::perror("execv launch.sh");
    return 2;
  }
  auto world = ds::dist::init_process_group();
  const int rank = world->rank();
  Catch::Session session;
  if (int rc = session.applyCommandLine(argc, argv); rc != 0) return rc;
  const std::string out = "/tmp/ds_mpi_test_" + std::to_string(getppid()) + "_rank" + std::to_string(rank) + ".txt";
  if (rank > 0) session.configData().outputFilename = out;
  const int failed = session.run();
  ds::Tensor worst = ds::full({1}, static_cast<int64_t>(failed), {.dtype = ds::kI64});
  world->allreduce(worst, ds::dist::ReduceOp::kMax)->wait();
  if (rank > 0) {
    if (failed) {
      std::ifstream in(out);
      std::string line;
      while (std::getline(in, line)) std::cerr << "[rank " << rank << "] " << line << "\n";
    }
    std::remove(out.c_str());
  }
  ds::dist::destroy_process_group();
  return worst.item<int64_t>() > 0 ? 1 : 0;
}
