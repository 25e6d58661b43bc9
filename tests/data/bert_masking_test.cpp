// BERT pre-training data: the [CLS] a [SEP] b [SEP] layout and truncation worked out by hand, MLM masking
// statistics (15% chosen; 80/10/10) on many tokens, NSP balance and pairing, determinism, and DataLoader batches.
#include <cmath>

#include <catch2/catch.hpp>

#include <ds/data/bert_masking.h>
#include <ds/data/dataloader.h>

using namespace ds;
using namespace ds::data;
using I64 = std::vector<int64_t>;

namespace {
constexpr BertSpecialTokens kTokens{.cls = 1, .sep = 2, .mask = 3, .pad = 0, .vocab_size = 1000};

struct PairRows {
  I64 ids, types, mask;
};
PairRows pair(const std::vector<int32_t>& a, const std::vector<int32_t>& b, size_t t) {
  PairRows r{I64(t), I64(t), I64(t)};
  write_sentence_pair(a, b, kTokens, r.ids, r.types, r.mask);
  return r;
}

// `docs` documents of 2..9 sentences of 1..20 ids in [5, 1000), drawn from a fixed stream.
std::vector<BertDocument> make_documents(int docs) {
  RandomStream rng = RandomStream::for_sample(123, 0, 0);
  std::vector<BertDocument> out(static_cast<size_t>(docs));
  for (BertDocument& d : out) {
    d.resize(static_cast<size_t>(2 + rng.below(8)));
    for (auto& s : d) {
      s.resize(static_cast<size_t>(1 + rng.below(20)));
      for (int32_t& id : s) id = static_cast<int32_t>(5 + rng.below(995));
    }
  }
  return out;
}
}  // namespace

TEST_CASE("bert: sentence pair layout, padding and truncation", "[text]") {
  const PairRows r = pair({5, 6, 7}, {8, 9}, 10);
  CHECK(r.ids == I64{1, 5, 6, 7, 2, 8, 9, 2, 0, 0});
  CHECK(r.types == I64{0, 0, 0, 0, 0, 1, 1, 1, 0, 0});
  CHECK(r.mask == I64{1, 1, 1, 1, 1, 1, 1, 1, 0, 0});
  // Room for 5: a (6) is cut from its end to 3, b (2) stays.
  CHECK(pair({10, 11, 12, 13, 14, 15}, {20, 21}, 8).ids == I64{1, 10, 11, 12, 2, 20, 21, 2});
  // 4 and 4 into 5: b, a, b lose one each (b first on ties): a keeps 3, b keeps 2.
  CHECK(pair({10, 11, 12, 13}, {20, 21, 22, 23}, 8).ids == I64{1, 10, 11, 12, 2, 20, 21, 2});
  CHECK(pair({}, {}, 3).ids == I64{1, 2, 2});
  CHECK(pair({10}, {20}, 3).types == I64{0, 0, 1});
  I64 x(2), y(2), z(3);
  CHECK_THROWS_WITH(write_sentence_pair({}, {}, kTokens, x, y, x), Catch::Contains("[bert_masking]"));
  CHECK_THROWS_WITH(write_sentence_pair({}, {}, kTokens, z, y, z), Catch::Contains("must be equal"));
}

