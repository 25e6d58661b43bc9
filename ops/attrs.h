#pragma once
// Attrs: the attributes of one op call (dims, keepdim, eps, a fill value, ...) as a typed struct, one struct per kind
// of op (ops/op_attrs.h). Each struct lists its fields by name (`fields()`), which gives every struct, without code
// of its own, printing ("dims=[0, 2], keepdim=false"), equality and hashing (the compiler's CSE), and conversion to
// and from named values (serialisation). Kernels, rules and vjps read fields by name: `c.attrs.get<ReduceAttrs>()`.
//
// An Attrs holds one such struct inline (no heap allocation) behind its schema, a table of functions made once per
// struct type; the op's row names the schema it expects, and call_op refuses attributes of another type.
#include <array>
#include <cstddef>
#include <cstdint>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

#include <ds/core/device.h>
#include <ds/core/dtype.h>
#include <ds/core/shape.h>
#include <ds/ops/scalar.h>

namespace ds {

// One attribute value in a form that is printed and serialised: what each field converts to and from.
struct NoneAttr {
  bool operator==(const NoneAttr&) const = default;
};
using Attr = std::variant<NoneAttr, int64_t, double, bool, Shape, DType, Device>;
std::string attr_str(const Attr& a);

// A named field of an attributes struct S.
template <typename S, typename M>
struct AttrField {
  std::string_view name;
  M S::*member;
};
template <typename S, typename M>
constexpr AttrField<S, M> attr_field(std::string_view name, M S::*member) {
  return {name, member};
}

namespace attr_detail {

// Field types: int64_t, double, bool, Shape, DType, Device, Scalar, enums (as int64) and std::optional of these.
template <typename T> struct is_optional : std::false_type {};
template <typename T> struct is_optional<std::optional<T>> : std::true_type {};

template <typename F>
Attr to_attr(const F& v) {
  if constexpr (is_optional<F>::value) {
    return v ? to_attr(*v) : Attr(NoneAttr{});
  } else if constexpr (std::is_same_v<F, Scalar>) {
    return v.is_floating() ? Attr(v.to_double()) : v.is_bool() ? Attr(v.to_int() != 0) : Attr(v.to_int());
  } else if constexpr (std::is_enum_v<F> && !std::is_same_v<F, DType>) {
    return Attr(static_cast<int64_t>(v));
  } else {
    return Attr(v);
  }
}

// Sets v from a; false when a holds another type.
template <typename F>
bool from_attr(const Attr& a, F& v) {
  if constexpr (is_optional<F>::value) {
    if (std::holds_alternative<NoneAttr>(a)) {
      v.reset();
      return true;
    }
    typename F::value_type x{};
    if (!from_attr(a, x)) return false;
    v = std::move(x);
    return true;
  } else if constexpr (std::is_same_v<F, Scalar>) {
    if (auto* d = std::get_if<double>(&a)) v = Scalar(*d);
    else if (auto* i = std::get_if<int64_t>(&a)) v = Scalar(*i);
    else if (auto* b = std::get_if<bool>(&a)) v = Scalar(*b);
    else return false;
    return true;
  } else if constexpr (std::is_enum_v<F> && !std::is_same_v<F, DType>) {
    auto* i = std::get_if<int64_t>(&a);
    if (i) v = static_cast<F>(*i);
    return i != nullptr;
  } else if constexpr (std::is_same_v<F, double>) {  // an integer is accepted where a double is expected
    if (auto* i = std::get_if<int64_t>(&a)) {
      v = static_cast<double>(*i);
      return true;
    }
    auto* d = std::get_if<double>(&a);
    if (d) v = *d;
    return d != nullptr;
  } else {
    auto* p = std::get_if<F>(&a);
    if (p) v = *p;
    return p != nullptr;
  }
}

size_t hash_attr(const Attr& a);

}  // namespace attr_detail

// The table of functions an Attrs uses for its struct type.
struct AttrSchema {
  std::string_view type_name;                 // "ReduceAttrs"
  std::span<const std::string_view> names;    // the fields, in declaration order
  size_t size = 0, align = 0;
  void (*make_default)(void* p) = nullptr;
  void (*copy)(void* dst, const void* src) = nullptr;
  void (*move)(void* dst, void* src) = nullptr;
  void (*destroy)(void* p) = nullptr;
  bool (*equal)(const void* a, const void* b) = nullptr;
  Attr (*get)(const void* p, size_t field) = nullptr;
  bool (*set)(void* p, size_t field, const Attr& value) = nullptr;  // false: the value has the wrong type
};

namespace attr_detail {

template <typename T>
struct SchemaOf {
  static constexpr auto fields = T::fields();
  static constexpr size_t kCount = std::tuple_size_v<decltype(fields)>;
  static constexpr auto names =
      std::apply([](auto... f) { return std::array<std::string_view, sizeof...(f)>{f.name...}; }, fields);

