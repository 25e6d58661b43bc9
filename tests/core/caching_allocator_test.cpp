// The caching device allocator's policy over a host-memory fake of the device: rounding, pools and segment sizes,
// best fit, splitting, coalescing, per-stream reuse, statistics, empty_cache and the out-of-memory path.
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>

#include <catch2/catch.hpp>

#include <ds/core/caching_allocator.h>
#include <ds/core/error.h>

using namespace ds;

namespace {

constexpr size_t kKiB = 1024, kMiB = 1024 * 1024;

// Host memory standing in for the device: counts what is reserved and can be capped to simulate a full GPU.
struct FakeDevice {
  std::map<void*, size_t> segments;  // live segments
  size_t limit = SIZE_MAX;           // reserve() fails beyond this many bytes held
  size_t held = 0;
  int reserves = 0, releases = 0;
  StreamId stream = 0;
};

class FakeMemory final : public DeviceMemory {
 public:
  explicit FakeMemory(FakeDevice* d) : d_(d) {}
  void* reserve(size_t n) override {
    if (d_->held + n > d_->limit) return nullptr;
    void* p = std::aligned_alloc(512, n);
    REQUIRE(p != nullptr);
    d_->segments[p] = n;
    d_->held += n;
    d_->reserves += 1;
    return p;
  }
  void release(void* p, size_t n) override {
    REQUIRE(d_->segments.count(p) == 1);
    CHECK(d_->segments[p] == n);  // segments come back whole, at the size they were reserved with
    d_->segments.erase(p);
    d_->held -= n;
    d_->releases += 1;
    std::free(p);
  }
  StreamId current_stream() const override { return d_->stream; }
  Device device() const override { return kCUDA; }
  void fill(void* p, size_t n, uint8_t byte) override { std::memset(p, byte, n); }

 private:
  FakeDevice* d_;
};

struct Fixture {
  FakeDevice dev;
  CachingAllocator alloc{std::make_unique<FakeMemory>(&dev)};
  char* get(size_t n, StreamId s = 0) { return static_cast<char*>(alloc.allocate(n, s)); }
};

}  // namespace

TEST_CASE("caching allocator: sizes round to 512 bytes and pools pick their segment size", "[allocator]") {
  CHECK(CachingAllocator::round_size(1) == 512);
  CHECK(CachingAllocator::round_size(512) == 512);
  CHECK(CachingAllocator::round_size(513) == 1024);
  CHECK(CachingAllocator::round_size(kMiB + 1) == kMiB + 512);
  CHECK(CachingAllocator::segment_size(512) == 2 * kMiB);
  CHECK(CachingAllocator::segment_size(kMiB) == 2 * kMiB);        // the small pool ends at 1 MiB
  CHECK(CachingAllocator::segment_size(kMiB + 512) == 20 * kMiB);  // medium requests share 20 MiB segments
  CHECK(CachingAllocator::segment_size(10 * kMiB - 512) == 20 * kMiB);
  CHECK(CachingAllocator::segment_size(10 * kMiB) == 10 * kMiB);  // large ones get their own, rounded to 2 MiB
  CHECK(CachingAllocator::segment_size(11 * kMiB) == 12 * kMiB);
}

TEST_CASE("caching allocator: small requests are carved from one 2 MiB segment, back to back", "[allocator]") {
  Fixture f;
  char* a = f.get(100);
  char* b = f.get(700);
  char* c = f.get(512);
  CHECK(f.dev.reserves == 1);
  CHECK(f.dev.held == 2 * kMiB);
  CHECK(b == a + 512);
  CHECK(c == b + 1024);
  const MemoryStats s = f.alloc.stats();
  CHECK(s.live_bytes == 100 + 700 + 512);
  CHECK(s.reserved_bytes == int64_t(2 * kMiB));
  CHECK(s.cached_bytes == int64_t(2 * kMiB - 2048));
  CHECK(s.num_allocs == 3);
  CHECK(s.num_segments == 1);
  CHECK(s.num_os_allocs == 1);
  f.alloc.deallocate(a, 100);
  f.alloc.deallocate(b, 700);
  f.alloc.deallocate(c, 512);
  CHECK(f.alloc.stats().num_frees == 3);
  CHECK(f.alloc.stats().live_bytes == 0);
}

