// ds-train end to end, as separate processes: a run interrupted after 10 steps and resumed by a fresh process for
// 10 more ends bitwise where 20 straight steps end; an injected NaN is skipped and counted; a run whose loss stays
// NaN stops after max_consecutive_skips and leaves its last good checkpoint untouched.
#include <catch2/catch.hpp>

#include "tool_test_util.h"

using namespace tool_test;

namespace {

// A small LeNet-5 run on generated 28x28 images, 4 optimizer steps per epoch, with every stateful piece in play:
// shuffled data with random crops and flips, two loader workers, dropout-free AdamW with a warmup schedule.
std::string write_config(const fs::path& dir, const std::string& extra,
                         const std::string& training = "training: {epochs: 5, seed: 11, log_interval: 5, threads: 2}\n") {
  const fs::path p = dir / "config.yaml";
  std::ofstream(p) << "model: {name: lenet5}\n"
                      "data: {dataset: pattern_images, generated_size: 64, batch_size: 16, eval_batch_size: 16,\n"
                      "       num_workers: 2, random_crop_padding: 2, horizontal_flip: 0.5}\n"
                      "optimizer: {name: adamw, lr: 0.003, weight_decay: 0.01}\n"
                      "schedule: {name: warmup_cosine, warmup_steps: 3}\n"
                   << training << extra;
  return p.string();
}

// Runs ds-train; returns its exit code and leaves its output in `log`.
int run(const std::string& args, const fs::path& log) { return tool_test::run(DS_TRAIN_BIN, args, log); }

}  // namespace

TEST_CASE("ds-train: 10 steps + save + a fresh process resuming for 10 more equals 20 straight steps, bitwise", "[tools][resume]") {
  Dir dir("resume");
  const std::string cfg = write_config(dir.path, "checkpoint: {interval: 0, keep_last: 2}\n");
  const fs::path straight = dir.path / "straight", split = dir.path / "split";
  REQUIRE(run(cfg + " --max-steps 20 --checkpoint-dir " + straight.string(), dir.path / "a.log") == 0);
  REQUIRE(run(cfg + " --max-steps 20 --stop-after 10 --checkpoint-dir " + split.string(), dir.path / "b.log") == 0);
  CHECK(fs::exists(split / "ckpt-0000000010.dsckpt"));
  REQUIRE(run(cfg + " --max-steps 20 --checkpoint-dir " + split.string(), dir.path / "c.log") == 0);
  INFO(read(dir.path / "c.log"));
  CHECK(read(dir.path / "c.log").find("resumed from") != std::string::npos);
  const int tensors = check_same_checkpoint(straight / "ckpt-0000000020.dsckpt", split / "ckpt-0000000020.dsckpt");
  CHECK(tensors > 20);  // model, optimizer moments
  // And the final test accuracy lines agree.
  const std::string la = read(dir.path / "a.log"), lc = read(dir.path / "c.log");
  CHECK(la.substr(la.rfind("test_accuracy=")) == lc.substr(lc.rfind("test_accuracy=")));
}

TEST_CASE("ds-train: an injected NaN is skipped and counted; a NaN that persists stops the run", "[tools][guard]") {
  Dir dir("guard");
  {
    const std::string cfg = write_config(dir.path, "debug: {nan_at_steps: [3]}\n");
    REQUIRE(run(cfg + " --max-steps 8 --no-resume", dir.path / "one.log") == 0);
    const std::string log = read(dir.path / "one.log");
    INFO(log);
    CHECK(log.find("step 3: the loss is nan") != std::string::npos);
    CHECK(log.find("no op produced one from finite inputs") != std::string::npos);
    CHECK(log.find("test_accuracy=") != std::string::npos);
  }
  {
    const fs::path ck = dir.path / "ck";
    const std::string cfg = write_config(dir.path, "debug: {nan_at_steps: [6, 7, 8, 9, 10, 11, 12]}\n"
                                                   "checkpoint: {interval: 2, keep_last: 5}\n",
                                         "training: {epochs: 5, seed: 11, max_consecutive_skips: 3, threads: 2}\n");
    const int code = run(cfg + " --max-steps 20 --checkpoint-dir " + ck.string(), dir.path / "stop.log");
    const std::string log = read(dir.path / "stop.log");
    INFO(log);
    CHECK(code == 3);
    CHECK(log.find("3 consecutive steps had a non-finite loss") != std::string::npos);
    // Steps 2, 4 and 6 were saved (step 6 is the state after 6 good steps); nothing after the NaNs began.
    CHECK(fs::exists(ck / "ckpt-0000000006.dsckpt"));
    CHECK_FALSE(fs::exists(ck / "ckpt-0000000008.dsckpt"));
    CHECK(ds::load_checkpoint((ck / "ckpt-0000000006.dsckpt").string()).integer("step") == 6);
  }
}

