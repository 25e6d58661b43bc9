#include "attrs.h"

#include <bit>
#include <functional>

#include <ds/core/detail/check.h>

namespace ds {

std::string attr_str(const Attr& a) {
  struct Visit {
    std::string operator()(NoneAttr) const { return "none"; }
    std::string operator()(int64_t v) const { return std::to_string(v); }
    std::string operator()(double v) const { return fmt::format("{}", v); }
    std::string operator()(bool v) const { return v ? "true" : "false"; }
    std::string operator()(const Shape& v) const { return shape_str(v); }
    std::string operator()(DType v) const { return std::string(dtype_name(v)); }
    std::string operator()(Device v) const { return v.str(); }
  };
  return std::visit(Visit{}, a);
}

namespace attr_detail {

size_t hash_attr(const Attr& a) {
  auto mix = [](size_t h, size_t v) { return h ^ (v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2)); };
  size_t h = a.index();
  struct Visit {
    size_t operator()(NoneAttr) const { return 0; }
    size_t operator()(int64_t v) const { return std::hash<int64_t>{}(v); }
    size_t operator()(double v) const { return std::hash<uint64_t>{}(std::bit_cast<uint64_t>(v)); }
    size_t operator()(bool v) const { return v; }
    size_t operator()(const Shape& v) const {
      size_t s = v.size();
      for (int64_t x : v) s = s * 1000003u + std::hash<int64_t>{}(x);
      return s;
    }
    size_t operator()(DType v) const { return static_cast<size_t>(v); }
    size_t operator()(Device v) const { return static_cast<size_t>(v.type) * 131u + static_cast<size_t>(v.index); }
  };
  return mix(h, std::visit(Visit{}, a));
}

}  // namespace attr_detail

void attrs_type_mismatch(const AttrSchema* have, const AttrSchema* want) {
  DS_FAIL("attrs", "internal error: attributes of type {} read as {}", have ? have->type_name : "(none)",
          want ? want->type_name : "(none)");
}

std::optional<Attr> Attrs::find(std::string_view name) const {
  for (size_t i = 0; i < size(); ++i)
    if (schema_->names[i] == name) return value(i);
  return std::nullopt;
}

Attrs Attrs::from_values(const AttrSchema& schema, std::span<const std::pair<std::string, Attr>> values) {
  Attrs a;
  schema.make_default(a.buf_);
  a.schema_ = &schema;
  for (const auto& [name, v] : values) {
    size_t i = 0;
    while (i < schema.names.size() && schema.names[i] != name) ++i;
    DS_CHECK(i < schema.names.size(), "attrs", "{} has no attribute '{}' (it has: {})", schema.type_name, name,
             fmt::join(schema.names, ", "));
    DS_CHECK(schema.set(a.buf_, i, v), "attrs", "attribute '{}' of {} cannot hold the value {}", name,
             schema.type_name, attr_str(v));
  }
  return a;
}

std::string Attrs::str() const {
  std::string s;
  for (size_t i = 0; i < size(); ++i) {
    if (i) s += ", ";
    s += std::string(name(i)) + "=" + attr_str(value(i));
  }
  return s;
}

size_t Attrs::hash() const {
  size_t h = reinterpret_cast<uintptr_t>(schema_);
  for (size_t i = 0; i < size(); ++i) h = h * 1000003u ^ attr_detail::hash_attr(value(i));
  return h;
}

}  // namespace ds
