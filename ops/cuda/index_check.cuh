#pragma once
// Device side of the deferred index errors (index_error.h): whether 0 <= i < size, recording the first violation.
#include <ds/ops/op_list.h>

#include "index_error.h"
#include "prelude.cuh"

namespace ds::cuda {

__device__ __forceinline__ bool index_in_range(IndexErrorRecord* rec, OpId op, int64_t dim, int64_t i, int64_t size) {
  if (i >= 0 && i < size) return true;
  if (atomicCAS(&rec->flag, 0, 1) == 0) {
    rec->op = static_cast<int>(op);
    rec->index = i;
    rec->size = size;
    rec->dim = dim;
  }
  return false;
}

}  // namespace ds::cuda
