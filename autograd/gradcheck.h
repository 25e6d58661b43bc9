#pragma once
// Gradient checking against float64 central finite differences. The function takes and returns tensors; every
// floating input that requires grad is perturbed one element at a time (through its own strides, so views and
// non-contiguous inputs are checked as they are) and the Jacobian is compared with the one autograd computes.
#include <functional>
#include <string>

#include <ds/ops/tensor.h>

namespace ds {

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-3;
};

struct GradcheckResult {
  bool ok = true;
  // The worst element: which input and element, which output element, and both derivatives.
  double max_error = 0;  // |analytical - numerical| - (atol + rtol |numerical|), the largest excess (<= 0 when ok)
  int input = -1;
  int64_t input_element = -1;
  int64_t output_element = -1;
  double analytical = 0, numerical = 0;
  std::string message;  // a readable account of the worst element
};

using TensorFn = std::function<TensorList(const TensorList&)>;

// Checks d fn / d inputs. Inputs must be float64; those with requires_grad are checked.
GradcheckResult gradcheck(const TensorFn& fn, const TensorList& inputs, GradcheckOptions opts = {});
// Checks the gradient of the gradient: fn's vjp (with create_graph) is itself gradchecked with respect to the
// inputs and a random output gradient.
GradcheckResult gradgradcheck(const TensorFn& fn, const TensorList& inputs, GradcheckOptions opts = {});

}  // namespace ds
