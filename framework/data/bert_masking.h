#pragma once
// BERT pre-training data: masked-language-model masking (as Hugging Face's DataCollatorForLanguageModeling) and
// next-sentence-prediction pairs, packaged as a Dataset whose examples a DataLoader batches.
//
//   std::vector<BertDocument> docs = ...;   // e.g. one per Bible chapter, one sentence per verse, BPE ids
//   auto ds = std::make_shared<BertPretrainingDataset>(docs, BertSpecialTokens{cls, sep, mask, pad, vocab},
//                                                      BertPretrainingOptions{.max_length = 128, .seed = 1});
//   DataLoader loader(ds, {.batch_size = 32, .shuffle = true});
//   for (Batch& b : loader) { BertBatch x = split_bert_batch(b); ... x.input_ids (32, 128) ... }
#include <cstdint>
#include <span>
#include <vector>

#include <ds/data/dataset.h>
#include <ds/data/random_stream.h>

namespace ds::data {

// The label of a position that the MLM loss ignores (PyTorch's cross_entropy ignore_index).
inline constexpr int64_t kIgnoreIndex = -100;

struct MlmOptions {
  double mlm_probability = 0.15;  // chance that a token which is not special is chosen
  double mask_fraction = 0.8;     // of the chosen: replaced by [MASK]
  double random_fraction = 0.1;   // of the chosen: replaced by a token drawn uniformly from [0, vocab_size)
                                  // (the rest, 10%, keep their token)
};

// Masks `ids` in place and writes `labels` (same length): each token whose id is not in `special_ids` is chosen
// with probability mlm_probability; a chosen token gets label = its id and becomes mask_id (mask_fraction), a
// uniform random id in [0, vocab_size) (random_fraction, special ids included, as Hugging Face does) or stays;
// every other position gets kIgnoreIndex. Draws per non-special token, in order: uniform() to choose; if chosen,
// uniform() for the kind of replacement, then below(vocab_size) for a random one.
void mask_tokens(std::span<int64_t> ids, std::span<int64_t> labels, std::span<const int64_t> special_ids,
                 int64_t mask_id, int64_t vocab_size, RandomStream& rng, const MlmOptions& options = {});

// The ids BERT's inputs need; vocab_size bounds every id.
struct BertSpecialTokens {
  int64_t cls = 0, sep = 0, mask = 0, pad = 0;
  int64_t vocab_size = 0;
};

// Writes one BERT input of length T = input_ids.size() (all three spans that long): [CLS] a [SEP] b [SEP] then
// [PAD]s; token_type_ids 0 up to and including the first [SEP], 1 over b and its [SEP], 0 on padding;
// attention_mask 1 on tokens, 0 on padding. When a and b do not fit T - 3, tokens are cut from the end of the longer
// one (b when they are equally long) until they do (BERT's truncate_seq_pair, always from the end). T >= 3.
void write_sentence_pair(std::span<const int32_t> a, std::span<const int32_t> b, const BertSpecialTokens& tokens,
                         std::span<int64_t> input_ids, std::span<int64_t> token_type_ids,
                         std::span<int64_t> attention_mask);

// A document: its sentences in order, each as token ids.
using BertDocument = std::vector<std::vector<int32_t>>;

struct BertPretrainingOptions {
  int64_t max_length = 128;       // T
  uint64_t seed = 0;
  double next_sentence_probability = 0.5;  // chance that b is a's true successor (NSP label 0)
  MlmOptions mlm;
  int64_t dupe_factor = 1;  // copies of every pair, each with its own draws (BERT's create_pretraining_data)
};

// Example k pairs sentence a = the (k mod P)-th sentence that has a successor in its document (P of them) with b:
// with next_sentence_probability its successor (nsp label 0), otherwise a random sentence (label 1) from a random
// other document (from the other sentences of the corpus when there is one document), then masks it. All draws come
// from RandomStream::for_sample(seed, 0, k), so an example depends only on (seed, k) and is the same every epoch
// (static masking, as original BERT; dupe_factor > 1 gives each pair several maskings).
//   input:  (3, T) i64, rows input_ids, token_type_ids, attention_mask
//   target: (T + 1) i64, mlm_labels (T, kIgnoreIndex where not masked) then the nsp label
class BertPretrainingDataset : public Dataset {
 public:
  // Throws ds::Error "[bert_masking] ..." for ids out of [0, vocab_size), special ids out of range, T < 3, fewer
  // than two sentences, no sentence with a successor, or probabilities outside [0, 1].
  BertPretrainingDataset(const std::vector<BertDocument>& documents, BertSpecialTokens tokens,
                         BertPretrainingOptions options);

  int64_t size() const override;
  Example get(int64_t index) const override;
  SampleSpec spec() const override;
  void read_into(int64_t index, const SampleSpec& spec, void* input, void* target) const override;

  // The sentences example `index` pairs (global sentence numbers, documents in order) and whether b is random.
  struct PairChoice {
    int64_t a = 0, b = 0;
    bool random_next = false;
  };
  PairChoice choose_pair(int64_t index, RandomStream& rng) const;
  // Sentence `s` (global number) as ids, and the document it is in.
  std::span<const int32_t> sentence(int64_t s) const;
  int64_t document_of(int64_t s) const;

 private:
  BertSpecialTokens tokens_;
  BertPretrainingOptions options_;
  std::vector<int32_t> ids_;                // every sentence's ids, back to back
  std::vector<int64_t> sentence_start_;     // sentence s is ids_[sentence_start_[s], sentence_start_[s + 1])
  std::vector<int64_t> document_start_;     // document d holds sentences [document_start_[d], document_start_[d+1])
  std::vector<int64_t> pair_sentences_;     // the sentences that have a successor in their document
  std::vector<int64_t> nonempty_documents_;  // the documents with at least one sentence, in order
};

// A batch of BertPretrainingDataset examples, as views of the batch's tensors: input_ids, token_type_ids,
// attention_mask and mlm_labels (B, T) i64, nsp_labels (B) i64.
struct BertBatch {
  Tensor input_ids, token_type_ids, attention_mask, mlm_labels, nsp_labels;
};
// Splits a DataLoader batch of a BertPretrainingDataset; throws ds::Error "[bert_masking] ..." for other shapes.
BertBatch split_bert_batch(const Batch& batch);

}  // namespace ds::data
