#pragma once
// DS_CUDA_KERNELS(X): the primitives that have a CUDA kernel (ds::cuda::<op>, declared in kernels.h). The CUDA
// kernel table (cuda_table.cpp) gives every other primitive an entry that throws "[op] has no CUDA kernel".
#define DS_CUDA_KERNELS(X)                                                                          \
  /* factories and copies: factory.cu */                                                          \
  X(full) X(arange) X(linspace) X(eye) X(rand) X(randn) X(randint) X(copy) X(to_device)           \
  /* unary elementwise: unary.cu */                                                               \
  X(neg) X(abs) X(exp) X(log) X(log1p) X(expm1) X(sqrt) X(rsqrt) X(sin) X(cos) X(tanh)            \
  X(sigmoid) X(relu) X(erf) X(floor) X(ceil) X(round) X(sign) X(reciprocal) X(pow_scalar)          \
  X(clamp) X(logical_not) X(gelu)                                                                  \
  /* binary and ternary elementwise: binary.cu */                                                 \
  X(add) X(sub) X(mul) X(div) X(pow) X(maximum) X(minimum) X(eq) X(ne) X(lt) X(le) X(gt) X(ge)     \
  X(logical_and) X(logical_or) X(where) X(gelu_backward)                                            \
  /* reductions and cumsum: reduce.cu */                                                         \
  X(sum) X(prod) X(amax) X(amin) X(max_dim) X(min_dim) X(cumsum)                                    \
  /* matmul.cu (cublaslt.cpp) */                                                                   \
  X(matmul)                                                                                        \
  /* shape and index ops: index.cu */                                                              \
  X(cat) X(flip) X(pad) X(gather) X(scatter) X(scatter_add) X(index_select) X(index_add) X(topk) X(sort) \
  /* row kernels: norm.cu, cross_entropy.cu; the optimizer: optim.cu */                             \
  X(layer_norm) X(layer_norm_backward) X(softmax_cross_entropy) X(softmax_cross_entropy_backward) X(adam_step) \
  /* attention.cu */                                                                               \
  X(scaled_dot_product_attention) X(scaled_dot_product_attention_backward)                            \
  /* conv.cu */                                                                                    \
  X(conv2d) X(conv2d_input_grad) X(conv2d_weight_grad) X(max_pool2d)
