#pragma once
// From a TrainConfig to the objects of a run: the model, the data loaders, the optimizer and its schedule.
#include <memory>

#include <ds/data/dataloader.h>
#include <ds/models/nlp/bert.h>
#include <ds/models/nlp/gpt.h>
#include <ds/nn/module.h>
#include <ds/optim/lr_scheduler.h>
#include <ds/optim/optimizer.h>

#include "config.h"

namespace ds::train {

std::shared_ptr<nn::Module> build_model(const ModelConfig& c, const data::SampleSpec& input);
// The transformers of model.name gpt and bert, for a tokenizer of vocab_size tokens (pad_id: BERT's [PAD]); ds-train
// and ds-generate build them from here, so a checkpoint's names and shapes always match.
models::GPTConfig gpt_config(const ModelConfig& c, int64_t vocab_size);
models::BertConfig bert_config(const ModelConfig& c, int64_t vocab_size, int64_t pad_id);

struct DataSets {
  std::shared_ptr<const data::Dataset> train, test;
};
DataSets build_datasets(const DataConfig& c, int64_t num_classes, uint64_t seed);
// replicas, rank: this rank's share of the training set in a data-parallel run (DataLoader's distributed sampling).
std::unique_ptr<data::DataLoader> build_loader(const DataConfig& c, std::shared_ptr<const data::Dataset> set, bool train,
                                               uint64_t seed, int replicas = 1, int rank = 0);

std::unique_ptr<optim::Optimizer> build_optimizer(const OptimizerConfig& c, std::vector<optim::ParamGroup> groups);
// total_steps: the optimizer steps of the whole run. Null for a constant lr.
std::unique_ptr<optim::LRScheduler> build_scheduler(const ScheduleConfig& c, optim::Optimizer& opt, double base_lr,
                                                    int64_t total_steps);

}  // namespace ds::train
