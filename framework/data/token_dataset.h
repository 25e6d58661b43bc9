#pragma once
// Token data for language models: token shards (uint16 ids on disk) and datasets of windows over a token stream,
// whose examples are x = tokens[i, i+T) and y = tokens[i+1, i+T+1) as (T) i64 tensors, so that a DataLoader
// batches them into (B, T) inputs and targets.
//
//   write_token_shard("kjv.tok", tok.encode(read_bible_kjv()), tok.vocab_size());
//   auto tokens = std::make_shared<const std::vector<uint16_t>>(read_token_shard("kjv.tok").tokens);
//   auto train = std::make_shared<RandomWindowDataset>(tokens, /*context=*/256, /*num_windows=*/100000, /*seed=*/1);
//   DataLoader loader(train, {.batch_size = 8, .shuffle = true, .seed = 1});   // input, target: (8, 256) i64
//
// Shard file layout, little-endian: a 32-byte header (magic "DSTOKU16", u32 version 1, u32 vocab_size, u64 token
// count, u32 CRC-32 of the token bytes (zlib's crc32), u32 zero), then the tokens as u16.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <ds/data/dataset.h>

namespace ds::data {

// Writes `tokens` (every id in [0, vocab_size), vocab_size <= 65536) to a shard at `path`, complete or not at all.
// Throws ds::Error "[token_dataset] <path>: ..." for an id out of range or a file that cannot be written.
void write_token_shard(const std::string& path, std::span<const int32_t> tokens, int64_t vocab_size);
void write_token_shard(const std::string& path, std::span<const uint16_t> tokens, int64_t vocab_size);

struct TokenShard {
  std::vector<uint16_t> tokens;
  int64_t vocab_size = 0;
};

// Reads a shard written by write_token_shard. Throws ds::Error "[token_dataset] <path>: ..." for a missing file, a
// file that is not a shard, an unknown version, a truncated file or one with extra bytes, a checksum mismatch, or
// an id >= vocab_size.
TokenShard read_token_shard(const std::string& path);

// Windows of `context` (T) tokens over a shared token stream: input x = tokens[s, s+T), target y = tokens[s+1,
// s+T+1), both (T) i64, where s = start(index). Subclasses choose the starts.
class TokenWindowDataset : public Dataset {
 public:
  SampleSpec spec() const override;
  Example get(int64_t index) const override;
  void read_into(int64_t index, const SampleSpec& spec, void* input, void* target) const override;
  // The first position of window `index`: x is tokens[start, start + T).
  virtual int64_t start(int64_t index) const = 0;
  int64_t context() const { return context_; }
  const std::vector<uint16_t>& tokens() const { return *tokens_; }

 protected:
  // Throws ds::Error "[token_dataset] ..." unless tokens is non-null with at least context + 1 tokens, context >= 1.
  TokenWindowDataset(std::shared_ptr<const std::vector<uint16_t>> tokens, int64_t context);
  std::shared_ptr<const std::vector<uint16_t>> tokens_;
  int64_t context_;
};

// `num_windows` windows at random starts: window k starts at a position drawn uniformly from [0, N - T - 1] with
// RandomStream::for_sample(seed, 0, k), so it depends only on (seed, k) (the DataLoader's shuffle then orders
// them per epoch). Windows overlap and may repeat; another seed gives another set. For training.
class RandomWindowDataset : public TokenWindowDataset {
 public:
  RandomWindowDataset(std::shared_ptr<const std::vector<uint16_t>> tokens, int64_t context, int64_t num_windows,
                      uint64_t seed);
  int64_t size() const override { return num_windows_; }
  int64_t start(int64_t index) const override;

 private:
  int64_t num_windows_;
  uint64_t seed_;
};

// Consecutive non-overlapping windows: window k starts at k * T; there are floor((N - 1) / T) of them, so every
// token but the last few is predicted exactly once. For evaluation.
class SequentialWindowDataset : public TokenWindowDataset {
 public:
  SequentialWindowDataset(std::shared_ptr<const std::vector<uint16_t>> tokens, int64_t context);
  int64_t size() const override;
  int64_t start(int64_t index) const override;
};

}  // namespace ds::data
