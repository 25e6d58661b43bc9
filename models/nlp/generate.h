#pragma once
// Sampling from a GPT: temperature, top-k and top-p (nucleus) filtering, seeded; generation without a KV cache
// (each new token runs the model over the last block_size tokens).
#include <cstdint>
#include <functional>
#include <vector>

#include <ds/core/rng.h>
#include <ds/models/nlp/gpt.h>

namespace ds::models {

struct SamplingOptions {
  double temperature = 1.0;  // 0: greedy (argmax)
  int64_t top_k = 0;         // keep the k most likely tokens; 0: all
  double top_p = 1.0;        // keep the smallest set whose probability reaches top_p; 1: all
};

// Draws one token id from logits (V) (any floating dtype) after temperature, top-k and top-p, with one uniform draw
// from gen. Ties in the ordering keep the lower id first, so a seed gives the same token everywhere.
int64_t sample_token(const Tensor& logits, const SamplingOptions& o, Generator& gen);

// Appends max_new_tokens sampled tokens to prompt (non-empty) and returns prompt + them; on_token, when set, sees
// each new id as it is drawn (for streaming). Runs in eval mode without autograd; the model's mode is restored.
std::vector<int64_t> generate(GPT& model, std::vector<int64_t> prompt, int64_t max_new_tokens,
                              const SamplingOptions& o, Generator& gen,
                              const std::function<void(int64_t)>& on_token = {});

}  // namespace ds::models
