#include "arena.h"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <numeric>

#include <ds/core/detail/check.h>

namespace ds::graph {

ArenaLayout lay_out(std::span<const Lifetime> storages, int64_t alignment) {
  DS_CHECK(alignment > 0 && (alignment & (alignment - 1)) == 0, "arena", "alignment {} is not a power of two",
           alignment);
  const size_t n = storages.size();
  ArenaLayout layout{std::vector<int64_t>(n, -1), 0};
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  // Largest first; ties by the earlier start, then by index, so the layout does not depend on the sort.
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const Lifetime &x = storages[a], &y = storages[b];
    if (x.bytes != y.bytes) return x.bytes > y.bytes;
    if (x.begin != y.begin) return x.begin < y.begin;
    return a < b;
  });
  std::vector<size_t> placed;
  std::vector<std::pair<int64_t, int64_t>> taken;  // [offset, end) of the placed storages that meet this one
  for (size_t i : order) {
    const Lifetime& s = storages[i];
    const int64_t bytes = (s.bytes + alignment - 1) / alignment * alignment;
    taken.clear();
    for (size_t j : placed)
      if (storages[j].begin <= s.end && s.begin <= storages[j].end)
        taken.emplace_back(layout.offsets[j], layout.offsets[j] + (storages[j].bytes + alignment - 1) / alignment *
                                                                     alignment);
    std::sort(taken.begin(), taken.end());
    int64_t at = 0;  // the lowest gap that fits
    for (const auto& [lo, hi] : taken) {
      if (lo - at >= bytes) break;
      at = std::max(at, hi);
    }
    layout.offsets[i] = at;
    layout.bytes = std::max(layout.bytes, at + bytes);
    placed.push_back(i);
  }
  return layout;
}

namespace {

// Bytes alive at each node, from intervals [begin, end] (end capped at num_nodes).
struct Timeline {
  std::vector<int64_t> delta;
  explicit Timeline(int32_t num_nodes) : delta(static_cast<size_t>(num_nodes) + 2, 0) {}
  void add(int32_t begin, int32_t end, int64_t bytes) {
    const int32_t last = static_cast<int32_t>(delta.size()) - 2;
    delta[static_cast<size_t>(std::min(begin, last))] += bytes;
    delta[static_cast<size_t>(std::min(std::max(end, begin), last)) + 1] -= bytes;
  }
  int64_t peak() const {
    int64_t live = 0, most = 0;
    for (int64_t d : delta) most = std::max(most, live += d);
    return most;
  }
  int32_t peak_at() const {
    int64_t live = 0, most = -1;
    int32_t at = 0;
    for (size_t i = 0; i < delta.size(); ++i)
      if ((live += delta[i]) > most) most = live, at = static_cast<int32_t>(i);
    return at;
  }
};

// Bytes alive at each node with p's arenas: each whole over its span, the candidates outside arenas and `others`
// over their own lifetimes.
Timeline timeline(const PhasedArenas& p, std::span<const Lifetime> candidates, std::span<const Lifetime> others,
                  int32_t num_nodes) {
  Timeline t(num_nodes);
  for (const Lifetime& l : others) t.add(l.begin, l.end, l.bytes);
  for (size_t i = 0; i < candidates.size(); ++i)
    if (p.arena[i] < 0) t.add(candidates[i].begin, candidates[i].end, candidates[i].bytes);
  for (const Lifetime& s : p.arena_span)
    if (s.bytes > 0) t.add(s.begin, s.end, s.bytes);
  return t;
}

PhasedArenas phased(std::span<const Lifetime> candidates, std::span<const int32_t> keys,
                    std::span<const Lifetime> others, int32_t num_nodes, int phases) {
  const int32_t length = std::max<int32_t>(1, (num_nodes + phases - 1) / phases);
  PhasedArenas p;
  p.phases = phases;
  p.arena.assign(candidates.size(), -1);
  p.offsets.assign(candidates.size(), -1);
  std::vector<std::pair<int64_t, int32_t>> arena_of;  // (phase, key) per arena
  std::vector<std::vector<size_t>> members;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const Lifetime& l = candidates[i];
    const int32_t phase = l.begin / length;
    if (std::max(l.end, l.begin) / length != phase) continue;
    const std::pair<int64_t, int32_t> id{phase, keys[i]};
    auto it = std::find(arena_of.begin(), arena_of.end(), id);
    if (it == arena_of.end()) {
      arena_of.push_back(id);
      members.emplace_back();
      it = arena_of.end() - 1;
    }
    const auto a = static_cast<size_t>(it - arena_of.begin());
    members[a].push_back(i);
    p.arena[i] = static_cast<int32_t>(a);
  }
  std::vector<Lifetime> mine;
  for (size_t a = 0; a < members.size(); ++a) {
    mine.clear();
    Lifetime span{INT32_MAX, -1, 0};
    for (size_t i : members[a]) {
      mine.push_back(candidates[i]);
      span.begin = std::min(span.begin, candidates[i].begin);
      span.end = std::max(span.end, candidates[i].end);
    }
    const ArenaLayout layout = lay_out(mine);
    for (size_t k = 0; k < members[a].size(); ++k) p.offsets[members[a][k]] = layout.offsets[k];
    p.arena_key.push_back(arena_of[a].second);
    p.arena_bytes.push_back(layout.bytes);
    p.arena_span.push_back({span.begin, span.end, layout.bytes});
  }
  p.peak = timeline(p, candidates, others, num_nodes).peak();
  return p;
}

