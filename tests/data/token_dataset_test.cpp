// Token shards (round trip, exact layout, corruption errors) and the window datasets (values, determinism,
// batching by the DataLoader).
#include <numeric>
#include <set>

#include <catch2/catch.hpp>

#include <ds/data/data.h>
#include <ds/data/random_stream.h>
#include <ds/data/token_dataset.h>

#include "../io/io_test_util.h"

using namespace ds;
using namespace ds::data;
using io_test::TempDir;

namespace {
std::shared_ptr<const std::vector<uint16_t>> iota_tokens(size_t n) {
  auto v = std::make_shared<std::vector<uint16_t>>(n);
  std::iota(v->begin(), v->end(), uint16_t{0});
  return v;
}
}  // namespace

TEST_CASE("token shard: write and read back, header layout", "[text]") {
  TempDir dir;
  const std::vector<int32_t> ids = {0, 1, 65535, 300, 7};
  write_token_shard(dir.file("a.tok"), ids, 65536);
  const std::string bytes = io_test::read_bytes(dir.file("a.tok"));
  REQUIRE(bytes.size() == 32 + 2 * ids.size());
  CHECK(bytes.substr(0, 8) == "DSTOKU16");
  CHECK(bytes.substr(8, 4) == std::string("\x01\0\0\0", 4));                 // version 1
  CHECK(bytes.substr(12, 4) == std::string("\0\0\x01\0", 4));                // vocab_size 65536
  CHECK(bytes.substr(16, 8) == std::string("\x05\0\0\0\0\0\0\0", 8));        // 5 tokens
  CHECK(bytes.substr(32, 6) == std::string("\0\0\x01\0\xFF\xFF", 6));        // u16 little-endian
  const TokenShard s = read_token_shard(dir.file("a.tok"));
  CHECK(s.vocab_size == 65536);
  CHECK(s.tokens == std::vector<uint16_t>{0, 1, 65535, 300, 7});

  write_token_shard(dir.file("empty.tok"), std::vector<uint16_t>{}, 10);
  CHECK(read_token_shard(dir.file("empty.tok")).tokens.empty());
  CHECK_THROWS_WITH(write_token_shard(dir.file("b.tok"), std::vector<int32_t>{1, 10}, 10),
                    Catch::Contains("[token_dataset]") && Catch::Contains("token 10 at position 1"));
  CHECK_THROWS_WITH(write_token_shard(dir.file("b.tok"), std::vector<int32_t>{-1}, 10), Catch::Contains("token -1"));
  CHECK_THROWS_WITH(write_token_shard(dir.file("b.tok"), std::vector<uint16_t>{1}, 70000),
                    Catch::Contains("vocab_size 70000 does not fit"));
  CHECK_FALSE(std::filesystem::exists(dir.file("b.tok")));
}

TEST_CASE("token shard: corrupt, truncated and foreign files are errors naming the file", "[text]") {
  TempDir dir;
  const std::string path = dir.file("s.tok");
  write_token_shard(path, std::vector<int32_t>{5, 6, 7, 8}, 100);
  const std::string good = io_test::read_bytes(path);
  const auto with = [&](std::string bytes) {
    io_test::write_bytes(path, bytes);
    return path;
  };
  CHECK_THROWS_WITH(read_token_shard(dir.file("missing.tok")),
                    Catch::Contains("[token_dataset]") && Catch::Contains("missing.tok: no such token shard"));
  CHECK_THROWS_WITH(read_token_shard(with(good.substr(0, 20))), Catch::Contains("s.tok: truncated: 20 bytes"));
  CHECK_THROWS_WITH(read_token_shard(with(good.substr(0, good.size() - 1))),
                    Catch::Contains("s.tok: truncated: the header says 4 tokens (8 bytes), the file holds 7"));
  CHECK_THROWS_WITH(read_token_shard(with(good + "xy")), Catch::Contains("2 bytes after the 4 tokens"));
  std::string bad = good;
  bad[0] = 'X';
  CHECK_THROWS_WITH(read_token_shard(with(bad)), Catch::Contains("not a token shard"));
  bad = good;
  bad[8] = 2;
  CHECK_THROWS_WITH(read_token_shard(with(bad)), Catch::Contains("shard version 2"));
  bad = good;
  bad[33] ^= 0x01;  // a flipped bit in the first token
  CHECK_THROWS_WITH(read_token_shard(with(bad)), Catch::Contains("corrupt: the tokens' CRC-32"));
  bad = good;
  bad[12] = 6;  // vocab_size 6: tokens 6, 7 and 8 are out of range (the checksum covers the tokens only)
  CHECK_THROWS_WITH(read_token_shard(with(bad)), Catch::Contains("token 6 at position 1 is not below vocab_size 6"));
}

