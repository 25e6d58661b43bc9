// ds-train on several ranks, as a user runs it (./ds launch -n 2 -- ds-train config.yaml): the seed's distributed
// block, a run stopped after 10 steps and resumed bitwise (DDP and ZeRO-1 shards), a DDP checkpoint resumed on
// another number of ranks, and LeNet-5 on Fashion-MNIST whose accuracy with fp16 and int8 compression stays within
// one point of the uncompressed run.
#include <cmath>
#include <map>

#include <catch2/catch.hpp>

#include "../tools/tool_test_util.h"

using namespace tool_test;

namespace {

// A small LeNet-5 run on generated images: shuffled, augmented, AdamW with warmup; 2 ranks x batch 16.
std::string write_config(const fs::path& dir, const std::string& distributed) {
  const fs::path p = dir / "config.yaml";
  std::ofstream(p) << "model: {name: lenet5}\n"
                      "data: {dataset: pattern_images, generated_size: 128, batch_size: 16, eval_batch_size: 32,\n"
                      "       num_workers: 1, random_crop_padding: 2, horizontal_flip: 0.5}\n"
                      "optimizer: {name: adamw, lr: 0.003, weight_decay: 0.01, clip_grad_norm: 1.0}\n"
                      "schedule: {name: warmup_cosine, warmup_steps: 3}\n"
                      "training: {epochs: 10, seed: 5, log_interval: 5}\n"
                      "checkpoint: {interval: 0, keep_last: 2}\n"
                   << distributed;
  return p.string();
}

// ds-train under ./ds launch -n ranks; returns the exit code, output in log.
int launch(int ranks, const std::string& args, const fs::path& log) {
  return tool_test::run(DS_SOURCE_DIR "/tools/scripts/launch.sh -n " + std::to_string(ranks) + " -- " DS_TRAIN_BIN,
                        args, log);
}

const char* kBlock =
    "distributed:\n  strategy: data_parallel\n  data_parallel_size: 2\n"
    "  communication: {type: mpi, compression: {enabled: false, algorithm: fp16_quantize}}\n";

}  // namespace

TEST_CASE("ds-train on 2 ranks: stopped after 10 steps and resumed equals 20 straight steps, bitwise",
          "[launcher][ds-train]") {
  for (int zero : {0, 1}) {
    INFO("zero " << zero);
    Dir dir("dist_resume" + std::to_string(zero));
    const std::string cfg = write_config(dir.path, std::string(kBlock) + "  zero: " + std::to_string(zero) + "\n");
    const fs::path straight = dir.path / "straight", split = dir.path / "split";
    REQUIRE(launch(2, cfg + " --max-steps 20 --checkpoint-dir " + straight.string(), dir.path / "a.log") == 0);
    INFO(read(dir.path / "a.log"));
    REQUIRE(launch(2, cfg + " --max-steps 20 --stop-after 10 --checkpoint-dir " + split.string(), dir.path / "b.log") ==
            0);
    REQUIRE(launch(2, cfg + " --max-steps 20 --checkpoint-dir " + split.string(), dir.path / "c.log") == 0);
    const std::string a = read(dir.path / "a.log"), c = read(dir.path / "c.log");
    INFO(c);
    CHECK(c.find("resumed from") != std::string::npos);
    CHECK(a.find("on each of 2 ranks") != std::string::npos);
    CHECK(check_same_checkpoint(straight / "ckpt-0000000020.dsckpt", split / "ckpt-0000000020.dsckpt") > 8);
    if (zero == 1) {
      // Every rank's optimizer shard, written atomically beside rank 0's checkpoint.
      for (int r = 0; r < 2; ++r) {
        const std::string shard = "zero-rank0000" + std::to_string(r) + "-of-00002/ckpt-0000000020.dsckpt";
        CHECK(check_same_checkpoint(straight / shard, split / shard) >= 2);  // moments of the params it owns
      }
    }
    CHECK(last_line_from(a, "test_accuracy=") == last_line_from(c, "test_accuracy="));
  }
}