// Gives the arena alive at the predicted peak back to one-by-one allocation (the largest, if several) until the
// peak is no higher than without arenas; then numbers the arenas left from 0.
void drop_arenas_above(PhasedArenas& p, std::span<const Lifetime> candidates, std::span<const Lifetime> others,
                       int32_t num_nodes, int64_t without) {
  while (p.peak > without) {
    const Timeline t = timeline(p, candidates, others, num_nodes);
    const int32_t at = t.peak_at();
    int32_t worst = -1;
    for (size_t a = 0; a < p.arena_span.size(); ++a) {
      const Lifetime& s = p.arena_span[a];
      const bool larger = worst < 0 || s.bytes > p.arena_span[static_cast<size_t>(worst)].bytes;
      if (s.bytes > 0 && s.begin <= at && at <= s.end && larger) worst = static_cast<int32_t>(a);
    }
    if (worst < 0) break;
    for (size_t i = 0; i < p.arena.size(); ++i)
      if (p.arena[i] == worst) p.arena[i] = -1, p.offsets[i] = -1;
    p.arena_span[static_cast<size_t>(worst)].bytes = 0;
    p.peak = timeline(p, candidates, others, num_nodes).peak();
  }
  std::vector<int32_t> renumbered(p.arena_span.size(), -1);
  PhasedArenas kept = p;
  kept.arena_key.clear(), kept.arena_bytes.clear(), kept.arena_span.clear();
  for (size_t a = 0; a < p.arena_span.size(); ++a) {
    if (p.arena_span[a].bytes == 0) continue;
    renumbered[a] = static_cast<int32_t>(kept.arena_span.size());
    kept.arena_key.push_back(p.arena_key[a]);
    kept.arena_bytes.push_back(p.arena_bytes[a]);
    kept.arena_span.push_back(p.arena_span[a]);
  }
  for (int32_t& a : kept.arena)
    if (a >= 0) a = renumbered[static_cast<size_t>(a)];
  p = std::move(kept);
}

void release_block(void*, void* block) { delete static_cast<IntrusivePtr<Storage>*>(block); }

}  // namespace

int64_t peak_bytes(std::span<const Lifetime> storages, int32_t num_nodes) {
  Timeline t(num_nodes);
  for (const Lifetime& l : storages)
    if (l.bytes > 0 && l.end >= l.begin) t.add(l.begin, l.end, l.bytes);
  return t.peak();
}

PhasedArenas lay_out_in_phases(std::span<const Lifetime> candidates, std::span<const int32_t> keys,
                               std::span<const Lifetime> others, int32_t num_nodes) {
  DS_CHECK(keys.size() == candidates.size(), "arena", "{} keys for {} candidates", keys.size(), candidates.size());
  Timeline without(num_nodes);
  for (const Lifetime& l : others) without.add(l.begin, l.end, l.bytes);
  for (const Lifetime& l : candidates) without.add(l.begin, l.end, l.bytes);
  std::vector<PhasedArenas> tried;
  for (int k = 1; k <= 64 && (k == 1 || k <= num_nodes); k *= 2) tried.push_back(phased(candidates, keys, others,
                                                                                        num_nodes, k));
  int64_t lowest = tried.front().peak;
  for (const PhasedArenas& p : tried) lowest = std::min(lowest, p.peak);
  for (PhasedArenas& p : tried)
    if (p.peak == lowest) {
      p.peak_without = without.peak();
      drop_arenas_above(p, candidates, others, num_nodes, p.peak_without);
      return std::move(p);
    }
  return {};  // not reached: the lowest is among those tried
}

Tensor tensor_in_block(const IntrusivePtr<Storage>& block, int64_t offset, DType dtype, const Shape& sizes) {
  Shape strides(sizes.size());
  int64_t n = 1;
  for (size_t i = sizes.size(); i-- > 0;) {
    strides[i] = n;
    n *= std::max<int64_t>(sizes[i], 1);
  }
  const auto bytes = static_cast<size_t>(n) * itemsize(dtype);
  DS_CHECK(offset >= 0 && static_cast<size_t>(offset) + bytes <= block->nbytes(), "arena", "a tensor of {} bytes "
           "at offset {} does not fit in a block of {} bytes", bytes, offset, block->nbytes());
  auto storage = IntrusivePtr<Storage>::make(static_cast<char*>(block->data()) + offset, bytes, block->device(),
                                             &release_block, new IntrusivePtr<Storage>(block));
  return Tensor(IntrusivePtr<TensorImpl>::make(std::move(storage), dtype, sizes, std::move(strides), 0));
}

}  // namespace ds::graph
