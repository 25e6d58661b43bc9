// MPI datatypes and ops for ds dtypes, with user ops for f16 and bf16.
#include "mpi_types.h"

#include <algorithm>
#include <cmath>
#include <mutex>

#include <ds/core/half.h>

namespace ds::dist::detail {
namespace {

template <typename T, typename F>
void combine16(void* in, void* inout, int* len, F f) {
  const T* a = static_cast<const T*>(in);
  T* b = static_cast<T*>(inout);
  for (int i = 0; i < *len; ++i) b[i] = T(f(static_cast<float>(a[i]), static_cast<float>(b[i])));
}
// NaN wins max and min, as torch.maximum does.
inline float max_nan(float a, float b) { return std::isnan(a) || a > b ? a : b; }
inline float min_nan(float a, float b) { return std::isnan(a) || a < b ? a : b; }

void half_sum(void* in, void* inout, int* len, MPI_Datatype*) {
  combine16<Half>(in, inout, len, [](float a, float b) { return a + b; });
}
void half_max(void* in, void* inout, int* len, MPI_Datatype*) { combine16<Half>(in, inout, len, max_nan); }
void half_min(void* in, void* inout, int* len, MPI_Datatype*) { combine16<Half>(in, inout, len, min_nan); }
void bf16_sum(void* in, void* inout, int* len, MPI_Datatype*) {
  combine16<BFloat16>(in, inout, len, [](float a, float b) { return a + b; });
}
void bf16_max(void* in, void* inout, int* len, MPI_Datatype*) { combine16<BFloat16>(in, inout, len, max_nan); }
void bf16_min(void* in, void* inout, int* len, MPI_Datatype*) { combine16<BFloat16>(in, inout, len, min_nan); }

struct UserOps {
  MPI_Op half[3], bf16[3];  // sum, max, min
};
const UserOps& user_ops() {
  static UserOps ops = [] {
    UserOps u{};
    MPI_Op_create(half_sum, 1, &u.half[0]);
    MPI_Op_create(half_max, 1, &u.half[1]);
    MPI_Op_create(half_min, 1, &u.half[2]);
    MPI_Op_create(bf16_sum, 1, &u.bf16[0]);
    MPI_Op_create(bf16_max, 1, &u.bf16[1]);
    MPI_Op_create(bf16_min, 1, &u.bf16[2]);
    return u;
  }();
  return ops;
}

int op_index(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
    case ReduceOp::kAvg: return 0;
    case ReduceOp::kMax: return 1;
    case ReduceOp::kMin: return 2;
  }
  return 0;
}

}  // namespace

MPI_Datatype mpi_type(DType dtype) {
  switch (dtype) {
    case DType::f32: return MPI_FLOAT;
    case DType::f64: return MPI_DOUBLE;
    case DType::f16:
    case DType::bf16: return MPI_UINT16_T;
    case DType::i64: return MPI_INT64_T;
    case DType::i32: return MPI_INT32_T;
    case DType::i8: return MPI_INT8_T;
    case DType::u8: return MPI_UINT8_T;
    case DType::b8: return MPI_C_BOOL;
  }
  return MPI_BYTE;
}

MPI_Op mpi_op(DType dtype, ReduceOp op) {
  if (dtype == kF16) return user_ops().half[op_index(op)];
  if (dtype == kBF16) return user_ops().bf16[op_index(op)];
  if (dtype == kBool) return op == ReduceOp::kMin ? MPI_LAND : MPI_LOR;
  switch (op) {
    case ReduceOp::kSum:
    case ReduceOp::kAvg: return MPI_SUM;
    case ReduceOp::kMax: return MPI_MAX;
    case ReduceOp::kMin: return MPI_MIN;
  }
  return MPI_SUM;
}

}  // namespace ds::dist::detail