TEST_CASE("ds-train training.compile: the same checkpoint as eager, bitwise; distributed and fp16 refused", "[tools][compile]") {
  Dir dir("compile");
  const std::string training = "training: {epochs: 5, seed: 11, log_interval: 5, threads: 2";
  const std::string eager = write_config(dir.path, "", training + "}\n");
  REQUIRE(run(eager + " --max-steps 12 --checkpoint-dir " + (dir.path / "eager").string(), dir.path / "a.log") == 0);
  const std::string compiled = write_config(dir.path, "", training + ", compile: true}\n");
  REQUIRE(run(compiled + " --max-steps 12 --checkpoint-dir " + (dir.path / "compiled").string(), dir.path / "b.log") ==
          0);
  const std::string log = read(dir.path / "b.log");
  INFO(log);
  CHECK(log.find("[compile] ds-train step: traced") != std::string::npos);
  CHECK(check_same_checkpoint(dir.path / "eager" / "ckpt-0000000012.dsckpt",
                              dir.path / "compiled" / "ckpt-0000000012.dsckpt") > 20);
  const std::string fp16 = write_config(dir.path, "", training + ", compile: true, precision: fp16}\n");
  CHECK(run(fp16 + " --max-steps 2", dir.path / "c.log") != 0);
  CHECK(read(dir.path / "c.log").find("compile") != std::string::npos);
}

TEST_CASE("ds-train trains zoo models by name, with their arguments, on images they admit", "[tools][zoo]") {
  Dir dir("zoo");
  const std::pair<std::string, std::string> models[] = {
      {"resnet18", "{}"}, {"mobilenet_v2", "{width_mult: 0.5}"}, {"squeezenet1_1", "{}"},
      {"googlenet", "{aux_logits: false, dropout: 0.1}"}, {"vgg11_bn", "{init_weights: false}"},
      {"mlp", "{hidden: [32]}"}};
  for (const auto& [name, args] : models) {
    INFO(name);
    const fs::path p = dir.path / (name + ".yaml");
    std::ofstream(p) << "model: {name: " << name << ", num_classes: 4, args: " << args << "}\n"
                     << "data: {dataset: pattern_images, generated_size: 16, batch_size: 4, eval_batch_size: 8,\n"
                        "       image_channels: 3, image_size: 32}\n"
                        "optimizer: {name: sgd, lr: 0.01}\ntraining: {epochs: 1, max_steps: 2, log_interval: 1}\n";
    REQUIRE(run(p.string(), dir.path / (name + ".log")) == 0);
    CHECK(read(dir.path / (name + ".log")).find("test_accuracy=") != std::string::npos);
  }
  // What a model cannot take is named: an unknown argument, too few channels, too small an image.
  auto fails_with = [&](const std::string& model, const std::string& data, const std::string& why) {
    const fs::path p = dir.path / "bad.yaml";
    std::ofstream(p) << "model: " << model << "\ndata: {dataset: pattern_images, generated_size: 16, " << data
                     << "}\ntraining: {max_steps: 1}\n";
    CHECK(run(p.string(), dir.path / "bad.log") != 0);
    const std::string log = read(dir.path / "bad.log");
    INFO(log);
    CHECK(log.find(why) != std::string::npos);
  };
  fails_with("{name: resnet18, args: {width_mult: 2}}", "image_channels: 3, image_size: 32",
             "resnet18: argument 'width_mult' is unknown; resnet18 takes num_classes");
  fails_with("{name: resnet18}", "image_size: 32", "model 'resnet18' needs images (3, H, W)");
  fails_with("{name: alexnet}", "image_channels: 3, image_size: 32", "needs images of at least 63x63");
}
