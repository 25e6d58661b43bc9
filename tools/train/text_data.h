#pragma once
// The King James text as ds-train's language-model tasks see it. The verses (Genesis 1:1 to Revelation 22:21) are
// split by verse order: the last heldout_fraction of them (the end of Revelation and the books before it) are held
// out for evaluation, the rest is the training text. A byte-level BPE tokenizer is trained on the training text only
// (so no held-out statistics leak into the vocabulary) and saved in the tokenizer folder with a note of how it was
// trained; later runs load it. The corpus is encoded verse by verse, each verse's ids followed by the id of "\n",
// and cached in the same folder as a token shard (kjv.tok), so a second run neither trains nor encodes.
//
// Folder: vocab.json, merges.txt (GPT-2's format), trained_on.txt (corpus, held-out fraction, vocabulary size,
// min_frequency; a mismatch with the config is an error, not a silent reuse), kjv.tok (the whole corpus's ids).
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <ds/data/bert_masking.h>
#include <ds/data/bpe_tokenizer.h>

#include "config.h"

namespace ds::train {

// The special tokens of the text tasks, ids 0..4 in this order: GPT's end of text and BERT's four. One set for both
// models, so a GPT and a BERT config may share a tokenizer folder.
const std::vector<std::string>& text_special_tokens();

struct TextCorpus {
  std::shared_ptr<const data::BpeTokenizer> tokenizer;
  // Token streams: every verse's ids followed by the id of "\n".
  std::shared_ptr<const std::vector<uint16_t>> train_tokens, heldout_tokens;
  // BERT's documents: one per chapter, one sentence per verse (its ids, without the "\n").
  std::vector<data::BertDocument> train_chapters, heldout_chapters;
  int64_t train_verses = 0, heldout_verses = 0;
  double unigram_entropy = 0;       // nats per token of the training tokens' unigram distribution
  double heldout_unigram_loss = 0;  // what that distribution scores on the held-out tokens (unigram_cross_entropy)
};

// Loads (or trains and caches) tokenizer and tokens as described above, and prints what it did and the unigram
// entropy on stdout. `chapters`: also build the BERT documents. Errors: "[ds-train] <folder>: ..." for a tokenizer
// folder that cannot be written or whose tokenizer does not match the config; "[text_corpus] ..." when the bible
// command (Debian package bible-kjv) is missing.
TextCorpus load_kjv(const DataConfig& c, bool chapters);

// The tokenizer saved in c.dir (with the text tasks' special tokens). Throws "[<tag>] <dir>: ..." when the folder
// has no vocab.json and merges.txt.
data::BpeTokenizer load_saved_tokenizer(const TokenizerConfig& c, const std::string& tag);

// The entropy in nats of the unigram distribution of `tokens` (-sum p log p over the ids that occur): the
// cross-entropy a model that ignores the context reaches at best on the same tokens.
double unigram_entropy(std::span<const uint16_t> tokens);

// The mean loss in nats of the unigram distribution of `train` (add-one smoothed over vocab_size ids, so unseen ids
// cost a finite amount) on the `heldout` tokens: the held-out loss of the best context-free model one can fit.
double unigram_cross_entropy(std::span<const uint16_t> train, std::span<const uint16_t> heldout, int64_t vocab_size);

}  // namespace ds::train
