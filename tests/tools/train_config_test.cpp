// ds-train's YAML config: defaults, and every mistake reported with the file, line and key.
#include <catch2/catch.hpp>

#include <ds/core/error.h>

#include "tools/train/config.h"
#include "tools/train/trainer.h"

using ds::train::parse_config;

TEST_CASE("config: values are read and defaults kept", "[tools][config]") {
  const auto c = parse_config("model:\n  name: mlp\n  hidden: [32, 16]\noptimizer:\n  name: sgd\n  lr: 0.1\n  momentum: 0.9\n"
                              "training:\n  epochs: 3\n  seed: 7\n", "t.yaml");
  CHECK(c.model.name == "mlp");
  CHECK(c.model.hidden == std::vector<int64_t>{32, 16});
  CHECK(c.optimizer.lr == 0.1);
  CHECK(c.optimizer.momentum == 0.9);
  CHECK(c.training.epochs == 3);
  CHECK(c.training.seed == 7);
  CHECK(c.data.batch_size == 64);  // default
}

TEST_CASE("config: unknown keys, wrong types and bad values name the file, line and key", "[tools][config]") {
  CHECK_THROWS_WITH(parse_config("model:\n  name: lenet5\noptimizer:\n  lrr: 0.1\n", "a.yaml"),
                    Catch::Contains("[config] a.yaml:4: unknown key 'optimizer.lrr'") && Catch::Contains("known keys: betas, clip_grad_norm, eps, grad_accumulation, lr,"));
  CHECK_THROWS_WITH(parse_config("trainig:\n  epochs: 3\n", "b.yaml"), Catch::Contains("b.yaml:1: unknown key 'trainig'"));
  CHECK_THROWS_WITH(parse_config("training:\n  seed: 1\n  epochs: three\n", "c.yaml"),
                    Catch::Contains("c.yaml:3: key 'training.epochs' must be an integer, got 'three'"));
  CHECK_THROWS_WITH(parse_config("optimizer:\n  lr: -1\n", "d.yaml"), Catch::Contains("d.yaml:2: key 'optimizer.lr' must be positive"));
  CHECK_THROWS_WITH(parse_config("optimizer:\n  name: adagrad\n", "e.yaml"),
                    Catch::Contains("e.yaml:2: key 'optimizer.name' must be one of sgd, adam, adamw, lamb, lion, got 'adagrad'"));
  CHECK_THROWS_WITH(parse_config("data: 5\n", "f.yaml"), Catch::Contains("f.yaml:1: key... ") || Catch::Contains("must be a mapping"));
  CHECK_THROWS_WITH(parse_config("model: {name: [1, 2\n", "g.yaml"), Catch::Contains("g.yaml") && Catch::Contains("not valid YAML"));
  CHECK_THROWS_WITH(parse_config("data:\n  shuffle: maybe\n", "h.yaml"), Catch::Contains("h.yaml:2: key 'data.shuffle' must be true or false"));
}

