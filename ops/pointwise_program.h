#pragma once
// A fused group of pointwise primitives as one straight-line program (the graph compiler builds them,
// framework/graph/fusion.h): each step applies one op's PointwiseMath (op_def.h) to earlier slots. The CPU runs it
// chunk by chunk over L1-sized buffers, so the intermediates never reach memory; only the output slots are written.
// Every step computes each element exactly as its eager kernel does (same math, same SIMD/scalar split).
#include <span>
#include <string>
#include <vector>

#include <ds/ops/op_def.h>

namespace ds {

struct PointwiseProgram {
  struct Step {
    OpId op{};
    Attrs attrs;
    SmallVec<int32_t, 3> in;  // the slots it reads
  };
  Shape sizes;                     // the iteration shape: every output's, and what every input broadcasts to
  DType dtype = kF32;              // the compute dtype, f32 or f64 (slots are of it or bool)
  int32_t num_inputs = 0;          // slots [0, num_inputs) are the inputs; step k writes slot num_inputs + k
  std::vector<DType> slot_dtypes;  // per slot
  std::vector<Step> steps;
  std::vector<int32_t> outputs;    // the slots written to memory, in the order of run's `out`

  // "f32[64, 32] in(2) s2 = mul(s0, s1); s3 = relu(s2) -> s3"
  std::string str() const;
};

// Runs p: `in` (CPU tensors broadcastable to p.sizes; an input of one element may be of any dtype and is converted
// as the op's rule would cast it, any other must have its slot's dtype) -> `out` (contiguous CPU tensors of
// p.sizes and their slots' dtypes, written in full).
void run_pointwise_program(const PointwiseProgram& p, std::span<const Tensor> in, std::span<const Tensor> out);

}  // namespace ds
