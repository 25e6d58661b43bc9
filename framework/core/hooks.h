#pragma once
// Hook lists that hand out removable handles (torch's RemovableHandle): a tensor's gradient hooks, a graph node's
// output hooks and a leaf's post-accumulate-grad hooks all live in one of these.
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

namespace ds {

namespace detail {
class HookListBase {
 public:
  virtual ~HookListBase() = default;
  virtual void remove(uint64_t id) = 0;
};
}  // namespace detail

// Removes the hook it was returned for; removing twice, or after the tensor or node is gone, does nothing. Dropping
// the handle keeps the hook (as in PyTorch).
class RemovableHandle {
 public:
  RemovableHandle() = default;
  RemovableHandle(std::weak_ptr<detail::HookListBase> list, uint64_t id) : list_(std::move(list)), id_(id) {}
  void remove() {
    if (auto l = list_.lock()) l->remove(id_);
    list_.reset();
  }

 private:
  std::weak_ptr<detail::HookListBase> list_;
  uint64_t id_ = 0;
};

// Hooks in the order they were added. A hook removed while the list is being walked (from inside a hook) is
// skipped from then on, never called after remove() returns.
template <typename Fn>
class HookList final : public detail::HookListBase, public std::enable_shared_from_this<HookList<Fn>> {
 public:
  RemovableHandle add(Fn fn) {
    compact();
    entries_.push_back({next_id_, std::move(fn)});
    return RemovableHandle(this->weak_from_this(), next_id_++);
  }
  void remove(uint64_t id) override {
    for (auto& e : entries_)
      if (e.first == id && e.second) {
        e.second = nullptr;
        ++removed_;
      }
  }
  bool empty() const { return entries_.size() == removed_; }
  // Calls f(hook) for every live hook; hooks added meanwhile are not visited in this walk.
  template <typename F>
  void for_each(F&& f) {
    ++walking_;
    struct Done {
      int& w;
      ~Done() { --w; }
    } done{walking_};
    const size_t n = entries_.size();
    for (size_t i = 0; i < n; ++i) {
      if (!entries_[i].second) continue;
      Fn fn = entries_[i].second;  // a copy: a hook that adds hooks may reallocate the list under it
      f(fn);
    }
  }

 private:
  void compact() {
    if (walking_ > 0 || removed_ * 2 < entries_.size() + 1) return;
    std::erase_if(entries_, [](const auto& e) { return !e.second; });
    removed_ = 0;
  }
  std::vector<std::pair<uint64_t, Fn>> entries_;
  uint64_t next_id_ = 1;
  size_t removed_ = 0;
  int walking_ = 0;
};

template <typename Fn>
std::shared_ptr<HookList<Fn>> make_hook_list() {
  return std::make_shared<HookList<Fn>>();
}

}  // namespace ds
