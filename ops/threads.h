#pragma once
// Threads the CPU kernels use (OpenMP); defaults to the machine's cores.
namespace ds {
void set_num_threads(int n);
int get_num_threads();
}  // namespace ds