  static Attr get(const void* p, size_t i) {
    const T& s = *static_cast<const T*>(p);
    Attr out;
    size_t k = 0;
    std::apply([&](auto... f) { ((k++ == i ? (void)(out = to_attr(s.*(f.member))) : (void)0), ...); }, fields);
    return out;
  }
  static bool set(void* p, size_t i, const Attr& a) {
    T& s = *static_cast<T*>(p);
    bool ok = false;
    size_t k = 0;
    std::apply([&](auto... f) { ((k++ == i ? (void)(ok = from_attr(a, s.*(f.member))) : (void)0), ...); }, fields);
    return ok;
  }
  static bool equal(const void* a, const void* b) {
    const T& x = *static_cast<const T*>(a);
    const T& y = *static_cast<const T*>(b);
    return std::apply([&](auto... f) { return ((to_attr(x.*(f.member)) == to_attr(y.*(f.member))) && ...); },
                      fields);
  }
  static constexpr AttrSchema make(std::string_view type_name) {
    return AttrSchema{
        .type_name = type_name,
        .names = std::span<const std::string_view>(names.data(), names.size()),
        .size = sizeof(T),
        .align = alignof(T),
        .make_default = [](void* p) { new (p) T(); },
        .copy = [](void* d, const void* s) { new (d) T(*static_cast<const T*>(s)); },
        .move = [](void* d, void* s) { new (d) T(std::move(*static_cast<T*>(s))); },
        .destroy = [](void* p) { static_cast<T*>(p)->~T(); },
        .equal = &equal,
        .get = &get,
        .set = &set,
    };
  }
};

}  // namespace attr_detail

// The schema of an attributes struct T (which declares `static constexpr std::string_view kName` and `fields()`).
template <typename T>
inline constexpr AttrSchema attrs_schema = attr_detail::SchemaOf<T>::make(T::kName);

[[noreturn]] void attrs_type_mismatch(const AttrSchema* have, const AttrSchema* want);

class Attrs {
 public:
  static constexpr size_t kCapacity = 320;  // the largest struct (conv2d's gradients: four shapes) fits inline

  Attrs() noexcept {}
  template <typename T, typename = decltype(T::fields()), typename = std::enable_if_t<!std::is_same_v<T, Attrs>>>
  Attrs(T value) : schema_(&attrs_schema<T>) {  // NOLINT: implicit, so a struct is passed where Attrs is expected
    static_assert(sizeof(T) <= kCapacity && alignof(T) <= alignof(std::max_align_t), "attributes struct too big");
    new (buf_) T(std::move(value));
  }
  Attrs(const Attrs& o) : schema_(o.schema_) {
    if (schema_) schema_->copy(buf_, o.buf_);
  }
  Attrs(Attrs&& o) noexcept : schema_(o.schema_) {
    if (schema_) schema_->move(buf_, o.buf_);
  }
  Attrs& operator=(const Attrs& o) {
    if (this != &o) {
      reset();
      schema_ = o.schema_;
      if (schema_) schema_->copy(buf_, o.buf_);
    }
    return *this;
  }
  Attrs& operator=(Attrs&& o) noexcept {
    if (this != &o) {
      reset();
      schema_ = o.schema_;
      if (schema_) schema_->move(buf_, o.buf_);
    }
    return *this;
  }
  ~Attrs() { reset(); }

  // The struct's schema; null for an op without attributes.
  const AttrSchema* schema() const { return schema_; }
  bool empty() const { return schema_ == nullptr; }

  // The struct, which must be a T (else an internal error naming both types).
  template <typename T>
  const T& get() const {
    if (schema_ != &attrs_schema<T>) [[unlikely]] attrs_type_mismatch(schema_, &attrs_schema<T>);
    return *std::launder(reinterpret_cast<const T*>(buf_));
  }
  template <typename T>
  const T* get_if() const {
    return schema_ == &attrs_schema<T> ? std::launder(reinterpret_cast<const T*>(buf_)) : nullptr;
  }

  // By name, for printing, serialisation and passes that treat every op alike.
  size_t size() const { return schema_ ? schema_->names.size() : 0; }
  std::string_view name(size_t i) const { return schema_->names[i]; }
  Attr value(size_t i) const { return schema_->get(buf_, i); }
  std::optional<Attr> find(std::string_view name) const;
  // Builds the struct of `schema` from named values (fields not given keep their defaults); throws a ds::Error
  // naming the field that is unknown or has the wrong type.
  static Attrs from_values(const AttrSchema& schema, std::span<const std::pair<std::string, Attr>> values);

  std::string str() const;  // "dims=[0, 2], keepdim=false"; "" when empty
  size_t hash() const;
  bool operator==(const Attrs& o) const {
    return schema_ == o.schema_ && (!schema_ || schema_->equal(buf_, o.buf_));
  }

 private:
  void reset() {
    if (schema_) schema_->destroy(buf_);
    schema_ = nullptr;
  }

  const AttrSchema* schema_ = nullptr;
  alignas(std::max_align_t) std::byte buf_[kCapacity];
};

}  // namespace ds
