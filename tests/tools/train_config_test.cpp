// ds-train's YAML config: defaults, and every mistake reported with the file, line and key.
#include <catch2/catch.hpp>

#include <ds/core/error.h>

#include "tools/train/config.h"

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