TEST_CASE("bert: MLM masking statistics on 200k tokens", "[text]") {
  // Every 10th token is a special id (never chosen); the others are ids in [10, 1000).
  const size_t n = 200000;
  I64 original(n);
  RandomStream gen = RandomStream::for_sample(5, 0, 0);
  for (size_t i = 0; i < n; ++i) original[i] = i % 10 == 0 ? kTokens.sep : 10 + gen.below(990);
  I64 ids = original, labels(n);
  const int64_t special[] = {kTokens.cls, kTokens.sep, kTokens.pad};
  RandomStream rng = RandomStream::for_sample(7, 0, 0);
  mask_tokens(ids, labels, special, kTokens.mask, kTokens.vocab_size, rng);

  int64_t maskable = 0, chosen = 0, to_mask = 0, kept = 0, randomised = 0, wrong = 0;
  double random_sum = 0;
  for (size_t i = 0; i < n; ++i) {
    if (original[i] == kTokens.sep) {
      wrong += labels[i] != kIgnoreIndex || ids[i] != kTokens.sep;  // special tokens are never chosen
      continue;
    }
    ++maskable;
    if (labels[i] == kIgnoreIndex) {
      wrong += ids[i] != original[i];
      continue;
    }
    ++chosen;
    wrong += labels[i] != original[i];
    if (ids[i] == kTokens.mask) {
      ++to_mask;
    } else if (ids[i] == original[i]) {
      ++kept;  // includes the random draws that hit the original id (1 in 1000)
    } else {
      ++randomised;
      random_sum += static_cast<double>(ids[i]);
    }
  }
  CHECK(wrong == 0);
  const double p_chosen = static_cast<double>(chosen) / static_cast<double>(maskable);
  const auto c = static_cast<double>(chosen);
  INFO("chosen " << p_chosen << ", of them mask " << to_mask / c << " random " << randomised / c << " kept "
                 << kept / c);
  // Binomial standard deviations: 0.0008 for the 15% (180k tokens), 0.0024 / 0.0018 for 80% / 10% (27k chosen).
  CHECK(std::abs(p_chosen - 0.15) < 0.004);
  CHECK(std::abs(to_mask / c - 0.80) < 0.012);
  CHECK(std::abs(randomised / c - 0.10) < 0.01);
  CHECK(std::abs(kept / c - 0.10) < 0.01);
  // Random ids are uniform in [0, 1000): mean 499.5 (sd of the mean about 290 / sqrt(2700) = 5.6).
  CHECK(std::abs(random_sum / static_cast<double>(randomised) - 499.5) < 30);

  // The same stream gives the same masking.
  I64 ids2 = original, labels2(n);
  RandomStream again = RandomStream::for_sample(7, 0, 0);
  mask_tokens(ids2, labels2, special, kTokens.mask, kTokens.vocab_size, again);
  CHECK(ids2 == ids);
  CHECK(labels2 == labels);
}

TEST_CASE("bert dataset: NSP pairs are balanced, true pairs are successors, random ones come from elsewhere",
          "[text]") {
  const std::vector<BertDocument> docs = make_documents(60);
  int64_t pairs = 0;
  for (const BertDocument& d : docs) pairs += static_cast<int64_t>(d.size()) - 1;
  const BertPretrainingDataset ds(docs, kTokens, {.max_length = 32, .seed = 11, .dupe_factor = 20});
  REQUIRE(ds.size() == pairs * 20);
  CHECK(ds.spec().input_shape == Shape{3, 32});
  CHECK(ds.spec().target_shape == Shape{33});

  int64_t random_next = 0, masked = 0, maskable = 0, wrong = 0;
  for (int64_t k = 0; k < ds.size(); ++k) {
    const Example e = ds.get(k);
    const I64 in = e.input.tolist<int64_t>(), out = e.target.tolist<int64_t>();
    RandomStream rng = RandomStream::for_sample(11, 0, k);
    const auto c = ds.choose_pair(k, rng);
    CHECK(out[32] == (c.random_next ? 1 : 0));
    if (c.random_next) {
      ++random_next;
      CHECK(ds.document_of(c.b) != ds.document_of(c.a));
    } else {
      CHECK(c.b == c.a + 1);
      CHECK(ds.document_of(c.b) == ds.document_of(c.a));
    }
    // Unmasked, the input is the pair's layout; where a label is set, it holds the layout's id.
    const std::span<const int32_t> a = ds.sentence(c.a), b = ds.sentence(c.b);
    const PairRows r = pair({a.begin(), a.end()}, {b.begin(), b.end()}, 32);
    CHECK(I64(in.begin() + 32, in.begin() + 64) == r.types);
    CHECK(I64(in.begin() + 64, in.end()) == r.mask);
    for (size_t t = 0; t < 32; ++t) {
      const bool special = r.ids[t] == kTokens.cls || r.ids[t] == kTokens.sep || r.ids[t] == kTokens.pad;
      maskable += !special;
      if (out[t] == kIgnoreIndex) {
        wrong += in[t] != r.ids[t];
      } else {
        ++masked;
        wrong += special || out[t] != r.ids[t];
      }
    }
  }
  CHECK(wrong == 0);
  const double p_random = static_cast<double>(random_next) / static_cast<double>(ds.size());
  INFO("examples " << ds.size() << ", random next " << p_random);
  CHECK(std::abs(p_random - 0.5) < 0.03);  // sd 0.0075 for ~5000 examples
  CHECK(std::abs(static_cast<double>(masked) / static_cast<double>(maskable) - 0.15) < 0.01);

  // Reproducible: a second dataset with the seed gives the same examples; another seed does not.
  const BertPretrainingDataset same(docs, kTokens, {.max_length = 32, .seed = 11, .dupe_factor = 20});
  const BertPretrainingDataset other(docs, kTokens, {.max_length = 32, .seed = 12, .dupe_factor = 20});
  int64_t differ = 0;
  for (int64_t k = 0; k < 200; ++k) {
    CHECK(same.get(k).input.tolist<int64_t>() == ds.get(k).input.tolist<int64_t>());
    CHECK(same.get(k).target.tolist<int64_t>() == ds.get(k).target.tolist<int64_t>());
    differ += other.get(k).target.tolist<int64_t>() != ds.get(k).target.tolist<int64_t>();
  }
  CHECK(differ > 150);
}

