#pragma once
// ds dtypes and reduce ops as MPI datatypes and ops (internal). MPI has no 16-bit float types: f16 and bf16 travel
// as MPI_UINT16_T and reduce through user ops that compute in float and round back, as NCCL does.
#include <mpi.h>

#include <ds/core/dtype.h>
#include <ds/distributed/types.h>

namespace ds::dist::detail {

MPI_Datatype mpi_type(DType dtype);
// The op for `op` on `dtype`; kAvg reduces as kSum (the caller divides). bool: sum and max are a logical or, min a
// logical and.
MPI_Op mpi_op(DType dtype, ReduceOp op);

}  // namespace ds::dist::detail
