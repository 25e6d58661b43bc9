#pragma once
// Matrix products. matmul follows torch.matmul in every case: 1-d @ 1-d is a dot product, a 1-d operand gains and
// loses a dimension, and batch dims broadcast. Transposed and strided operands are read in place, never copied.
#include <optional>

#include <ds/ops/tensor.h>

namespace ds {

Tensor matmul(const Tensor& a, const Tensor& b);
// (n, k) @ (k, m) only.
Tensor mm(const Tensor& a, const Tensor& b);
// (b, n, k) @ (b, k, m) only.
Tensor bmm(const Tensor& a, const Tensor& b);
// beta * input + alpha * (a @ b), input broadcast to (n, m).
Tensor addmm(const Tensor& input, const Tensor& a, const Tensor& b, double beta = 1, double alpha = 1);
// x @ weight^T + bias: x (..., in), weight (out, in), bias (out) or undefined.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());
// a (n) and b (m) -> (n, m)
Tensor outer(const Tensor& a, const Tensor& b);
// 1-d dot product.
Tensor dot(const Tensor& a, const Tensor& b);

}  // namespace ds
