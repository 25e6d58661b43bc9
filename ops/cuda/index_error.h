#pragma once
// Out-of-range indices met by the CUDA index kernels (gather, scatter, index_select, index_add, ...). A kernel
// cannot throw, and checking every index on the host first would cost a synchronisation per op, so a kernel that
// meets a bad index leaves that element alone and records the first such index in its device's record; the host
// reads the record at the next synchronisation (a copy to the CPU, item(), cuda_synchronize) and throws there the
// error the CPU kernel throws at once, naming the op. (PyTorch stops the process with a device-side assert.)
// The kernels' side is index_in_range (index_check.cuh).
namespace ds::cuda {

struct IndexErrorRecord {
  int flag;  // 0: none yet
  int op;    // an OpId
  long long index, size, dim;
};

// The record of `device`, allocated (zeroed) on first use. Host only.
IndexErrorRecord* index_error_record(int device);
// Throws "[op] index i is out of bounds for dimension d with size n" when a kernel on `device` recorded one since
// the last check, and clears the record. Free when no index kernel ever ran on the device. Host only.
void check_index_errors(int device);

}  // namespace ds::cuda