TEST_CASE("window datasets: x and y are shifted windows; random starts depend only on (seed, index)", "[text]") {
  const auto tokens = iota_tokens(1000);
  const RandomWindowDataset d(tokens, 16, 500, 7);
  CHECK(d.size() == 500);
  CHECK(d.spec().input_shape == Shape{16});
  CHECK(d.spec().input_dtype == kI64);
  std::set<int64_t> starts;
  for (int64_t k = 0; k < d.size(); ++k) {
    const int64_t s = d.start(k);
    // The draw documented: uniform in [0, N - T - 1] from the sample stream (seed, 0, k).
    CHECK(s == RandomStream::for_sample(7, 0, k).below(1000 - 16));
    starts.insert(s);
  }
  CHECK(*starts.rbegin() <= 1000 - 17);
  CHECK(starts.size() > 350);  // 500 draws from 984 values: about 387 distinct
  const Example e = d.get(3);
  const int64_t s = d.start(3);
  const std::vector<int64_t> x = e.input.tolist<int64_t>(), y = e.target.tolist<int64_t>();
  REQUIRE(x.size() == 16);
  for (int64_t t = 0; t < 16; ++t) {
    CHECK(x[static_cast<size_t>(t)] == s + t);
    CHECK(y[static_cast<size_t>(t)] == s + t + 1);
  }
  // Reproducible across instances; another seed gives other windows.
  const RandomWindowDataset same(tokens, 16, 500, 7), other(tokens, 16, 500, 8);
  int64_t differ = 0;
  for (int64_t k = 0; k < 500; ++k) {
    CHECK(same.start(k) == d.start(k));
    differ += other.start(k) != d.start(k);
  }
  CHECK(differ > 490);

  // The last valid window ends at the last token.
  const RandomWindowDataset tight(iota_tokens(17), 16, 10, 1);
  for (int64_t k = 0; k < 10; ++k) CHECK(tight.start(k) == 0);
  CHECK_THROWS_WITH(RandomWindowDataset(iota_tokens(16), 16, 10, 1),
                    Catch::Contains("[token_dataset] 16 tokens are too few for one window of context 16"));
  CHECK_THROWS_WITH(d.get(500), Catch::Contains("index 500 out of range"));
}

TEST_CASE("window datasets: sequential windows tile the stream; the DataLoader batches (B, T)", "[text]") {
  const auto tokens = iota_tokens(100);
  const auto seq = std::make_shared<SequentialWindowDataset>(tokens, 8);
  CHECK(seq->size() == 12);  // floor(99 / 8)
  CHECK(seq->get(11).input.tolist<int64_t>() == std::vector<int64_t>{88, 89, 90, 91, 92, 93, 94, 95});
  CHECK(seq->get(11).target.tolist<int64_t>() == std::vector<int64_t>{89, 90, 91, 92, 93, 94, 95, 96});
  CHECK(SequentialWindowDataset(iota_tokens(97), 8).size() == 12);  // 96 targets: tokens 1..96

  DataLoader loader(seq, {.batch_size = 5, .shuffle = false});
  std::optional<Batch> b = loader.next();
  REQUIRE(b);
  CHECK(b->input.sizes() == Shape{5, 8});
  CHECK(b->target.sizes() == Shape{5, 8});
  CHECK(b->input.dtype() == kI64);
  CHECK(b->input.select(0, 2).tolist<int64_t>() == seq->get(2).input.tolist<int64_t>());

  // Bitwise the same batches for any number of workers.
  const auto rnd = std::make_shared<RandomWindowDataset>(tokens, 8, 40, 3);
  DataLoader l0(rnd, {.batch_size = 4, .shuffle = true, .seed = 9}), l2(rnd, {.batch_size = 4, .shuffle = true,
                                                                              .seed = 9, .num_workers = 2});
  for (int i = 0; i < 10; ++i) {
    const std::optional<Batch> a = l0.next(), c = l2.next();
    REQUIRE(a);
    REQUIRE(c);
    CHECK(a->input.tolist<int64_t>() == c->input.tolist<int64_t>());
    CHECK(a->target.tolist<int64_t>() == c->target.tolist<int64_t>());
  }
}
