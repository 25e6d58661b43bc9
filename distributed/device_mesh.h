#pragma once
// DeviceMesh: the world's ranks laid out on named dimensions (torch's init_device_mesh), e.g. dp x tp x pp, with a
// process group along each dimension. Rank r sits at the row-major coordinates of r (the last dimension varies
// fastest: with {dp 2, tp 2}, ranks 0 and 1 share a tensor-parallel group, ranks 0 and 2 a data-parallel one).
#include <string>
#include <utility>
#include <vector>

#include <ds/distributed/process_group.h>

namespace ds::dist {

class DeviceMesh {
 public:
  // dims: names and sizes whose product is the parent group's size. Collective over the parent (every member builds
  // the same mesh); names must be distinct and non-empty, sizes >= 1.
  DeviceMesh(ProcessGroupPtr parent, std::vector<std::pair<std::string, int>> dims);

  int ndim() const { return static_cast<int>(dims_.size()); }
  const std::vector<std::pair<std::string, int>>& dims() const { return dims_; }
  int size(const std::string& dim) const { return dims_[index(dim)].second; }
  // This rank's coordinate along dim.
  int coordinate(const std::string& dim) const { return coords_[index(dim)]; }
  const std::vector<int>& coordinates() const { return coords_; }
  // The group of the ranks that differ from this one only along dim (named "<dim>", of size size(dim), where this
  // rank's group rank is coordinate(dim)).
  const ProcessGroupPtr& group(const std::string& dim) const { return groups_[index(dim)]; }
  // The parent group's rank at these coordinates.
  int rank_at(const std::vector<int>& coords) const;
  const ProcessGroupPtr& parent() const { return parent_; }
  // "DeviceMesh(dp=2, tp=2; rank 3 at (1, 1))".
  std::string str() const;

 private:
  size_t index(const std::string& dim) const;

  ProcessGroupPtr parent_;
  std::vector<std::pair<std::string, int>> dims_;
  std::vector<int> coords_;
  std::vector<ProcessGroupPtr> groups_;
};

}  // namespace ds::dist