TEST_CASE("bert dataset: one document, DataLoader batches, errors", "[text]") {
  // One document: a random b is any sentence but a's successor.
  const BertDocument doc = {{10}, {11}, {12}, {13}};
  const auto one = std::make_shared<BertPretrainingDataset>(
      std::vector<BertDocument>{doc}, kTokens, BertPretrainingOptions{.max_length = 8, .dupe_factor = 200});
  int64_t random_next = 0;
  for (int64_t k = 0; k < one->size(); ++k) {
    RandomStream rng = RandomStream::for_sample(0, 0, k);
    const auto c = one->choose_pair(k, rng);
    if (!c.random_next) continue;
    ++random_next;
    CHECK(c.b != c.a + 1);
    CHECK(c.b >= 0);
    CHECK(c.b < 4);
  }
  CHECK(random_next > 240);  // of 600

  DataLoader loader(one, {.batch_size = 16, .shuffle = true, .seed = 3, .num_workers = 2});
  const std::optional<Batch> b = loader.next();
  REQUIRE(b);
  const BertBatch x = split_bert_batch(*b);
  CHECK(x.input_ids.sizes() == Shape{16, 8});
  CHECK(x.token_type_ids.sizes() == Shape{16, 8});
  CHECK(x.attention_mask.sizes() == Shape{16, 8});
  CHECK(x.mlm_labels.sizes() == Shape{16, 8});
  CHECK(x.nsp_labels.sizes() == Shape{16});
  const Example e = one->get(b->indices[5]);
  CHECK(x.input_ids.select(0, 5).tolist<int64_t>() == e.input.select(0, 0).tolist<int64_t>());
  CHECK(x.attention_mask.select(0, 5).tolist<int64_t>() == e.input.select(0, 2).tolist<int64_t>());
  CHECK(x.nsp_labels.tolist<int64_t>()[5] == e.target.tolist<int64_t>()[8]);
  CHECK_THROWS_WITH(split_bert_batch(Batch{x.input_ids, x.nsp_labels, {}}),
                    Catch::Contains("[bert_masking] split_bert_batch: expected input (B, 3, T)"));

  CHECK_THROWS_WITH(BertPretrainingDataset({{{5}, {1000}}}, kTokens, {}),
                    Catch::Contains("document 0 sentence 1: id 1000 is not in [0, vocab_size 1000)"));
  CHECK_THROWS_WITH(BertPretrainingDataset({{{5}}, {{6}}}, kTokens, {}),
                    Catch::Contains("NSP needs a document with at least two sentences"));
  CHECK_THROWS_WITH(BertPretrainingDataset({doc}, kTokens, {.max_length = 2}), Catch::Contains("max_length 2"));
  CHECK_THROWS_WITH(BertPretrainingDataset({doc}, {.cls = 1, .sep = 2, .mask = 5000, .pad = 0, .vocab_size = 1000},
                                           {}),
                    Catch::Contains("the mask id 5000"));
  CHECK_THROWS_WITH(BertPretrainingDataset({doc}, kTokens, {.mlm = {.mlm_probability = 1.5}}),
                    Catch::Contains("mlm_probability = 1.5"));
}
