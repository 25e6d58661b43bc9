#pragma once
// The attributes of every primitive, one struct per kind of op; the op's row (ops/defs/) names the struct it takes.
// Values that change from call to call (an RNG's seed and offset, the optimizer's learning rate and step) are inputs,
// not attributes, so a traced graph replays with the new values. Fields are listed in fields() for printing,
// comparing and serialising by name (ops/attrs.h).
#include <optional>

#include <ds/ops/attrs.h>

namespace ds {

#define DS_ATTR_FIELD(type, member) ::ds::attr_field(#member, &type::member)

// ---- factories and copies: ops/defs/factory.cpp
struct FullAttrs {
  static constexpr std::string_view kName = "FullAttrs";
  Shape shape;
  Scalar value;
  DType dtype = kF32;
  Device device = kCPU;
  static constexpr auto fields() {
    return std::tuple{DS_ATTR_FIELD(FullAttrs, shape), DS_ATTR_FIELD(FullAttrs, value),
                      DS_ATTR_FIELD(FullAttrs, dtype), DS_ATTR_FIELD(FullAttrs, device)};
  }
};
struct ArangeAttrs {
  static constexpr std::string_view kName = "ArangeAttrs";
  double start = 0, end = 0, step = 1;
  DType dtype = kF32;
  Device device = kCPU;
  static constexpr auto fields() {
    return std::tuple{DS_ATTR_FIELD(ArangeAttrs, start), DS_ATTR_FIELD(ArangeAttrs, end),
                      DS_ATTR_FIELD(ArangeAttrs, step), DS_ATTR_FIELD(ArangeAttrs, dtype),
                      DS_ATTR_FIELD(ArangeAttrs, device)};
  }
};
struct LinspaceAttrs {
  static constexpr std::string_view kName = "LinspaceAttrs";
  double start = 0, end = 0;
  int64_t steps = 0;
  DType dtype = kF32;
  Device device = kCPU;
  static constexpr auto fields() {
    return std::tuple{DS_ATTR_FIELD(LinspaceAttrs, start), DS_ATTR_FIELD(LinspaceAttrs, end),
                      DS_ATTR_FIELD(LinspaceAttrs, steps), DS_ATTR_FIELD(LinspaceAttrs, dtype),
                      DS_ATTR_FIELD(LinspaceAttrs, device)};
  }
};
struct EyeAttrs {
  static constexpr std::string_view kName = "EyeAttrs";
  int64_t n = 0, m = 0;
  DType dtype = kF32;
  Device device = kCPU;
  static constexpr auto fields() {
    return std::tuple{DS_ATTR_FIELD(EyeAttrs, n), DS_ATTR_FIELD(EyeAttrs, m), DS_ATTR_FIELD(EyeAttrs, dtype),
                      DS_ATTR_FIELD(EyeAttrs, device)};
  }
};
// rand, randn; their input 0 is the Philox state (seed, offset) as an int64 CPU tensor of 2 (ops/rng_input.h).
struct RandAttrs {
  static constexpr std::string_view kName = "RandAttrs";
  Shape shape;
  DType dtype = kF32;
  Device device = kCPU;
  static constexpr auto fields() {
    return std::tuple{DS_ATTR_FIELD(RandAttrs, shape), DS_ATTR_FIELD(RandAttrs, dtype),
                      DS_ATTR_FIELD(RandAttrs, device)};
  }
};
// randint: values in [low, high); input 0 as for rand.
struct RandintAttrs {
  static constexpr std::string_view kName = "RandintAttrs";
  Shape shape;
  DType dtype = kI64;
  Device device = kCPU;
  int64_t low = 0, high = 1;
  static constexpr auto fields() {
    return std::tuple{DS_ATTR_FIELD(RandintAttrs, shape), DS_ATTR_FIELD(RandintAttrs, dtype),
                      DS_ATTR_FIELD(RandintAttrs, device), DS_ATTR_FIELD(RandintAttrs, low),
                      DS_ATTR_FIELD(RandintAttrs, high)};
  }
};
// copy: the output's dtype (a cast when it differs from the input's).
struct CopyAttrs {
  static constexpr std::string_view kName = "CopyAttrs";
  DType dtype = kF32;
  static constexpr auto fields() { return std::tuple{DS_ATTR_FIELD(CopyAttrs, dtype)}; }
};
// to_device: the output's device, and the input's (`from`, for the vjp).
struct ToDeviceAttrs {
  static constexpr std::string_view kName = "ToDeviceAttrs";
  Device device = kCPU;
  Device from = kCPU;
  static constexpr auto fields() {
    return std::tuple{DS_ATTR_FIELD(ToDeviceAttrs, device), DS_ATTR_FIELD(ToDeviceAttrs, from)};
  }
};

// ---- elementwise: ops/defs/unary.cpp, gelu.cpp
// pow_scalar: an integer exponent keeps integer tensors integers; a floating one makes them floating.
struct PowScalarAttrs {
  static constexpr std::string_view kName = "PowScalarAttrs";
  Scalar exponent = int64_t{1};
  static constexpr auto fields() { return std::tuple{DS_ATTR_FIELD(PowScalarAttrs, exponent)}; }
};
// clamp: either bound may be absent.
struct ClampAttrs {
  static constexpr std::string_view kName = "ClampAttrs";
  std::optional<double> min, max;
  static constexpr auto fields() { return std::tuple{DS_ATTR_FIELD(ClampAttrs, min), DS_ATTR_FIELD(ClampAttrs, max)}; }
};
// gelu, gelu_backward: the tanh approximation instead of erf.
struct GeluAttrs {
  static constexpr std::string_view kName = "GeluAttrs";
  bool tanh = false;
  static constexpr auto fields() { return std::tuple{DS_ATTR_FIELD(GeluAttrs, tanh)}; }
};

// ---- reductions: ops/defs/reduce.cpp
// sum, prod, amax, amin: dims normalised and sorted by the front function; empty = all.
struct ReduceAttrs {
  static constexpr std::string_view kName = "ReduceAttrs";
  Shape dims;
  bool keepdim = false;
  static constexpr auto fields() {
    return std::tuple{DS_ATTR_FIELD(ReduceAttrs, dims), DS_ATTR_FIELD(ReduceAttrs, keepdim)};
  }
};
// max_dim, min_dim.
struct DimReduceAttrs {
  static constexpr std::string_view kName = "DimReduceAttrs";
  int64_t dim = 0;
  bool keepdim = false;
  static constexpr auto fields() {
    return std::tuple{DS_ATTR_FIELD(DimReduceAttrs, dim), DS_ATTR_FIELD(DimReduceAttrs, keepdim)};
  }
};

// ---- ops along one dim or over several: cumsum, cat, gather, scatter, scatter_add, index_select, unsqueeze
struct DimAttrs {
  static constexpr std::string_view kName = "DimAttrs";
  int64_t dim = 0;
  static constexpr auto fields() { return std::tuple{DS_ATTR_FIELD(DimAttrs, dim)}; }
};
// flip, permute (a permutation), squeeze (empty: every size-1 dim).
struct DimsAttrs {
  static constexpr std::string_view kName = "DimsAttrs";
  Shape dims;
  static constexpr auto fields() { return std::tuple{DS_ATTR_FIELD(DimsAttrs, dims)}; }
};

// ---- shape and indexing: ops/defs/index.cpp
enum class PadMode { Constant, Reflect };
// pad: (left, right) of the last dim, then of the one before, ...
struct PadAttrs {
  static constexpr std::string_view kName = "PadAttrs";
  Shape pads;
  PadMode mode = PadMode::Constant;
  double value = 0;
  static constexpr auto fields() {
    return std::tuple{DS_ATTR_FIELD(PadAttrs, pads), DS_ATTR_FIELD(PadAttrs, mode), DS_ATTR_FIELD(PadAttrs, value)};
  }
};
struct IndexAddAttrs {
  static constexpr std::string_view kName = "IndexAddAttrs";
  int64_t dim = 0;
  double alpha = 1;
  static constexpr auto fields() {
    return std::tuple{DS_ATTR_FIELD(IndexAddAttrs, dim), DS_ATTR_FIELD(IndexAddAttrs, alpha)};
  }
};
struct TopkAttrs {
  static constexpr std::string_view kName = "TopkAttrs";
  int64_t k = 1, dim = -1;
  bool largest = true, sorted = true;
  static constexpr auto fields() {
    return std::tuple{DS_ATTR_FIELD(TopkAttrs, k), DS_ATTR_FIELD(TopkAttrs, dim), DS_ATTR_FIELD(TopkAttrs, largest),
                      DS_ATTR_FIELD(TopkAttrs, sorted)};
  }
};
struct SortAttrs {
  static constexpr std::string_view kName = "SortAttrs";
  int64_t dim = -1;
  bool descending = false;
  static constexpr auto fields() {
    return std::tuple{DS_ATTR_FIELD(SortAttrs, dim), DS_ATTR_FIELD(SortAttrs, descending)};
  }
};

// ---- vision: ops/defs/conv.cpp, pool.cpp. Pairs are (h, w).
struct Conv2dAttrs {
  static constexpr std::string_view kName = "Conv2dAttrs";
  Shape stride{1, 1}, padding{0, 0}, dilation{1, 1};
  int64_t groups = 1;
  static constexpr auto fields() {
    return std::tuple{DS_ATTR_FIELD(Conv2dAttrs, stride), DS_ATTR_FIELD(Conv2dAttrs, padding),
                      DS_ATTR_FIELD(Conv2dAttrs, dilation), DS_ATTR_FIELD(Conv2dAttrs, groups)};
  }
};
// conv2d_input_grad: the forward's geometry and the input's (H, W).
struct Conv2dInputGradAttrs {
  static constexpr std::string_view kName = "Conv2dInputGradAttrs";
  Shape stride{1, 1}, padding{0, 0}, dilation{1, 1};
  int64_t groups = 1;
  Shape input_size;
  static constexpr auto fields() {
    return std::tuple{DS_ATTR_FIELD(Conv2dInputGradAttrs, stride), DS_ATTR_FIELD(Conv2dInputGradAttrs, padding),
                      DS_ATTR_FIELD(Conv2dInputGradAttrs, dilation), DS_ATTR_FIELD(Conv2dInputGradAttrs, groups),
                      DS_ATTR_FIELD(Conv2dInputGradAttrs, input_size)};
  }
};
// conv2d_weight_grad: the forward's geometry and the kernel's (kh, kw).
struct Conv2dWeightGradAttrs {
  static constexpr std::string_view kName = "Conv2dWeightGradAttrs";
  Shape stride{1, 1}, padding{0, 0}, dilation{1, 1};
  int64_t groups = 1;
  Shape kernel_size;
  static constexpr auto fields() {
    return std::tuple{DS_ATTR_FIELD(Conv2dWeightGradAttrs, stride), DS_ATTR_FIELD(Conv2dWeightGradAttrs, padding),
                      DS_ATTR_FIELD(Conv2dWeightGradAttrs, dilation), DS_ATTR_FIELD(Conv2dWeightGradAttrs, groups),
                      DS_ATTR_FIELD(Conv2dWeightGradAttrs, kernel_size)};
  }
};
struct MaxPool2dAttrs {
  static constexpr std::string_view kName = "MaxPool2dAttrs";
  Shape kernel_size, stride, padding{0, 0}, dilation{1, 1};
  bool ceil_mode = false;
  static constexpr auto fields() {
    return std::tuple{DS_ATTR_FIELD(MaxPool2dAttrs, kernel_size), DS_ATTR_FIELD(MaxPool2dAttrs, stride),
                      DS_ATTR_FIELD(MaxPool2dAttrs, padding), DS_ATTR_FIELD(MaxPool2dAttrs, dilation),
                      DS_ATTR_FIELD(MaxPool2dAttrs, ceil_mode)};
  }
};

// ---- transformers: ops/defs/attention.cpp, layer_norm.cpp, cross_entropy.cpp
// scaled_dot_product_attention(_backward); with dropout, the Philox state is an input (ops/rng_input.h).
struct AttentionAttrs {
  static constexpr std::string_view kName = "AttentionAttrs";
  double scale = 1;
  bool is_causal = false;
  double dropout_p = 0;
  static constexpr auto fields() {
    return std::tuple{DS_ATTR_FIELD(AttentionAttrs, scale), DS_ATTR_FIELD(AttentionAttrs, is_causal),
                      DS_ATTR_FIELD(AttentionAttrs, dropout_p)};
  }
};
// layer_norm(_backward): normalised over the last normalized_dims dims.
struct LayerNormAttrs {
  static constexpr std::string_view kName = "LayerNormAttrs";
  double eps = 1e-5;
  int64_t normalized_dims = 1;
  static constexpr auto fields() {
    return std::tuple{DS_ATTR_FIELD(LayerNormAttrs, eps), DS_ATTR_FIELD(LayerNormAttrs, normalized_dims)};
  }
};
// softmax_cross_entropy(_backward).
struct CrossEntropyAttrs {
  static constexpr std::string_view kName = "CrossEntropyAttrs";
  int64_t ignore_index = -100;
  double label_smoothing = 0;
  static constexpr auto fields() {
    return std::tuple{DS_ATTR_FIELD(CrossEntropyAttrs, ignore_index),
                      DS_ATTR_FIELD(CrossEntropyAttrs, label_smoothing)};
  }
};

// ---- the fused optimizer update: ops/defs/optim.cpp. The learning rate and the step number are inputs.
struct AdamAttrs {
  static constexpr std::string_view kName = "AdamAttrs";
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
  bool decoupled = false, maximize = false;
  static constexpr auto fields() {
    return std::tuple{DS_ATTR_FIELD(AdamAttrs, beta1), DS_ATTR_FIELD(AdamAttrs, beta2), DS_ATTR_FIELD(AdamAttrs, eps),
                      DS_ATTR_FIELD(AdamAttrs, weight_decay), DS_ATTR_FIELD(AdamAttrs, decoupled),
                      DS_ATTR_FIELD(AdamAttrs, maximize)};
  }
};

// ---- control flow: ops/defs/control_flow.cpp. The bodies (branches, loop condition and body) are C++ objects, so
// the attribute is their number in the registry (ops/control_flow.h).
struct ControlFlowAttrs {
  static constexpr std::string_view kName = "ControlFlowAttrs";
  int64_t bodies = 0;
  static constexpr auto fields() { return std::tuple{DS_ATTR_FIELD(ControlFlowAttrs, bodies)}; }
};

// ---- views: ops/defs/view.cpp
// view (-1 infers one size), expand (-1 keeps a size).
struct ShapeAttrs {
  static constexpr std::string_view kName = "ShapeAttrs";
  Shape shape;
  static constexpr auto fields() { return std::tuple{DS_ATTR_FIELD(ShapeAttrs, shape)}; }
};
// slice: start and end already clamped by the front function.
struct SliceAttrs {
  static constexpr std::string_view kName = "SliceAttrs";
  int64_t dim = 0, start = 0, end = 0, step = 1;
  static constexpr auto fields() {
    return std::tuple{DS_ATTR_FIELD(SliceAttrs, dim), DS_ATTR_FIELD(SliceAttrs, start),
                      DS_ATTR_FIELD(SliceAttrs, end), DS_ATTR_FIELD(SliceAttrs, step)};
  }
};
struct SelectAttrs {
  static constexpr std::string_view kName = "SelectAttrs";
  int64_t dim = 0, index = 0;
  static constexpr auto fields() {
    return std::tuple{DS_ATTR_FIELD(SelectAttrs, dim), DS_ATTR_FIELD(SelectAttrs, index)};
  }
};
struct AsStridedAttrs {
  static constexpr std::string_view kName = "AsStridedAttrs";
  Shape sizes, strides;
  int64_t offset = 0;  // storage offset, in elements
  static constexpr auto fields() {
    return std::tuple{DS_ATTR_FIELD(AsStridedAttrs, sizes), DS_ATTR_FIELD(AsStridedAttrs, strides),
                      DS_ATTR_FIELD(AsStridedAttrs, offset)};
  }
};

#undef DS_ATTR_FIELD

}  // namespace ds
