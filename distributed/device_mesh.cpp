#include "device_mesh.h"

#include <set>

#include <ds/core/detail/check.h>

namespace ds::dist {

DeviceMesh::DeviceMesh(ProcessGroupPtr parent, std::vector<std::pair<std::string, int>> dims)
    : parent_(std::move(parent)), dims_(std::move(dims)) {
  DS_CHECK(parent_ != nullptr, "DeviceMesh", "the parent group is null (not a member?)");
  DS_CHECK(!dims_.empty(), "DeviceMesh", "a mesh needs at least one dimension");
  int64_t product = 1;
  std::set<std::string> names;
  std::string listing;
  for (const auto& [name, n] : dims_) {
    DS_CHECK(!name.empty() && names.insert(name).second, "DeviceMesh", "dimension names must be distinct and "
             "non-empty; '{}' is not", name);
    DS_CHECK(n >= 1, "DeviceMesh", "dimension '{}' has size {}", name, n);
    product *= n;
    listing += fmt::format("{}{}={}", listing.empty() ? "" : " x ", name, n);
  }
  DS_CHECK(product == parent_->size(), "DeviceMesh", "{} makes {} ranks, but group '{}' has {}", listing, product,
           parent_->name(), parent_->size());
  // Row-major coordinates of this rank.
  coords_.resize(dims_.size());
  int r = parent_->rank();
  for (size_t d = dims_.size(); d-- > 0;) {
    coords_[d] = r % dims_[d].second;
    r /= dims_[d].second;
  }
  // Along each dim, color = the linear index of the other coordinates, key = the coordinate on dim.
  for (size_t d = 0; d < dims_.size(); ++d) {
    int color = 0;
    for (size_t e = 0; e < dims_.size(); ++e)
      if (e != d) color = color * dims_[e].second + coords_[e];
    groups_.push_back(parent_->split(color, coords_[d], dims_[d].first));
  }
}

size_t DeviceMesh::index(const std::string& dim) const {
  for (size_t d = 0; d < dims_.size(); ++d)
    if (dims_[d].first == dim) return d;
  std::string names;
  for (const auto& [n, s] : dims_) names += (names.empty() ? "" : ", ") + n;
  DS_FAIL("DeviceMesh", "no dimension '{}' (the mesh has {})", dim, names);
}

int DeviceMesh::rank_at(const std::vector<int>& coords) const {
  DS_CHECK(coords.size() == dims_.size(), "DeviceMesh", "{} coordinates for a mesh of {} dimensions", coords.size(),
           dims_.size());
  int r = 0;
  for (size_t d = 0; d < dims_.size(); ++d) {
    DS_CHECK(coords[d] >= 0 && coords[d] < dims_[d].second, "DeviceMesh", "coordinate {} is out of range for '{}' "
             "(size {})", coords[d], dims_[d].first, dims_[d].second);
    r = r * dims_[d].second + coords[d];
  }
  return r;
}

std::string DeviceMesh::str() const {
  std::string s = "DeviceMesh(";
  for (size_t d = 0; d < dims_.size(); ++d) s += fmt::format("{}{}={}", d ? ", " : "", dims_[d].first, dims_[d].second);
  return s + fmt::format("; rank {} at ({}))", parent_->rank(), fmt::join(coords_, ", "));
}

}  // namespace ds::dist