TEST_CASE("config: the text keys (gpt, bert, kjv, tokenizer) are read and checked", "[tools][config]") {
  const auto c = parse_config("model: {name: gpt, n_layer: 2, n_head: 4, n_embd: 64, block_size: 96, dropout: 0.1}\n"
                              "data:\n  dataset: kjv\n  tokenizer: {dir: tok, vocab_size: 1000, min_frequency: 3}\n"
                              "  context_length: 64\n  windows_per_epoch: 100\n  heldout_fraction: 0.1\n"
                              "  max_eval_examples: 7\n  mlm_probability: 0.2\n"
                              "training: {eval_interval: 25}\n", "t.yaml");
  CHECK(c.model.name == "gpt");
  CHECK((c.model.n_layer == 2 && c.model.n_head == 4 && c.model.n_embd == 64 && c.model.block_size == 96));
  CHECK(c.model.dropout == 0.1);
  CHECK(c.data.dataset == "kjv");
  CHECK(c.data.tokenizer.dir == "tok");
  CHECK(c.data.tokenizer.vocab_size == 1000);
  CHECK(c.data.tokenizer.min_frequency == 3);
  CHECK(c.data.context_length == 64);
  CHECK(c.data.windows_per_epoch == 100);
  CHECK(c.data.heldout_fraction == 0.1);
  CHECK(c.data.max_eval_examples == 7);
  CHECK(c.data.mlm_probability == 0.2);
  CHECK(c.training.eval_interval == 25);
  const auto b = parse_config("model: {name: bert}\ndata: {dataset: kjv, tokenizer: {dir: t}}\n", "b.yaml");
  CHECK(b.model.n_embd == 256);  // defaults
  CHECK(b.data.tokenizer.vocab_size == 4096);
  CHECK(b.data.context_length == 0);

  // Each mistake, and the message it gives: file "c.yaml", then the line.
  const std::string gpt = "model: {name: gpt}\n", kjv = "data:\n  dataset: kjv\n  tokenizer: {dir: t}\n";
  const std::pair<std::string, std::string> mistakes[] = {
      {gpt + "data: {dataset: fashion_mnist}\n", ":2: key 'data.dataset' must be a text data set (kjv) for model 'gpt'"},
      {"model: {name: lenet5}\n" + kjv, ":3: key 'data.dataset' 'kjv' is text: it needs model gpt or bert"},
      {gpt + "data: {dataset: kjv}\n", ":2: key 'data.tokenizer' needs dir: the folder of the tokenizer"},
      {gpt + "data:\n  dataset: kjv\n  tokenizer: {vocab_size: 300}\n", ":4: key 'data.tokenizer' needs dir"},
      {gpt + kjv + "  context_length: 129\n", ":5: key 'data.context_length' must be in [0, model.block_size = 128]"},
      {"model: {name: gpt, n_head: 3}\n" + kjv, ":1: key 'model.n_embd' must be a positive multiple of n_head (3), got 256"},
      {gpt + "data:\n  dataset: kjv\n  tokenizer: {dir: t, vocab_size: 100}\n",
       ":4: key 'data.tokenizer.vocab_size' must be in [262, 65536], got 100"},
      {gpt + "data:\n  dataset: kjv\n  tokenizer: {dir: t, vocab: 1}\n", ":4: unknown key 'data.tokenizer.vocab'"},
      {gpt + kjv + "  normalize_mean: [0.5]\n  normalize_std: [0.5]\n", ":5: key 'data.normalize_mean' is an image transform"},
      {"model: {name: gpt, dropout: 1}\n" + kjv, ":1: key 'model.dropout' must be in [0, 1)"},
      {gpt + kjv + "  heldout_fraction: 0\n", ":5: key 'data.heldout_fraction' must be in (0, 0.5)"},
      {gpt + kjv + "training: {eval_interval: -1}\n", ":5: key 'training.eval_interval' must be >= 0"},
      {"model: {name: bert, block_size: 2}\n" + kjv, ":1: key 'model.block_size' must be at least 3"},
  };
  for (const auto& [yaml, message] : mistakes) {
    INFO(yaml);
    CHECK_THROWS_WITH(parse_config(yaml, "c.yaml"), Catch::Contains("[config] c.yaml" + message));
  }
}

