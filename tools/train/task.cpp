#include "task.h"

#include <ds/ops/nn_functional.h>
#include <ds/ops/ops.h>

#include "builders.h"

namespace ds::train {
namespace {

// Images or generated features with class labels: input (B, ...) -> logits (B, classes), target (B) i64.
class ClassificationTask : public Task {
 public:
  explicit ClassificationTask(const TrainConfig& cfg) {
    const DataSets sets = build_datasets(cfg.data, cfg.model.num_classes, cfg.training.seed);
    train_set = sets.train;
    test_set = sets.test;
    model = build_model(cfg.model, train_set->spec());
  }

  Tensor loss(const data::Batch& b) override { return cross_entropy(model->forward(b.input), b.target); }

  Evaluation evaluate(const std::function<std::optional<data::Batch>()>& next) override {
    int64_t correct = 0, n = 0;
    double loss_sum = 0;
    while (auto b = next()) {
      const Tensor logits = model->forward(b->input);
      loss_sum += cross_entropy(logits, b->target, Reduction::Sum).item<double>();
      correct += sum(argmax(logits, 1) == b->target).item<int64_t>();
      n += b->target.size(0);
    }
    const auto count = static_cast<double>(std::max<int64_t>(n, 1));
    return {static_cast<double>(correct) / count, loss_sum / count, {}};
  }
};

}  // namespace

std::unique_ptr<Task> make_task(const TrainConfig& cfg) {
  const std::string& n = cfg.model.name;
  if (n == "gpt" || n.rfind("gpt2", 0) == 0 || n.rfind("gpt3", 0) == 0) return make_language_model_task(cfg);
  if (n == "bert" || n.rfind("bert-", 0) == 0) return make_masked_lm_task(cfg);
  return std::make_unique<ClassificationTask>(cfg);
}

}  // namespace ds::train
