#pragma once
// The op table's index: every op ds has, once. The enum OpId, the names, the dispatch tables and (later)
// serialisation ids are generated from these lists; the rows themselves (rule, vjp, kernels, test facts) live in
// ops/defs/<family>.cpp and ops/composite/<family>.cpp.
//
// DS_PRIMITIVES(X): X(name, kind), kind = Kernel (a kernel per device) or View (aliases its input; no kernel).
#include <cstdint>

#define DS_PRIMITIVES(X)                                                                          \
  /* factories and copies: ops/defs/factory.cpp */                                                \
  X(full, Kernel) X(arange, Kernel) X(linspace, Kernel) X(eye, Kernel) X(rand, Kernel)            \
  X(randn, Kernel) X(randint, Kernel) X(copy, Kernel) X(to_device, Kernel)                         \
  /* unary elementwise: ops/defs/unary.cpp */                                                     \
  X(neg, Kernel) X(abs, Kernel) X(exp, Kernel) X(log, Kernel) X(log1p, Kernel) X(expm1, Kernel)   \
  X(sqrt, Kernel) X(rsqrt, Kernel) X(sin, Kernel) X(cos, Kernel) X(tanh, Kernel)                  \
  X(sigmoid, Kernel) X(relu, Kernel) X(erf, Kernel) X(floor, Kernel) X(ceil, Kernel)              \
  X(round, Kernel) X(sign, Kernel) X(reciprocal, Kernel) X(pow_scalar, Kernel) X(clamp, Kernel)   \
  X(logical_not, Kernel)                                                                          \
  /* binary and ternary elementwise with broadcasting: ops/defs/binary.cpp */                     \
  X(add, Kernel) X(sub, Kernel) X(mul, Kernel) X(div, Kernel) X(pow, Kernel) X(maximum, Kernel)   \
  X(minimum, Kernel) X(eq, Kernel) X(ne, Kernel) X(lt, Kernel) X(le, Kernel) X(gt, Kernel)        \
  X(ge, Kernel) X(logical_and, Kernel) X(logical_or, Kernel) X(where, Kernel)                     \
  /* reductions and scans: ops/defs/reduce.cpp */                                                 \
  X(sum, Kernel) X(prod, Kernel) X(amax, Kernel) X(amin, Kernel) X(max_dim, Kernel)               \
  X(min_dim, Kernel) X(cumsum, Kernel)                                                            \
  /* linear algebra: ops/defs/linalg.cpp */                                                       \
  X(matmul, Kernel)                                                                               \
  /* shape and indexing: ops/defs/index.cpp */                                                    \
  X(cat, Kernel) X(flip, Kernel) X(pad, Kernel) X(gather, Kernel) X(scatter, Kernel)              \
  X(scatter_add, Kernel) X(index_select, Kernel) X(index_add, Kernel) X(topk, Kernel)             \
  X(sort, Kernel)                                                                                 \
  /* vision: ops/defs/conv.cpp, ops/defs/pool.cpp */                                              \
  X(conv2d, Kernel) X(conv2d_input_grad, Kernel) X(conv2d_weight_grad, Kernel) X(max_pool2d, Kernel) \
  /* attention: ops/defs/attention.cpp */                                                         \
  X(scaled_dot_product_attention, Kernel) X(scaled_dot_product_attention_backward, Kernel)        \
  /* fused layers of transformers: ops/defs/{layer_norm,gelu,cross_entropy}.cpp */                \
  X(layer_norm, Kernel) X(layer_norm_backward, Kernel) X(gelu, Kernel) X(gelu_backward, Kernel)   \
  X(softmax_cross_entropy, Kernel) X(softmax_cross_entropy_backward, Kernel)                      \
  /* fused optimizer updates: ops/defs/optim.cpp */                                               \
  X(adam_step, Kernel)                                                                            \
  /* data-dependent control flow (ds::cond, ds::while_loop): ops/defs/control_flow.cpp */         \
  X(cond, Kernel) X(while_loop, Kernel)                                                           \
  /* views: ops/defs/view.cpp */                                                                  \
  X(view, View) X(permute, View) X(slice, View) X(select, View) X(expand, View) X(squeeze, View)  \
  X(unsqueeze, View) X(as_strided, View)

// DS_COMPOSITES(X): X(name), ops written in ds ops (ops/composite/), with rows for listing and testing.
#define DS_COMPOSITES(X)                                                                          \
  X(zeros) X(ones) X(zeros_like) X(ones_like) X(full_like) X(to) X(clone) X(contiguous)           \
  X(gelu_tanh) X(silu) X(softplus) X(square) X(masked_fill) X(tril) X(triu)               \
  X(mean) X(var) X(std) X(logsumexp) X(norm) X(argmax) X(argmin) X(max) X(min)                    \
  X(mm) X(bmm) X(addmm) X(linear) X(outer) X(dot)                                                 \
  X(reshape) X(flatten) X(transpose) X(t) X(narrow) X(stack) X(split) X(chunk) X(roll) X(repeat)  \
  X(embedding) X(one_hot) X(argsort)                                                              \
  X(softmax) X(log_softmax) X(dropout) X(cross_entropy) X(nll_loss) X(mse_loss)                   \
  X(bce_with_logits) X(conv1d) X(conv_transpose2d) X(avg_pool2d) X(adaptive_avg_pool2d)          \
  X(batch_norm) X(group_norm) X(interpolate)

namespace ds {

enum class OpId : uint16_t {
#define DS_OP_ENUM(name, kind) name,
  DS_PRIMITIVES(DS_OP_ENUM)
#undef DS_OP_ENUM
};

#define DS_COUNT_ONE(...) +1
inline constexpr int kNumPrimitives = 0 DS_PRIMITIVES(DS_COUNT_ONE);
inline constexpr int kNumComposites = 0 DS_COMPOSITES(DS_COUNT_ONE);
#undef DS_COUNT_ONE

}  // namespace ds
