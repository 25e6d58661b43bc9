#pragma once
// Attrs: the typed attributes of one op call (dims, keepdim, eps, a fill value, ...), stored inline in call order.
// The row's schema gives their names, for errors, printing and (later) serialisation.
#include <cstdint>
#include <variant>

#include <ds/core/device.h>
#include <ds/core/dtype.h>
#include <ds/core/shape.h>

namespace ds {

struct NoneAttr {
  bool operator==(const NoneAttr&) const = default;
};
using Attr = std::variant<NoneAttr, int64_t, double, bool, Shape, DType, Device>;

class Attrs {
 public:
  Attrs() {}  // user-provided, so value-initialisation (Attrs{}) does not zero the inline storage
  Attrs(std::initializer_list<Attr> il) : items_(il) {}

  size_t size() const { return items_.size(); }
  const Attr& operator[](size_t i) const { return items_[i]; }
  void push(Attr a) { items_.push_back(std::move(a)); }

  int64_t i(size_t k) const { return std::get<int64_t>(items_[k]); }
  double f(size_t k) const { return std::get<double>(items_[k]); }
  bool b(size_t k) const { return std::get<bool>(items_[k]); }
  const Shape& ints(size_t k) const { return std::get<Shape>(items_[k]); }
  DType dtype(size_t k) const { return std::get<DType>(items_[k]); }
  Device device(size_t k) const { return std::get<Device>(items_[k]); }
  bool is_none(size_t k) const { return k >= items_.size() || std::holds_alternative<NoneAttr>(items_[k]); }

 private:
  SmallVec<Attr, 4> items_;
};

}  // namespace ds