TEST_CASE("caching allocator: a freed block is reused without asking the device", "[allocator]") {
  Fixture f;
  char* a = f.get(5000);
  f.alloc.deallocate(a, 5000);
  for (int i = 0; i < 100; ++i) {
    char* p = f.get(5000);
    CHECK(p == a);
    f.alloc.deallocate(p, 5000);
  }
  CHECK(f.dev.reserves == 1);
  CHECK(f.alloc.stats().num_allocs == 101);
  CHECK(f.alloc.stats().cached_bytes == int64_t(2 * kMiB));
}

TEST_CASE("caching allocator: best fit takes the smallest free block that fits", "[allocator]") {
  Fixture f;
  // Free blocks of 4 KiB, 1 KiB and 2 KiB, separated by live ones so that they cannot merge.
  char* big = f.get(4 * kKiB);
  char* sep1 = f.get(512);
  char* small = f.get(kKiB);
  char* sep2 = f.get(512);
  char* mid = f.get(2 * kKiB);
  char* sep3 = f.get(512);
  f.alloc.deallocate(big, 4 * kKiB);
  f.alloc.deallocate(small, kKiB);
  f.alloc.deallocate(mid, 2 * kKiB);
  CHECK(f.get(kKiB) == small);
  CHECK(f.get(1500) == mid);  // rounds to 1536: the 2 KiB block, split; 4 KiB stays whole
  CHECK(f.get(4 * kKiB) == big);
  (void)sep1, (void)sep2, (void)sep3;
}

TEST_CASE("caching allocator: splitting leaves the remainder free and in the pool", "[allocator]") {
  Fixture f;
  char* a = f.get(8 * kKiB);
  f.alloc.deallocate(a, 8 * kKiB);  // merges back into the whole 2 MiB segment
  char* b = f.get(kKiB);
  char* c = f.get(kKiB);
  CHECK(b == a);
  CHECK(c == a + kKiB);  // the split remainder starts right after the first piece
  CHECK(f.dev.reserves == 1);
}

TEST_CASE("caching allocator: freed neighbours coalesce, whatever the order of the frees", "[allocator]") {
  for (int order = 0; order < 3; ++order) {
    Fixture f;
    char* a = f.get(kKiB);
    char* b = f.get(kKiB);
    char* c = f.get(kKiB);
    char* d = f.get(kKiB);  // keeps the tail of the segment separate from a..c
    char* ptrs[3] = {a, b, c};
    const int perm[3][3] = {{0, 1, 2}, {2, 1, 0}, {0, 2, 1}};  // middle last merges both sides at once
    for (int i : perm[order]) f.alloc.deallocate(ptrs[i], kKiB);
    INFO("order " << order);
    CHECK(f.get(3 * kKiB) == a);  // one 3 KiB hole again, at a
    f.alloc.deallocate(d, kKiB);
    f.alloc.empty_cache();
    CHECK(f.dev.releases == 0);  // the 3 KiB block is still allocated: the segment stays
  }
}

TEST_CASE("caching allocator: a fully freed segment is one block again and empty_cache returns it", "[allocator]") {
  Fixture f;
  char* p[10];
  for (auto& q : p) q = f.get(3000);
  for (int i : {1, 3, 5, 7, 9, 0, 2, 4, 6, 8}) f.alloc.deallocate(p[i], 3000);
  CHECK(f.alloc.stats().cached_bytes == int64_t(2 * kMiB));
  f.alloc.empty_cache();
  CHECK(f.dev.releases == 1);
  CHECK(f.dev.segments.empty());
  const MemoryStats s = f.alloc.stats();
  CHECK(s.reserved_bytes == 0);
  CHECK(s.cached_bytes == 0);
  CHECK(s.num_segments == 0);
  CHECK(s.peak_reserved_bytes == int64_t(2 * kMiB));
}

TEST_CASE("caching allocator: empty_cache keeps segments that hold live blocks", "[allocator]") {
  Fixture f;
  char* small = f.get(kKiB);
  char* large = f.get(3 * kMiB);  // a 20 MiB segment
  char* huge = f.get(30 * kMiB);  // a segment of its own
  CHECK(f.dev.reserves == 3);
  CHECK(f.alloc.stats().reserved_bytes == int64_t(2 * kMiB + 20 * kMiB + 30 * kMiB));
  f.alloc.deallocate(huge, 30 * kMiB);
  f.alloc.empty_cache();
  CHECK(f.dev.releases == 1);
  CHECK(f.alloc.stats().reserved_bytes == int64_t(22 * kMiB));
  CHECK(f.alloc.stats().live_bytes == int64_t(kKiB + 3 * kMiB));
  f.alloc.deallocate(small, kKiB);
  f.alloc.deallocate(large, 3 * kMiB);
  f.alloc.empty_cache();
  CHECK(f.dev.segments.empty());
}