TEST_CASE("ds-train: a DDP checkpoint of 2 ranks resumes on 1 and on 4", "[launcher][ds-train]") {
  Dir dir("dist_world");
  const std::string cfg = write_config(dir.path, "distributed: {strategy: data_parallel}\n");
  const fs::path ck = dir.path / "ck";
  REQUIRE(launch(2, cfg + " --max-steps 12 --stop-after 6 --checkpoint-dir " + ck.string(), dir.path / "a.log") == 0);
  fs::copy(ck, dir.path / "ck4", fs::copy_options::recursive);
  REQUIRE(tool_test::run(DS_TRAIN_BIN, cfg + " --max-steps 12 --checkpoint-dir " + ck.string(), dir.path / "b.log") ==
          0);
  const std::string one = read(dir.path / "b.log");
  INFO(one);
  CHECK(one.find("saved by 2 rank(s); resuming on 1") != std::string::npos);
  CHECK(fs::exists(ck / "ckpt-0000000012.dsckpt"));
  REQUIRE(launch(4, cfg + " --max-steps 12 --checkpoint-dir " + (dir.path / "ck4").string(), dir.path / "c.log") == 0);
  const std::string four = read(dir.path / "c.log");
  INFO(four);
  CHECK(four.find("saved by 2 rank(s); resuming on 4") != std::string::npos);
  CHECK(fs::exists(dir.path / "ck4" / "ckpt-0000000012.dsckpt"));
}

TEST_CASE("ds-train on 2 ranks: a ZeRO-1 checkpoint refuses another number of ranks, naming why",
          "[launcher][ds-train]") {
  Dir dir("dist_zero_world");
  const std::string cfg = write_config(dir.path, std::string(kBlock) + "  zero: 1\n");
  const fs::path ck = dir.path / "ck";
  REQUIRE(launch(2, cfg + " --max-steps 8 --stop-after 4 --checkpoint-dir " + ck.string(), dir.path / "a.log") == 0);
  const std::string block4 = "distributed: {strategy: data_parallel, zero: 1}\n";
  const std::string cfg4 = write_config(dir.path, block4);
  CHECK(launch(4, cfg4 + " --max-steps 8 --checkpoint-dir " + ck.string(), dir.path / "b.log") != 0);
  const std::string log = read(dir.path / "b.log");
  INFO(log);
  CHECK(log.find("resume a sharded run on the same number of ranks") != std::string::npos);
}

TEST_CASE("LeNet-5 on Fashion-MNIST on 2 ranks: fp16 and int8 compression end within a point of none",
          "[launcher][ds-train][compression]") {
  if (!fs::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")) {
    WARN("SKIPPED: Fashion-MNIST is missing (Debian package dataset-fashion-mnist)");
    return;
  }
  Dir dir("dist_compression");
  std::map<std::string, double> accuracy;
  for (const std::string algo : {"none", "fp16_quantize", "int8"}) {
    const fs::path p = dir.path / (algo + ".yaml");
    std::ofstream(p) << "model: {name: lenet5}\n"
                        "data: {dataset: fashion_mnist, batch_size: 32, eval_batch_size: 1000, num_workers: 1,\n"
                        "       normalize_mean: [0.2860], normalize_std: [0.3530]}\n"
                        "optimizer: {name: adamw, lr: 0.002, weight_decay: 0.0001}\n"
                        "schedule: {name: warmup_cosine, warmup_steps: 100, min_lr: 0.00005}\n"
                        "training: {epochs: 2, seed: 0, log_interval: 400}\n"
                        "distributed:\n  strategy: data_parallel\n  communication:\n    type: mpi\n"
                        "    compression: {enabled: "
                     << (algo == "none" ? "false" : "true") << ", algorithm: "
                     << (algo == "none" ? "fp16_quantize" : algo) << "}\n";
    REQUIRE(launch(2, p.string(), dir.path / (algo + ".log")) == 0);
    const std::string log = read(dir.path / (algo + ".log"));
    INFO(log);
    const std::string line = last_line_from(log, "test_accuracy=");
    REQUIRE(!line.empty());
    accuracy[algo] = std::stod(line.substr(std::string("test_accuracy=").size()));
  }
  INFO("none " << accuracy["none"] << ", fp16 " << accuracy["fp16_quantize"] << ", int8 " << accuracy["int8"]);
  CHECK(accuracy["none"] > 0.85);
  CHECK(std::abs(accuracy["fp16_quantize"] - accuracy["none"]) <= 0.01);
  CHECK(std::abs(accuracy["int8"] - accuracy["none"]) <= 0.01);
}
