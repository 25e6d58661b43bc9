#pragma once
// Custom autograd functions (torch.autograd.Function in C++): a forward and a backward written by hand, recorded
// as one node of the graph.
//
//   struct ScaledTanh : ds::autograd::Function<ScaledTanh> {
//     static constexpr const char* kName = "scaled_tanh";      // optional: the node's name in errors and grad_fn
//     static Tensor forward(FunctionCtx& ctx, const Tensor& x, double scale) {
//       Tensor y = tanh(x) * scale;
//       ctx.save_for_backward({y});
//       ctx.saved_data["scale"] = scale;
//       return y;
//     }
//     static std::vector<Tensor> backward(FunctionCtx& ctx, const std::vector<Tensor>& grad_outputs) {
//       const Tensor y = ctx.saved()[0];
//       const double scale = std::any_cast<double>(ctx.saved_data["scale"]);
//       return {grad_outputs[0] * (scale - y * y / scale), Tensor()};  // one entry per forward argument
//     }
//   };
//   Tensor y = ScaledTanh::apply(x, 2.0);
//
// forward runs with grad mode off and returns a Tensor or a std::vector<Tensor>; its arguments are any values, of
// which the Tensors (and std::vector<Tensor>s, element by element) are the node's inputs. backward gets one
// gradient per output (zeros for an output no gradient reached) and returns one entry per forward argument, a
// tensor argument's gradient or an undefined Tensor (an argument that is not a tensor, or needs no gradient; a
// std::vector<Tensor> argument takes one entry per element). Returned gradients are checked against their inputs'
// shapes and cast to their dtypes.
//
// Twice differentiable: backward runs with grad mode on under backward(create_graph=true), and saved tensors come
// back connected to the graph, so a backward written in ds ops is itself differentiated.
#include <any>
#include <memory>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include <ds/ops/tensor.h>

namespace ds::autograd {

class FunctionNode;
template <typename T>
struct Function;

class FunctionCtx {
 public:
  // Tensors backward will need (inputs or outputs of forward; an output is kept without a reference cycle). An
  // in-place change to one of them after forward makes backward an error naming it.
  void save_for_backward(std::vector<Tensor> tensors);
  // The saved tensors, in the order saved. Valid in backward only.
  std::vector<Tensor> saved() const;
  // Outputs that are not differentiable (indices, masks): they never require grad.
  void mark_non_differentiable(const std::vector<Tensor>& outputs);
  // Whether the gradient of input i (counted as backward's result entries) is needed.
  bool needs_input_grad(size_t i) const { return i < needs_input_grad_.size() && needs_input_grad_[i]; }
  // Anything else backward needs (scalars, shapes, options).
  std::unordered_map<std::string, std::any> saved_data;

 private:
  friend class FunctionNode;
  friend struct FunctionApply;
  template <typename T>
  friend struct Function;
  std::vector<Tensor> to_save_;
  std::vector<Tensor> non_differentiable_;
  std::vector<bool> needs_input_grad_;
  FunctionNode* node_ = nullptr;  // set once the node exists (the ctx belongs to it)
};

// The non-template half of Function<T>::apply (autograd/function.cpp).
using FunctionBackward = std::vector<Tensor> (*)(FunctionCtx&, const std::vector<Tensor>&);
struct FunctionApply {
  // inputs: the flattened tensor arguments (undefined for non-tensor arguments, in argument order). Records the
  // node when grad mode is on and an input requires grad, and connects the outputs to it (in place).
  static void record(std::string name, FunctionBackward backward, std::shared_ptr<FunctionCtx> ctx,
                     const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs);
  static std::vector<bool> needs_grad(const std::vector<Tensor>& inputs);
};

namespace detail {
template <typename A>
void collect_inputs(std::vector<Tensor>& out, const A& arg) {
  using D = std::decay_t<A>;
  if constexpr (std::is_base_of_v<TensorBase, D>) out.push_back(Tensor(arg));
  else if constexpr (std::is_same_v<D, std::vector<Tensor>>) out.insert(out.end(), arg.begin(), arg.end());
  else out.push_back(Tensor());
}
template <typename T>
std::string function_name() {
  if constexpr (requires { T::kName; }) return std::string(T::kName);
  else return "CustomFunction";
}
}  // namespace detail

template <typename T>
struct Function {
  template <typename... Args>
  static auto apply(Args&&... args) {
    std::vector<Tensor> inputs;
    (detail::collect_inputs(inputs, args), ...);
    auto ctx = std::make_shared<FunctionCtx>();
    ctx->needs_input_grad_ = FunctionApply::needs_grad(inputs);
    using R = decltype(T::forward(*ctx, std::forward<Args>(args)...));
    static_assert(std::is_same_v<R, Tensor> || std::is_same_v<R, std::vector<Tensor>>,
                  "Function<T>::forward must return a Tensor or a std::vector<Tensor>");
    std::vector<Tensor> outputs;
    {
      NoGradGuard no_grad;
      if constexpr (std::is_same_v<R, Tensor>) outputs.push_back(T::forward(*ctx, std::forward<Args>(args)...));
      else outputs = T::forward(*ctx, std::forward<Args>(args)...);
    }
    FunctionApply::record(detail::function_name<T>(), &T::backward, std::move(ctx), inputs, outputs);
    if constexpr (std::is_same_v<R, Tensor>) return outputs[0];
    else return outputs;
  }
};

}  // namespace ds::autograd