TEST_CASE("caching allocator: with poisoning on, every block handed out is filled first, reused ones too", "[allocator]") {
  Fixture f;
  char* a = f.get(1000);
  std::memset(a, 0, 1000);
  f.alloc.deallocate(a, 1000);
  f.alloc.set_poison(0xff);
  char* b = f.get(1000);
  REQUIRE(b == a);  // the cached block, filled again
  for (int i = 0; i < 1000; ++i) REQUIRE(static_cast<unsigned char>(b[i]) == 0xff);
  f.alloc.deallocate(b, 1000);
  f.alloc.set_poison(std::nullopt);
  std::memset(a, 7, 1000);
  char* c = f.get(1000);
  CHECK(c[0] == 7);  // off again: the bytes are left as they were
  f.alloc.deallocate(c, 1000);
}

TEST_CASE("caching allocator: small and large pools never share segments", "[allocator]") {
  Fixture f;
  char* m = f.get(2 * kMiB);  // large pool: a 20 MiB segment with 18 MiB free after it
  f.alloc.deallocate(m, 2 * kMiB);
  char* s = f.get(kKiB);  // small pool: must not be carved from the free 20 MiB
  CHECK(f.dev.reserves == 2);
  CHECK((s < m || s >= m + 20 * kMiB));
  f.alloc.deallocate(s, kKiB);
}

TEST_CASE("caching allocator: large blocks split only when more than 1 MiB would remain", "[allocator]") {
  Fixture f;
  char* a = f.get(19 * kMiB);  // from a 20 MiB segment: 1 MiB remains, too little to split off
  char* b = f.get(2 * kMiB);
  CHECK(f.dev.reserves == 2);
  CHECK(f.alloc.stats().cached_bytes == int64_t(20 * kMiB + 20 * kMiB - 19 * kMiB - 2 * kMiB - kMiB));
  f.alloc.deallocate(a, 19 * kMiB);
  char* c = f.get(3 * kMiB);  // best fit: the 18 MiB remainder of b's segment, not a's 20 MiB block
  CHECK(c == b + 2 * kMiB);
  f.alloc.deallocate(b, 2 * kMiB);
  f.alloc.deallocate(c, 3 * kMiB);
}

TEST_CASE("caching allocator: blocks freed on a stream are reused on that stream only", "[allocator]") {
  Fixture f;
  const StreamId s1 = 0x1000, s2 = 0x2000;
  char* a = f.get(kKiB, s1);
  f.alloc.deallocate(a, kKiB);
  char* b = f.get(kKiB, s2);  // s1's cached block may still be in use by s1's queued work
  CHECK(f.dev.reserves == 2);
  CHECK(b != a);
  char* c = f.get(kKiB, s1);
  CHECK(c == a);
  f.alloc.deallocate(b, kKiB);
  f.alloc.deallocate(c, kKiB);
  // allocate(n) uses the backend's current stream.
  f.dev.stream = s2;
  CHECK(static_cast<char*>(f.alloc.allocate(kKiB)) == b);
  f.alloc.deallocate(b, kKiB);
}

TEST_CASE("caching allocator: peaks follow the high-water mark until reset_peak", "[allocator]") {
  Fixture f;
  char* a = f.get(30 * kMiB);
  char* b = f.get(kKiB);
  f.alloc.deallocate(a, 30 * kMiB);
  f.alloc.empty_cache();
  MemoryStats s = f.alloc.stats();
  CHECK(s.live_bytes == int64_t(kKiB));
  CHECK(s.peak_bytes == int64_t(30 * kMiB + kKiB));
  CHECK(s.reserved_bytes == int64_t(2 * kMiB));
  CHECK(s.peak_reserved_bytes == int64_t(32 * kMiB));
  f.alloc.reset_peak();
  s = f.alloc.stats();
  CHECK(s.peak_bytes == int64_t(kKiB));
  CHECK(s.peak_reserved_bytes == int64_t(2 * kMiB));
  f.alloc.deallocate(b, kKiB);
}

TEST_CASE("caching allocator: zero bytes give a null pointer and freeing null is a no-op", "[allocator]") {
  Fixture f;
  CHECK(f.alloc.allocate(0) == nullptr);
  f.alloc.deallocate(nullptr, 0);
  CHECK(f.dev.reserves == 0);
  CHECK(f.alloc.stats().num_allocs == 0);
}

