// CPU kernel of matmul: a (..., m, k) @ b (..., k, n) -> out (..., m, n), batch dims broadcast through stride 0.
// Each matrix goes to the GEMM with its own strides (no copies); bf16 operands go to the vdpbf16ps GEMM where the CPU
// has AVX512_BF16 (gemm.h), and 16-bit floats are otherwise widened to float32 first.
#include <omp.h>

#include <type_traits>

#include "gemm.h"
#include "helpers.h"
#include "kernels.h"
#include "loops.h"

namespace ds::cpu {
namespace {

// Element strides of t's batch dims aligned to the output's batch dims (0 where t broadcasts).
Shape batch_strides(const Tensor& t, const Shape& out_batch) {
  Shape st(out_batch.size(), 0);
  const int64_t tb = t.dim() - 2, off = static_cast<int64_t>(out_batch.size()) - tb;
  for (int64_t d = 0; d < tb; ++d)
    if (t.sizes()[d] != 1) st[off + d] = t.strides()[d];
  return st;
}

// One GEMM per batch entry; T is the operands' element type, Out the result's (float32 for bf16 operands).
template <typename T, typename Out = T>
void batched(const Tensor& a, const Tensor& b, const Tensor& out) {
  const int64_t nd = out.dim();
  const int64_t m = out.sizes()[nd - 2], n = out.sizes()[nd - 1], k = a.sizes().back();
  const Shape batch(out.sizes().begin(), out.sizes().end() - 2);
  const Shape sa = batch_strides(a, batch), sb = batch_strides(b, batch);
  const int64_t nbatch = numel_of(batch);
  const T* pa = static_cast<const T*>(a.data());
  const T* pb = static_cast<const T*>(b.data());
  Out* pc = static_cast<Out*>(out.data());
  const int64_t ars = a.strides()[a.dim() - 2], acs = a.strides()[a.dim() - 1];
  const int64_t brs = b.strides()[b.dim() - 2], bcs = b.strides()[b.dim() - 1];
  auto one = [&](int64_t i, int threads) {
    int64_t oa = 0, ob = 0, rem = i;
    for (size_t d = batch.size(); d-- > 0;) {
      const int64_t idx = rem % batch[d];
      rem /= batch[d];
      oa += idx * sa[d];
      ob += idx * sb[d];
    }
    if constexpr (std::is_same_v<T, BFloat16>)
      gemm_bf16(m, n, k, MatRef<const T>{pa + oa, ars, acs}, MatRef<const T>{pb + ob, brs, bcs},
                MatRef<Out>{pc + i * m * n, n, 1}, false, threads);
    else
      gemm(m, n, k, MatRef<const T>{pa + oa, ars, acs}, MatRef<const T>{pb + ob, brs, bcs},
           MatRef<Out>{pc + i * m * n, n, 1}, false, threads);
  };
  const double flops = 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  if (nbatch > 1 && flops < 4e6) {  // many small products: one per thread
    parallel_for(nbatch, std::max<int64_t>(1, static_cast<int64_t>(1e6 / std::max(flops, 1.0))),
                 [&](int64_t lo, int64_t hi) {
                   for (int64_t i = lo; i < hi; ++i) one(i, 1);
                 });
  } else {
    for (int64_t i = 0; i < nbatch; ++i) one(i, omp_get_max_threads());
  }
}

}  // namespace

void matmul(const KernelCtx& c) {
  const Tensor &a = c.in[0], &b = c.in[1];
  const Tensor& out = c.out[0];
  switch (a.dtype()) {
    case DType::f32: return batched<float>(a, b, out);
    case DType::f64: return batched<double>(a, b, out);
    case DType::f16:
    case DType::bf16: {
      const Tensor wide(empty_base(out.sizes(), kF32, out.device()));
      if (a.dtype() == kBF16 && b.dtype() == kBF16 && gemm_bf16_available())
        batched<BFloat16, float>(a, b, wide);  // vdpbf16ps on the operands as they are
      else
        batched<float>(contiguous_copy(a, kF32), contiguous_copy(b, kF32), wide);
      const Tensor in[1] = {wide};
      Tensor outs[1] = {out};
      const Attrs attrs = CopyAttrs{out.dtype()};
      return copy(KernelCtx{OpId::copy, "copy", in, outs, attrs});
    }
    case DType::i64: case DType::i32: case DType::i8: case DType::u8: case DType::b8: break;
  }
  throw_error(c.name, std::string("has no CPU kernel for dtype ") + std::string(dtype_name(a.dtype())));
}

}  // namespace ds::cpu
