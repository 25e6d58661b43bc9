#pragma once
// Indexing ops: gather/scatter along a dim, index_select/index_add, masked_fill, embedding, one_hot, triangular
// masks, top-k and sorting. Index tensors are int64 (int32 accepted); out-of-range indices are errors naming the
// index and the bound.
#include <ds/ops/tensor.h>

namespace ds {

// out[i][j] = x[index[i][j]][j] for dim 0 (and so on); index has x's rank.
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);
// A copy of x with src's values written at index along dim (last write wins for repeated indices).
Tensor scatter(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);
Tensor scatter(const Tensor& x, int64_t dim, const Tensor& index, Scalar value);
// A copy of x with src's values added at index along dim.
Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);
// Slices of x along dim at the given 1-d indices.
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
// A copy of x with src's slices added at the given 1-d indices along dim (alpha scales src).
Tensor index_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src, double alpha = 1.0);
Tensor masked_fill(const Tensor& x, const Tensor& mask, Scalar value);
// weight[indices]: indices of any shape -> (..., embedding_dim). padding_idx rows get no gradient.
Tensor embedding(const Tensor& weight, const Tensor& indices, std::optional<int64_t> padding_idx = {});
// int64 one-hot of shape (..., num_classes); num_classes = max + 1 when not given (-1).
Tensor one_hot(const Tensor& indices, int64_t num_classes = -1);
// Lower / upper triangle of the last two dims (diagonal k above the main one), the rest zero.
Tensor tril(const Tensor& x, int64_t diagonal = 0);
Tensor triu(const Tensor& x, int64_t diagonal = 0);

struct ValuesIndices {
  Tensor values;
  Tensor indices;
};
// The k largest (or smallest) along dim, sorted.
ValuesIndices topk(const Tensor& x, int64_t k, int64_t dim = -1, bool largest = true, bool sorted = true);
// Stable sort along dim.
ValuesIndices sort(const Tensor& x, int64_t dim = -1, bool descending = false);
Tensor argsort(const Tensor& x, int64_t dim = -1, bool descending = false);

}  // namespace ds
