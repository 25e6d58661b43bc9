#pragma once
// ds-train's configuration: the YAML file, read strictly. Every key is known and typed; an unknown key, a wrong
// type or a bad value is an error naming the file, the line, the key and what was expected.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <ds/models/zoo.h>

namespace ds::train {

struct ModelConfig {
  // Any name of the model zoo (./ds models: lenet5, mlp, the torchvision CNNs, gpt2..., bert-base-uncased, ...), or
  // gpt / bert: a GPT or BERT of the sizes below.
  std::string name = "lenet5";
  // The zoo model's arguments (model: {name: mobilenet_v2, args: {width_mult: 0.5}}); ./ds models' factories read
  // them and refuse unknown ones. num_classes, the input channels and (mlp) the feature count come from the data.
  models::ModelArgs args;
  int64_t num_classes = 10;
  std::vector<int64_t> hidden{512, 512};  // mlp only
  // gpt and bert (the vocabulary size comes from data.tokenizer): layers, heads, width (BERT's intermediate layer is
  // 4 * n_embd, as in bert-base), learned positions, and dropout in training mode.
  int64_t n_layer = 4, n_head = 4, n_embd = 256, block_size = 128;
  double dropout = 0.0;
};

// The byte-level BPE tokenizer of the text data sets: trained on the training text when `dir` holds no
// vocab.json/merges.txt and saved there, loaded otherwise; the encoded corpus is cached next to it.
struct TokenizerConfig {
  std::string dir;  // required for text data sets
  int64_t vocab_size = 4096;  // special tokens + 256 byte tokens + merges
  int64_t min_frequency = 2;
};

struct DataConfig {
  std::string dataset = "fashion_mnist";  // fashion_mnist | pattern_images (generated) | blobs (generated) | kjv (text)
  std::string root = "/usr/share/datasets/fashion-mnist";
  int64_t batch_size = 64;
  int64_t eval_batch_size = 1000;  // text: each batch makes (B, T, vocab) f32 logits, so keep it small
  int64_t max_eval_examples = 0;  // evaluate on the first this many test (held-out) examples; 0: all
  int num_workers = 1;
  bool shuffle = true;
  std::vector<double> normalize_mean, normalize_std;  // empty: no normalisation
  int64_t random_crop_padding = 0;                    // 0: no random crop
  double horizontal_flip = 0;                         // probability; 0: none
  int64_t generated_size = 2048;                      // generated data sets: training examples (test: a quarter)
  int64_t image_channels = 1, image_size = 28;        // pattern_images: (C, H, W) = (channels, size, size)
  // Text (dataset kjv, for gpt and bert):
  TokenizerConfig tokenizer;
  int64_t context_length = 0;        // tokens per example; 0: model.block_size
  // Training examples per epoch (gpt: windows at random starts; bert: verse pairs with their masks), drawn once from
  // the seed: every epoch replays the same ones in a new order, so prefer one epoch and training.eval_interval.
  int64_t windows_per_epoch = 4096;
  double heldout_fraction = 0.05;    // the last verses of the text, by verse order, held out for evaluation
  double mlm_probability = 0.15;     // bert: chance that a token is chosen for the masked-LM loss
};

struct OptimizerConfig {
  std::string name = "adamw";  // sgd | adam | adamw | lamb | lion
  double lr = 1e-3;
  double weight_decay = 0;
  double momentum = 0;  // sgd
  bool nesterov = false;
  std::vector<double> betas;  // adam, adamw, lamb, lion: two values; empty = the optimizer's default
  double eps = 1e-8;
  double clip_grad_norm = 0;  // 0: no clipping
  int64_t grad_accumulation = 1;
};

struct ScheduleConfig {
  std::string name = "constant";  // constant | step | multistep | exponential | cosine | warmup_cosine | warmup_linear | onecycle
  int64_t warmup_steps = 0;
  double min_lr = 0;
  int64_t step_size = 1000;
  std::vector<int64_t> milestones;
  double gamma = 0.1;
  double max_lr = 0;  // onecycle; 0 = optimizer.lr
};

// The seed's distributed block, as written:
//   distributed: {strategy: data_parallel, data_parallel_size: 2,
//                 communication: {type: mpi, compression: {enabled: true, algorithm: fp16_quantize}}, zero: 1}
// World size and rank come from the launcher (./ds launch, mpirun, srun). Tensor and pipeline parallelism
// (model_parallel_size, pipeline_parallel_size above 1) are refused until they exist.
struct CompressionConfig {
  bool enabled = false;
  std::string algorithm = "fp16_quantize";  // fp16_quantize (fp16) | bf16 | int8
};
struct DistributedConfig {
  std::string strategy = "none";  // none | data_parallel | 3d_parallel (with model and pipeline sizes 1)
  int64_t data_parallel_size = 0;  // 0: the world size; otherwise it must equal it
  int64_t model_parallel_size = 1, pipeline_parallel_size = 1;
  std::string communication = "auto";  // auto (mpi on cpu, nccl on cuda) | mpi | nccl
  CompressionConfig compression;
  int64_t zero = 0;                  // 0 | 1 (optimizer state sharded across the data-parallel ranks)
  double bucket_cap_mb = 25;
  bool find_unused_parameters = false;
};

struct TrainingConfig {
  int64_t epochs = 1;
  int64_t max_steps = 0;  // 0: no limit besides epochs
  uint64_t seed = 0;
  int64_t log_interval = 100;
  int64_t max_consecutive_skips = 5;  // non-finite steps in a row before the run stops
  bool evaluate = true;               // test accuracy after each epoch
  int64_t eval_interval = 0;          // also evaluate every this many steps; 0: only after each epoch
  int threads = 0;                    // 0: the default (all cores; under a launcher, cores / ranks on the host)
  std::string device = "cpu";         // cpu | cuda (cuda:N; under a launcher, each rank its local rank's GPU)
  std::string precision = "fp32";     // fp32 | bf16 (autocast) | fp16 (autocast + dynamic loss scaling)
  bool compile = false;               // forward + backward through ds::compile (one process; fp32 or bf16)
  int64_t stop_after = 0;             // command line only: save and stop after this many steps, as if interrupted
};

struct CheckpointConfig {
  std::string dir;      // empty: no checkpoints
  int64_t interval = 0;  // steps between checkpoints; 0: only at the end
  int keep_last = 3;
  bool resume = true;  // continue from the newest valid checkpoint in dir
};

struct DebugConfig {
  std::vector<int64_t> nan_at_steps;  // poison the loss with NaN at these optimizer steps (tests the guard rails)
};

struct TrainConfig {
  std::string path;  // the file it came from
  ModelConfig model;
  DataConfig data;
  OptimizerConfig optimizer;
  ScheduleConfig schedule;
  TrainingConfig training;
  CheckpointConfig checkpoint;
  DebugConfig debug;
  DistributedConfig distributed;
  std::string metrics_csv;  // output.csv; empty: none
};

// Reads and validates a config file. Throws ds::Error "[config] <file>:<line>: ...".
TrainConfig load_config(const std::string& path);
// The same from YAML text (name used in messages).
TrainConfig parse_config(const std::string& yaml, const std::string& name);

}  // namespace ds::train
