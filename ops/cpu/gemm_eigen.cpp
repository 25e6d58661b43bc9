// GEMM through Eigen: used for float64, and for float32 as the reference ds's own kernel is measured against.
#include <vector>

#include <Eigen/Core>

#include "gemm.h"

namespace ds::cpu {
namespace {

template <typename T>
using StridedMat = Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>, 0,
                              Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>>;

// A broadcast operand (stride 0 along a dim of extent > 1, e.g. an expanded tensor) is copied to a dense row-major
// buffer: Eigen's maps need positive strides, and a stride patched to 1 would read past the operand.
template <typename T>
MatRef<const T> dense_if_broadcast(MatRef<const T> x, int64_t rows, int64_t cols, std::vector<T>& buf) {
  if (!((x.rs == 0 && rows > 1) || (x.cs == 0 && cols > 1))) return x;
  buf.resize(static_cast<size_t>(rows * cols));
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) buf[static_cast<size_t>(i * cols + j)] = x.data[i * x.rs + j * x.cs];
  return {buf.data(), cols, 1};
}

template <typename T>
void eigen_gemm(int64_t m, int64_t n, int64_t k, MatRef<const T> a, MatRef<const T> b, MatRef<T> c, bool acc) {
  std::vector<T> abuf, bbuf;
  a = dense_if_broadcast(a, m, k, abuf);
  b = dense_if_broadcast(b, k, n, bbuf);
  using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using CMap = Eigen::Map<const Mat, 0, Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>>;
  // Size-1 dims may carry any stride (even 0); Eigen wants positive ones.
  auto fix = [](int64_t s, int64_t extent) { return extent == 1 || s == 0 ? 1 : s; };
  CMap A(a.data, m, k, Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>(fix(a.rs, m), fix(a.cs, k)));
  CMap B(b.data, k, n, Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>(fix(b.rs, k), fix(b.cs, n)));
  StridedMat<T> C(c.data, m, n, Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>(fix(c.rs, m), fix(c.cs, n)));
  if (k == 0) {
    if (!acc) C.setZero();
    return;
  }
  if (acc) C.noalias() += A * B;
  else C.noalias() = A * B;
}

}  // namespace

void gemm(int64_t m, int64_t n, int64_t k, MatRef<const double> a, MatRef<const double> b, MatRef<double> c,
          bool accumulate, int threads) {
  // Eigen splits large products over OpenMP threads itself and runs serially inside a parallel region.
  if (m == 0 || n == 0) return;
  eigen_gemm(m, n, k, a, b, c, accumulate);
}

void gemm_eigen(int64_t m, int64_t n, int64_t k, MatRef<const float> a, MatRef<const float> b, MatRef<float> c,
                bool accumulate) {
  if (m == 0 || n == 0) return;
  eigen_gemm(m, n, k, a, b, c, accumulate);
}

}  // namespace ds::cpu