TEST_CASE("config: the seed's distributed block, device and precision", "[tools][config]") {
  const auto c = parse_config(
      "model: {name: lenet5}\n"
      "training: {device: cpu, precision: bf16}\n"
      "distributed:\n  strategy: data_parallel\n  data_parallel_size: 2\n"
      "  communication: {type: mpi, compression: {enabled: true, algorithm: int8}}\n  zero: 1\n", "d.yaml");
  CHECK(c.distributed.strategy == "data_parallel");
  CHECK(c.distributed.data_parallel_size == 2);
  CHECK(c.distributed.communication == "mpi");
  CHECK(c.distributed.compression.enabled);
  CHECK(c.distributed.compression.algorithm == "int8");
  CHECK(c.distributed.zero == 1);
  CHECK(c.training.precision == "bf16");
  // The seed's 3D block with sizes 1 is accepted as written; sizes above 1 wait for tensor/pipeline parallelism.
  CHECK_NOTHROW(parse_config("distributed: {strategy: 3d_parallel, data_parallel_size: 4, model_parallel_size: 1, "
                             "pipeline_parallel_size: 1, communication: {type: mpi, compression: {enabled: true, "
                             "algorithm: fp16_quantize}}}\n", "s.yaml"));
  CHECK_THROWS_WITH(parse_config("distributed: {strategy: 3d_parallel, model_parallel_size: 2}\n", "m.yaml"),
                    Catch::Contains("m.yaml:1: key 'distributed.model_parallel_size' is 2") &&
                        Catch::Contains("tensor and pipeline parallelism"));
  CHECK_THROWS_WITH(parse_config("distributed:\n  pipeline_parallel_size: 4\n", "p.yaml"),
                    Catch::Contains("p.yaml:2: key 'distributed.pipeline_parallel_size' is 4"));
  CHECK_THROWS_WITH(parse_config("distributed: {communication: {type: nccl}}\n", "n.yaml"),
                    Catch::Contains("'distributed.communication.type' is nccl") && Catch::Contains("device is cpu"));
  CHECK_THROWS_WITH(parse_config("distributed: {communication: {compression: {algorithm: zip}}}\n", "z.yaml"),
                    Catch::Contains("algorithm' must be one of fp16_quantize, fp16, bf16, int8, got 'zip'"));
  CHECK_THROWS_WITH(parse_config("distributed: {zero: 2}\n", "z2.yaml"), Catch::Contains("'distributed.zero' must be one of 0, 1"));
  CHECK_THROWS_WITH(parse_config("training: {precision: fp8}\n", "f.yaml"),
                    Catch::Contains("'training.precision' must be one of fp32, bf16, fp16"));
  CHECK_THROWS_WITH(parse_config("training: {device: tpu}\n", "t.yaml"), Catch::Contains("'training.device' must be cpu"));
  CHECK(parse_config("training: {compile: true}\n", "c.yaml").training.compile);
  CHECK_FALSE(parse_config("model: {name: lenet5}\n", "c0.yaml").training.compile);
  CHECK_THROWS_WITH(parse_config("training: {compile: true, precision: fp16}\n", "c16.yaml"),
                    Catch::Contains("'training.compile' is not supported with precision fp16"));
}

TEST_CASE("config: an empty file, a directory and a warmup longer than the run are errors", "[tools][config]") {
  CHECK_THROWS_WITH(parse_config("", "e.yaml"), Catch::Contains("[config] e.yaml: the file is empty"));
  CHECK_THROWS_WITH(parse_config("# only a comment\n", "c.yaml"), Catch::Contains("the file is empty"));
  CHECK_THROWS_WITH(ds::train::load_config(DS_SOURCE_DIR "/configs"), Catch::Contains("is a directory"));
  auto c = parse_config("schedule: {name: warmup_cosine, warmup_steps: 500}\n", "w.yaml");
  CHECK_THROWS_WITH(ds::train::check_schedule(c, 100), Catch::Contains("schedule.warmup_steps is 500") &&
                                                           Catch::Contains("only 100 optimizer steps"));
  CHECK_NOTHROW(ds::train::check_schedule(c, 500));
  c.schedule.name = "cosine";  // no warmup in this schedule
  CHECK_NOTHROW(ds::train::check_schedule(c, 100));
}

TEST_CASE("config: every model of the zoo is a model.name, with args of every kind", "[tools][config]") {
  for (const ds::models::ZooEntry& e : ds::models::zoo()) {
    INFO(e.name);
    const std::string data = e.family == "nlp" ? "data: {dataset: kjv, tokenizer: {dir: tok}}\n" : "";
    const auto c = parse_config("model: {name: " + e.name + "}\n" + data, "z.yaml");
    CHECK(c.model.name == e.name);
  }
  const auto c = parse_config("model: {name: mlp, args: {hidden: [8, 4], dropout: 0.5, mode: fast}}\n", "a.yaml");
  CHECK(c.model.args.integers("hidden", {}) == std::vector<int64_t>{8, 4});
  CHECK(c.model.args.number("dropout", 0) == 0.5);
  CHECK(c.model.args.has("mode"));
  CHECK_THROWS_WITH(parse_config("model: {name: mlp, args: [1, 2]}\n", "b.yaml"),
                    Catch::Contains("b.yaml:1: key 'model.args' must be a mapping"));
  CHECK_THROWS_WITH(parse_config("model: {name: gpt2}\n", "c.yaml"), Catch::Contains("must be a text data set (kjv)"));
}
