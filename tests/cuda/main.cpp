// The CUDA tests' program, built twice from tests/cuda: ds_cuda_tests links libds and runs on a GPU (CTest label
// `cuda`; without a GPU every test reports itself skipped, exit code 77), ds_cuda_sim_tests links libds_cudasim and
// runs the same tests on the CPU through cudasim (label `cudasim`, on every machine). The first line printed says
// which device the tests ran on.
#define CATCH_CONFIG_RUNNER
#include <cstdio>
#include <cstring>

#include <catch2/catch.hpp>

#include <ds/ops/device_info.h>

int main(int argc, char** argv) {
  bool listing = false;
  for (int i = 1; i < argc; ++i) listing |= std::strncmp(argv[i], "--list", 6) == 0;
  if (!listing) {
    if (ds::cuda_device_count() == 0) {
      std::printf("skipped: no CUDA device on this machine\n");
      return 77;
    }
    std::printf("cuda tests on %s (%d device(s))\n", ds::cuda_device_name(0).c_str(), ds::cuda_device_count());
  }
  return Catch::Session().run(argc, argv);
}
