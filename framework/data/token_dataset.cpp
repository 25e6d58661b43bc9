#include <ds/data/token_dataset.h>

#include <zlib.h>

#include <bit>
#include <cstring>
#include <filesystem>

#include <ds/core/detail/check.h>
#include <ds/data/random_stream.h>
#include <ds/data/text_corpus.h>
#include <ds/ops/factory.h>

#include "detail/atomic_file.h"

namespace ds::data {

namespace {
constexpr const char* kComponent = "token_dataset";
constexpr char kMagic[8] = {'D', 'S', 'T', 'O', 'K', 'U', '1', '6'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderBytes = 32;
constexpr int64_t kMaxVocab = 65536;  // ids must fit in u16
// Shards are little-endian on disk and copied as they are in memory.
static_assert(std::endian::native == std::endian::little, "token shards assume a little-endian host");

uint32_t crc_of(std::span<const uint16_t> tokens) {
  uLong crc = crc32(0L, Z_NULL, 0);
  const auto* p = reinterpret_cast<const Bytef*>(tokens.data());
  size_t left = tokens.size_bytes();
  while (left > 0) {  // zlib takes at most uInt bytes a call
    const auto chunk = static_cast<uInt>(std::min<size_t>(left, 1u << 30));
    crc = crc32(crc, p, chunk);
    p += chunk;
    left -= chunk;
  }
  return static_cast<uint32_t>(crc);
}

template <typename T>
void append_le(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}
template <typename T>
T read_le(const std::string& in, size_t offset) {
  T v;
  std::memcpy(&v, in.data() + offset, sizeof v);
  return v;
}
}  // namespace

void write_token_shard(const std::string& path, std::span<const uint16_t> tokens, int64_t vocab_size) {
  DS_CHECK(vocab_size >= 1 && vocab_size <= kMaxVocab, kComponent,
           "{}: vocab_size {} does not fit a u16 shard (1..65536)", path, vocab_size);
  for (size_t i = 0; i < tokens.size(); ++i) {
    DS_CHECK(tokens[i] < vocab_size, kComponent, "{}: token {} at position {} is not below vocab_size {}", path,
             tokens[i], i, vocab_size);
  }
  std::string header(kMagic, sizeof kMagic);
  append_le(header, kVersion);
  append_le(header, static_cast<uint32_t>(vocab_size));
  append_le(header, static_cast<uint64_t>(tokens.size()));
  append_le(header, crc_of(tokens));
  append_le(header, uint32_t{0});
  detail::write_file_atomic(
      path, {header, std::string_view(reinterpret_cast<const char*>(tokens.data()), tokens.size_bytes())},
      kComponent);
}

void write_token_shard(const std::string& path, std::span<const int32_t> tokens, int64_t vocab_size) {
  std::vector<uint16_t> narrow(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) {
    DS_CHECK(tokens[i] >= 0 && tokens[i] < vocab_size && tokens[i] < kMaxVocab, kComponent,
             "{}: token {} at position {} is not in [0, vocab_size {})", path, tokens[i], i, vocab_size);
    narrow[i] = static_cast<uint16_t>(tokens[i]);
  }
  write_token_shard(path, std::span<const uint16_t>(narrow), vocab_size);
}

TokenShard read_token_shard(const std::string& path) {
  std::error_code ec;
  DS_CHECK(std::filesystem::is_regular_file(path, ec), kComponent, "{}: no such token shard (not a regular file)",
           path);
  const std::string bytes = read_text_file(path);
  DS_CHECK(bytes.size() >= kHeaderBytes, kComponent, "{}: truncated: {} bytes, a shard header alone is {}", path,
           bytes.size(), kHeaderBytes);
  DS_CHECK(std::memcmp(bytes.data(), kMagic, sizeof kMagic) == 0, kComponent,
           "{}: not a token shard (its first bytes are not \"DSTOKU16\")", path);
  const auto version = read_le<uint32_t>(bytes, 8);
  DS_CHECK(version == kVersion, kComponent, "{}: shard version {}, this build reads version {}", path, version,
           kVersion);
  TokenShard shard;
  shard.vocab_size = read_le<uint32_t>(bytes, 12);
  const auto count = read_le<uint64_t>(bytes, 16);
  const auto crc = read_le<uint32_t>(bytes, 24);
  DS_CHECK(shard.vocab_size >= 1 && shard.vocab_size <= kMaxVocab, kComponent,
           "{}: corrupt header: vocab_size {} is not in 1..65536", path, shard.vocab_size);
  const uint64_t payload = bytes.size() - kHeaderBytes;
  DS_CHECK(count <= payload / 2, kComponent, "{}: truncated: the header says {} tokens ({} bytes), the file holds {}",
           path, count, count * 2, payload);
  DS_CHECK(count * 2 == payload, kComponent, "{}: {} bytes after the {} tokens the header says", path,
           payload - count * 2, count);
  shard.tokens.resize(count);
  std::memcpy(shard.tokens.data(), bytes.data() + kHeaderBytes, count * 2);
  const uint32_t actual = crc_of(shard.tokens);
  DS_CHECK(actual == crc, kComponent, "{}: corrupt: the tokens' CRC-32 is {:#010x}, the header says {:#010x}", path,
           actual, crc);
  for (size_t i = 0; i < shard.tokens.size(); ++i) {
    DS_CHECK(shard.tokens[i] < shard.vocab_size, kComponent, "{}: token {} at position {} is not below vocab_size {}",
             path, shard.tokens[i], i, shard.vocab_size);
  }
  return shard;
}

TokenWindowDataset::TokenWindowDataset(std::shared_ptr<const std::vector<uint16_t>> tokens, int64_t context)
    : tokens_(std::move(tokens)), context_(context) {
  DS_CHECK(tokens_ != nullptr, kComponent, "no tokens given");
  DS_CHECK(context_ >= 1, kComponent, "context {} must be at least 1", context_);
  DS_CHECK(static_cast<int64_t>(tokens_->size()) >= context_ + 1, kComponent,
           "{} tokens are too few for one window of context {} (it needs {})", tokens_->size(), context_,
           context_ + 1);
}

SampleSpec TokenWindowDataset::spec() const { return {{context_}, kI64, {context_}, kI64}; }

Example TokenWindowDataset::get(int64_t index) const {
  Example e{empty({context_}, {.dtype = kI64}), empty({context_}, {.dtype = kI64})};
  read_into(index, spec(), e.input.data(), e.target.data());
  return e;
}

void TokenWindowDataset::read_into(int64_t index, const SampleSpec&, void* input, void* target) const {
  check_index(index, size(), kComponent);
  const uint16_t* src = tokens_->data() + start(index);
  auto* x = static_cast<int64_t*>(input);
  auto* y = static_cast<int64_t*>(target);
  for (int64_t t = 0; t < context_; ++t) {
    x[t] = src[t];
    y[t] = src[t + 1];
  }
}

RandomWindowDataset::RandomWindowDataset(std::shared_ptr<const std::vector<uint16_t>> tokens, int64_t context,
                                         int64_t num_windows, uint64_t seed)
    : TokenWindowDataset(std::move(tokens), context), num_windows_(num_windows), seed_(seed) {
  DS_CHECK(num_windows >= 0, kComponent, "num_windows {} is negative", num_windows);
}

int64_t RandomWindowDataset::start(int64_t index) const {
  const auto starts = static_cast<int64_t>(tokens_->size()) - context_;  // valid starts: [0, N - T - 1]
  return RandomStream::for_sample(seed_, 0, index).below(starts);
}

SequentialWindowDataset::SequentialWindowDataset(std::shared_ptr<const std::vector<uint16_t>> tokens,
                                                 int64_t context)
    : TokenWindowDataset(std::move(tokens), context) {}

int64_t SequentialWindowDataset::size() const {
  return (static_cast<int64_t>(tokens_->size()) - 1) / context_;
}

int64_t SequentialWindowDataset::start(int64_t index) const { return index * context_; }

}  // namespace ds::data
