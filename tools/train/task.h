#pragma once
// What ds-train trains. A task owns the model and its data sets, gives the loss of a training batch and evaluates on
// the held-out set; the trainer (trainer.h) does the rest (steps, schedule, guard rails, checkpoints) the same way
// for every task.
//   classification   images or generated data: cross-entropy; test accuracy and mean loss
//   language model   gpt on text windows: mean token cross-entropy; held-out loss, perplexity, next-token accuracy
//   masked LM        bert on sentence pairs: MLM + NSP loss; held-out masked-token loss and accuracy, NSP accuracy
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <ds/data/dataloader.h>
#include <ds/nn/module.h>

#include "config.h"

namespace ds::train {

struct Evaluation {
  double accuracy = 0;  // classification, next-token or masked-token accuracy: what test_accuracy= reports
  double loss = 0;      // mean held-out loss per example, token or masked token
  std::vector<std::pair<std::string, double>> extra;  // further metrics in print order (perplexity, nsp_accuracy, ...)
};

class Task {
 public:
  virtual ~Task() = default;
  // The mean loss of a training batch, differentiable; the model runs in its current mode.
  virtual Tensor loss(const data::Batch& batch) = 0;
  // Metrics over the batches `next` gives until it returns nothing; the caller has set eval mode and no-grad.
  virtual Evaluation evaluate(const std::function<std::optional<data::Batch>()>& next) = 0;
  // The unit progress counts (samples, tokens) and how many of them a batch holds.
  virtual const char* unit() const { return "samples"; }
  virtual int64_t count(const data::Batch& batch) const { return batch.target.size(0); }
  // Lines ds-train prints after training, before test_accuracy=...; `last` is the last evaluation.
  virtual std::vector<std::string> summary(const Evaluation& /*last*/) const { return {}; }

  std::shared_ptr<nn::Module> model;
  std::shared_ptr<const data::Dataset> train_set, test_set;
};

// The task cfg describes, its model built and its data sets loaded (text: see text_data.h).
std::unique_ptr<Task> make_task(const TrainConfig& cfg);

// The text tasks (text_tasks.cpp).
std::unique_ptr<Task> make_language_model_task(const TrainConfig& cfg);
std::unique_ptr<Task> make_masked_lm_task(const TrainConfig& cfg);

}  // namespace ds::train