TEST_CASE("caching allocator: out of memory releases the cache, retries, then names the request", "[allocator]") {
  Fixture f;
  f.dev.limit = 24 * kMiB;
  const StreamId s2 = 0x2000;
  char* a = f.get(3 * kMiB);  // a 20 MiB segment on the default stream
  f.alloc.deallocate(a, 3 * kMiB);
  // On another stream the cached block is out of reach and 20 + 20 > 24 MiB: the cached segment goes back to the
  // device and the retry succeeds.
  char* b = f.get(3 * kMiB, s2);
  CHECK(f.dev.releases == 1);
  CHECK(f.dev.reserves == 2);
  CHECK(f.alloc.stats().reserved_bytes == int64_t(20 * kMiB));
  // 18 MiB fits neither b's 17 MiB remainder nor beside b's segment, and nothing cached is whole: the error.
  try {
    f.get(18 * kMiB, s2);
    FAIL("expected an out-of-memory error");
  } catch (const Error& e) {
    const std::string msg = e.what();
    CHECK(e.op() == "cuda_allocator");
    CHECK_THAT(msg, Catch::Contains("out of memory on cuda:0 allocating 18874368 bytes"));
    CHECK_THAT(msg, Catch::Contains("allocated 3.0 MiB (peak 3.0 MiB)"));
    CHECK_THAT(msg, Catch::Contains("reserved 20.0 MiB (peak 20.0 MiB), cached 17.0 MiB, 1 segments"));
  }
  CHECK(f.dev.releases == 1);  // b's segment holds a live block: it was not released
  // The failure leaves the allocator usable and its books straight.
  CHECK(f.alloc.stats().live_bytes == int64_t(3 * kMiB));
  CHECK(f.alloc.stats().num_allocs == 2);
  f.alloc.deallocate(b, 3 * kMiB);
  char* c = f.get(18 * kMiB, s2);  // b's segment is whole again: best fit, split, no new segment
  CHECK(c == b);
  CHECK(f.dev.reserves == 2);
  f.alloc.deallocate(c, 18 * kMiB);
}

TEST_CASE("caching allocator: fragmentation is undone when the pieces come back", "[allocator]") {
  Fixture f;
  // Fill one 20 MiB segment with 16 blocks of 1.25 MiB (20 MiB exactly), free every other one.
  const size_t piece = kMiB + kMiB / 4;
  std::vector<char*> p;
  for (int i = 0; i < 16; ++i) p.push_back(f.get(piece));
  CHECK(f.dev.reserves == 1);
  for (int i = 0; i < 16; i += 2) f.alloc.deallocate(p[i], piece);
  // 10 MiB of holes, none bigger than 1.25 MiB: a 2.5 MiB request needs a new segment.
  char* q = f.get(2 * piece);
  CHECK(f.dev.reserves == 2);
  f.alloc.deallocate(q, 2 * piece);
  for (int i = 1; i < 16; i += 2) f.alloc.deallocate(p[i], piece);
  // Now the first segment is whole again: 20 MiB fits without a third segment.
  char* whole = f.get(20 * kMiB - kMiB / 2);
  CHECK(f.dev.reserves == 2);
  CHECK((whole == p[0] || whole == q));
  f.alloc.deallocate(whole, 20 * kMiB - kMiB / 2);
  f.alloc.empty_cache();
  CHECK(f.dev.segments.empty());
  CHECK(f.alloc.stats().num_allocs == 18);
  CHECK(f.alloc.stats().num_frees == 18);
}

TEST_CASE("caching allocator: the destructor gives every segment back", "[allocator]") {
  FakeDevice dev;
  {
    CachingAllocator a(std::make_unique<FakeMemory>(&dev));
    void* p = a.allocate(kKiB);
    a.allocate(15 * kMiB);
    a.deallocate(p, kKiB);
    CHECK(dev.segments.size() == 2);
  }
  CHECK(dev.segments.empty());
}

TEST_CASE("format_memory_stats prints the statistics in MiB", "[allocator]") {
  MemoryStats s;
  s.live_bytes = 3 * kMiB / 2;
  s.peak_bytes = 2 * kMiB;
  s.reserved_bytes = 20 * kMiB;
  s.peak_reserved_bytes = 22 * kMiB;
  s.cached_bytes = 37 * kMiB / 2;
  s.num_segments = 3;
  s.num_allocs = 10;
  s.num_frees = 7;
  CHECK(format_memory_stats(s) ==
        "allocated 1.5 MiB (peak 2.0 MiB), reserved 20.0 MiB (peak 22.0 MiB), cached 18.5 MiB, 3 segments, "
        "10 allocs, 7 frees");
}
