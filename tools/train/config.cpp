#include "config.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include <ds/core/error.h>

namespace ds::train {
namespace {

// Walks one YAML mapping: every key must be read by a getter or it is reported as unknown when the section closes.
class Section {
 public:
  Section(const YAML::Node& node, std::string path, const std::string& file) : node_(node), path_(std::move(path)), file_(file) {
    if (node_ && !node_.IsNull() && !node_.IsMap()) fail(node_, "must be a mapping of keys to values");
  }
  // Every key must have been read: the rest are unknown keys.
  void finish() const {
    if (!node_ || node_.IsNull()) return;
    for (const auto& kv : node_) {
      const std::string key = kv.first.as<std::string>();
      if (!read_.count(key)) {
        std::string known;
        for (const auto& k : read_) known += (known.empty() ? "" : ", ") + k;
        fail(kv.first, "unknown key '" + where(key) + "' (known keys: " + known + ")");
      }
    }
  }

  template <typename T>
  void get(const std::string& key, T& out) {
    read_.insert(key);
    if (!node_ || node_.IsNull()) return;
    const YAML::Node v = node_[key];
    if (!v) return;
    try {
      out = v.as<T>();
    } catch (const YAML::Exception&) {
      fail(v, "key '" + where(key) + "' must be " + type_name<T>() + ", got '" + text(v) + "'");
    }
  }
  // A mapping of names to numbers, strings or lists of numbers (a model's arguments).
  void args(const std::string& key, models::ModelArgs& out) {
    read_.insert(key);
    if (!node_ || node_.IsNull() || !node_[key]) return;
    const YAML::Node m = node_[key];
    if (!m.IsMap()) fail(m, "key '" + where(key) + "' must be a mapping of argument names to values");
    for (const auto& kv : m) {
      const std::string name = kv.first.as<std::string>();
      const YAML::Node& v = kv.second;
      try {
        if (v.IsSequence()) {
          out.set(name, v.as<std::vector<double>>());
        } else if (v.IsScalar()) {
          double d = 0;
          if (YAML::convert<double>::decode(v, d)) out.set(name, d);
          else out.set(name, v.as<std::string>());
        } else {
          fail(v, "argument '" + where(key) + "." + name + "' must be a number, a string or a list of numbers");
        }
      } catch (const YAML::Exception&) {
        fail(v, "argument '" + where(key) + "." + name + "' must be a number, a string or a list of numbers");
      }
    }
  }
  // A nested mapping.
  Section section(const std::string& key) {
    read_.insert(key);
    return Section(node_ && !node_.IsNull() ? node_[key] : YAML::Node(), where(key), file_);
  }
  // Fails on the key's line when cond is false.
  void check(bool cond, const std::string& key, const std::string& what) {
    if (cond) return;
    const YAML::Node v = node_ && !node_.IsNull() ? node_[key] : YAML::Node();
    fail(v ? v : node_, "key '" + where(key) + "' " + what);
  }
  void one_of(const std::string& key, const std::string& value, std::initializer_list<const char*> allowed) {
    std::string list;
    bool ok = false;
    for (const char* a : allowed) {
      ok |= value == a;
      list += (list.empty() ? "" : ", ") + std::string(a);
    }
    check(ok, key, "must be one of " + list + ", got '" + value + "'");
  }

 private:
  std::string where(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
  [[noreturn]] void fail(const YAML::Node& at, const std::string& msg) const {
    const int line = at ? at.Mark().line : -1;
    throw_error("config", file_ + (line >= 0 ? ":" + std::to_string(line + 1) : "") + ": " + msg);
  }
  static std::string text(const YAML::Node& v) {
    std::ostringstream os;
    os << v;
    return os.str();
  }
  template <typename T>
  static std::string type_name() {
    if constexpr (std::is_same_v<T, bool>) return "true or false";
    else if constexpr (std::is_integral_v<T>) return "an integer";
    else if constexpr (std::is_floating_point_v<T>) return "a number";
    else if constexpr (std::is_same_v<T, std::string>) return "a string";
    else return "a list";
  }

  YAML::Node node_;
  std::string path_;
  const std::string& file_;
  std::set<std::string> read_;
};

// The text keys of `data` (tokenizer, context, windows, held-out split), checked against the model they feed.
void read_text_data(Section& s, DataConfig& d, const ModelConfig& m, bool text_data) {
  {
    Section t = s.section("tokenizer");
    t.get("dir", d.tokenizer.dir);
    t.get("vocab_size", d.tokenizer.vocab_size);
    // 256 byte tokens + the special tokens (5) + at least one merge; ids must fit the u16 token shards.
    t.check(d.tokenizer.vocab_size >= 262 && d.tokenizer.vocab_size <= 65536, "vocab_size",
            "must be in [262, 65536], got " + std::to_string(d.tokenizer.vocab_size));
    t.get("min_frequency", d.tokenizer.min_frequency);
    t.check(d.tokenizer.min_frequency >= 1, "min_frequency", "must be >= 1");
    t.finish();
  }
  s.check(!text_data || !d.tokenizer.dir.empty(), "tokenizer",
          "needs dir: the folder of the tokenizer (vocab.json, merges.txt; trained there when missing)");
  s.get("context_length", d.context_length);
  s.check(d.context_length >= 0 && d.context_length <= m.block_size, "context_length",
          "must be in [0, model.block_size = " + std::to_string(m.block_size) + "] (0: block_size), got " +
              std::to_string(d.context_length));
  s.check(!(m.name == "bert" && d.context_length > 0 && d.context_length < 3), "context_length",
          "must be at least 3 for bert ([CLS] a [SEP] b [SEP])");
  s.get("windows_per_epoch", d.windows_per_epoch);
  s.check(d.windows_per_epoch >= 1, "windows_per_epoch", "must be positive");
  s.get("heldout_fraction", d.heldout_fraction);
  s.check(d.heldout_fraction > 0 && d.heldout_fraction < 0.5, "heldout_fraction", "must be in (0, 0.5)");
  s.get("max_eval_examples", d.max_eval_examples);
  s.check(d.max_eval_examples >= 0, "max_eval_examples", "must be >= 0 (0: all)");
  s.get("mlm_probability", d.mlm_probability);
  s.check(d.mlm_probability > 0 && d.mlm_probability < 1, "mlm_probability", "must be in (0, 1)");
}

}  // namespace

TrainConfig parse_config(const std::string& yaml, const std::string& name) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::ParserException& e) {
    throw_error("config", name + ":" + std::to_string(e.mark.line + 1) + ": not valid YAML: " + e.msg);
  }
  if (!root || root.IsNull())
    throw_error("config", name + ": the file is empty; a config names at least the model or the data (configs/ has "
                                 "examples)");
  TrainConfig c;
  c.path = name;
  Section top(root, "", name);
  {
    Section s = top.section("model");
    s.get("name", c.model.name);
    bool known = c.model.name == "gpt" || c.model.name == "bert";
    std::string names = "gpt, bert";
    for (const models::ZooEntry& e : models::zoo()) {
      known |= e.name == c.model.name;
      names += ", " + e.name;
    }
    s.check(known, "name", "must be a model of the zoo or gpt or bert (" + names + "), got '" + c.model.name + "'");
    s.args("args", c.model.args);
    s.get("num_classes", c.model.num_classes);
    s.check(c.model.num_classes > 1, "num_classes", "must be at least 2");
    s.get("hidden", c.model.hidden);
    ModelConfig& m = c.model;
    s.get("n_layer", m.n_layer);
    s.check(m.n_layer >= 1, "n_layer", "must be positive");
    s.get("n_head", m.n_head);
    s.check(m.n_head >= 1, "n_head", "must be positive");
    s.get("n_embd", m.n_embd);
    s.check(m.n_embd >= 1 && m.n_embd % m.n_head == 0, "n_embd",
            "must be a positive multiple of n_head (" + std::to_string(m.n_head) + "), got " + std::to_string(m.n_embd));
    s.get("block_size", m.block_size);
    s.check(m.block_size >= 3, "block_size", "must be at least 3");
    s.get("dropout", m.dropout);
    s.check(m.dropout >= 0 && m.dropout < 1, "dropout", "must be in [0, 1)");
    s.finish();
  }
  const bool text_model = c.model.name == "gpt" || c.model.name == "bert" ||
                          models::zoo_entry(c.model.name).family == "nlp";
  {
    Section s = top.section("data");
    s.get("dataset", c.data.dataset);
    s.one_of("dataset", c.data.dataset, {"fashion_mnist", "pattern_images", "blobs", "kjv"});
    const bool text_data = c.data.dataset == "kjv";
    s.check(text_data == text_model, "dataset",
            text_model ? "must be a text data set (kjv) for model '" + c.model.name + "', got '" + c.data.dataset + "'"
                       : "'kjv' is text: it needs model gpt or bert, the model is '" + c.model.name + "'");
    s.get("root", c.data.root);
    s.get("batch_size", c.data.batch_size);
    s.check(c.data.batch_size > 0, "batch_size", "must be positive");
    s.get("eval_batch_size", c.data.eval_batch_size);
    s.check(c.data.eval_batch_size > 0, "eval_batch_size", "must be positive");
    s.get("num_workers", c.data.num_workers);
    s.check(c.data.num_workers >= 0, "num_workers", "must be >= 0");
    s.get("shuffle", c.data.shuffle);
    s.get("normalize_mean", c.data.normalize_mean);
    s.get("normalize_std", c.data.normalize_std);
    s.check(c.data.normalize_mean.size() == c.data.normalize_std.size(), "normalize_std",
            "must have as many values as normalize_mean");
    s.get("random_crop_padding", c.data.random_crop_padding);
    s.check(c.data.random_crop_padding >= 0, "random_crop_padding", "must be >= 0");
    s.get("horizontal_flip", c.data.horizontal_flip);
    s.check(c.data.horizontal_flip >= 0 && c.data.horizontal_flip <= 1, "horizontal_flip", "must be a probability in [0, 1]");
    s.get("generated_size", c.data.generated_size);
    s.check(c.data.generated_size >= 8, "generated_size", "must be at least 8");
    s.get("image_channels", c.data.image_channels);
    s.check(c.data.image_channels >= 1 && c.data.image_channels <= 16, "image_channels", "must be in [1, 16]");
    s.get("image_size", c.data.image_size);
    s.check(c.data.image_size >= 4 && c.data.image_size <= 512, "image_size", "must be in [4, 512]");
    if (text_data) {  // the image transforms would meet token ids
      const std::string why = "is an image transform: the text data set kjv has none";
      s.check(c.data.normalize_mean.empty(), "normalize_mean", why);
      s.check(c.data.random_crop_padding == 0, "random_crop_padding", why);
      s.check(c.data.horizontal_flip == 0, "horizontal_flip", why);
    }
    read_text_data(s, c.data, c.model, text_data);
    s.finish();
  }
  {
    Section s = top.section("optimizer");
    s.get("name", c.optimizer.name);
    s.one_of("name", c.optimizer.name, {"sgd", "adam", "adamw", "lamb", "lion"});
    s.get("lr", c.optimizer.lr);
    s.check(c.optimizer.lr > 0, "lr", "must be positive");
    s.get("weight_decay", c.optimizer.weight_decay);
    s.check(c.optimizer.weight_decay >= 0, "weight_decay", "must be >= 0");
    s.get("momentum", c.optimizer.momentum);
    s.get("nesterov", c.optimizer.nesterov);
    s.get("betas", c.optimizer.betas);
    s.check(c.optimizer.betas.empty() || c.optimizer.betas.size() == 2, "betas", "must be a list of two numbers");
    s.get("eps", c.optimizer.eps);
    s.get("clip_grad_norm", c.optimizer.clip_grad_norm);
    s.check(c.optimizer.clip_grad_norm >= 0, "clip_grad_norm", "must be >= 0");
    s.get("grad_accumulation", c.optimizer.grad_accumulation);
    s.check(c.optimizer.grad_accumulation >= 1, "grad_accumulation", "must be >= 1");
    s.finish();
  }
  {
    Section s = top.section("schedule");
    s.get("name", c.schedule.name);
    s.one_of("name", c.schedule.name,
             {"constant", "step", "multistep", "exponential", "cosine", "warmup_cosine", "warmup_linear", "onecycle"});
    s.get("warmup_steps", c.schedule.warmup_steps);
    s.check(c.schedule.warmup_steps >= 0, "warmup_steps", "must be >= 0");
    s.get("min_lr", c.schedule.min_lr);
    s.get("step_size", c.schedule.step_size);
    s.check(c.schedule.step_size > 0, "step_size", "must be positive");
    s.get("milestones", c.schedule.milestones);
    s.get("gamma", c.schedule.gamma);
    s.get("max_lr", c.schedule.max_lr);
    s.finish();
  }
  {
    Section s = top.section("training");
    s.get("epochs", c.training.epochs);
    s.check(c.training.epochs > 0, "epochs", "must be positive");
    s.get("max_steps", c.training.max_steps);
    s.check(c.training.max_steps >= 0, "max_steps", "must be >= 0");
    s.get("seed", c.training.seed);
    s.get("log_interval", c.training.log_interval);
    s.check(c.training.log_interval > 0, "log_interval", "must be positive");
    s.get("max_consecutive_skips", c.training.max_consecutive_skips);
    s.check(c.training.max_consecutive_skips > 0, "max_consecutive_skips", "must be positive");
    s.get("evaluate", c.training.evaluate);
    s.get("eval_interval", c.training.eval_interval);
    s.check(c.training.eval_interval >= 0, "eval_interval", "must be >= 0");
    s.get("threads", c.training.threads);
    s.check(c.training.threads >= 0, "threads", "must be >= 0 (0: the default)");
    s.get("device", c.training.device);
    s.check(c.training.device == "cpu" || c.training.device == "cuda" || c.training.device.rfind("cuda:", 0) == 0,
            "device", "must be cpu, cuda or cuda:N, got '" + c.training.device + "'");
    s.get("precision", c.training.precision);
    s.one_of("precision", c.training.precision, {"fp32", "bf16", "fp16"});
    s.get("compile", c.training.compile);
    // fp16's loss scale is host state the scaler changes between steps, read inside backward: not traceable yet.
    s.check(!c.training.compile || c.training.precision != "fp16", "compile",
            "is not supported with precision fp16 yet (its dynamic loss scale); use fp32 or bf16");
    s.finish();
  }
  {
    Section s = top.section("distributed");
    DistributedConfig& d = c.distributed;
    s.get("strategy", d.strategy);
    s.one_of("strategy", d.strategy, {"none", "data_parallel", "3d_parallel"});
    s.get("data_parallel_size", d.data_parallel_size);
    s.check(d.data_parallel_size >= 0, "data_parallel_size", "must be >= 0 (0: the world size)");
    const std::string later = "comes with tensor and pipeline parallelism, which ds does not have yet: set it to 1 "
                              "(data parallelism runs on every rank)";
    s.get("model_parallel_size", d.model_parallel_size);
    s.check(d.model_parallel_size >= 1, "model_parallel_size", "must be >= 1");
    s.check(d.model_parallel_size == 1, "model_parallel_size", "is " + std::to_string(d.model_parallel_size) +
                                                                    ": a size above 1 " + later);
    s.get("pipeline_parallel_size", d.pipeline_parallel_size);
    s.check(d.pipeline_parallel_size >= 1, "pipeline_parallel_size", "must be >= 1");
    s.check(d.pipeline_parallel_size == 1, "pipeline_parallel_size", "is " +
                                                                          std::to_string(d.pipeline_parallel_size) +
                                                                          ": a size above 1 " + later);
    {
      Section comm = s.section("communication");
      comm.get("type", d.communication);
      comm.one_of("type", d.communication, {"auto", "mpi", "nccl"});
      comm.check(!(d.communication == "nccl" && c.training.device == "cpu"), "type",
                 "is nccl, which communicates CUDA tensors, but training.device is cpu: use mpi, or device cuda");
      comm.check(!(d.communication == "mpi" && c.training.device != "cpu"), "type",
                 "is mpi, which communicates CPU tensors, but training.device is " + c.training.device + ": use nccl");
      Section z = comm.section("compression");
      z.get("enabled", d.compression.enabled);
      z.get("algorithm", d.compression.algorithm);
      z.one_of("algorithm", d.compression.algorithm, {"fp16_quantize", "fp16", "bf16", "int8"});
      z.finish();
      comm.finish();
    }
    s.get("zero", d.zero);
    s.one_of("zero", std::to_string(d.zero), {"0", "1"});
    s.get("bucket_cap_mb", d.bucket_cap_mb);
    s.check(d.bucket_cap_mb > 0, "bucket_cap_mb", "must be positive");
    s.get("find_unused_parameters", d.find_unused_parameters);
    s.finish();
  }
  {
    Section s = top.section("checkpoint");
    s.get("dir", c.checkpoint.dir);
    s.get("interval", c.checkpoint.interval);
    s.check(c.checkpoint.interval >= 0, "interval", "must be >= 0");
    s.get("keep_last", c.checkpoint.keep_last);
    s.check(c.checkpoint.keep_last >= 0, "keep_last", "must be >= 0");
    s.get("resume", c.checkpoint.resume);
    s.finish();
  }
  {
    Section s = top.section("output");
    s.get("csv", c.metrics_csv);
    s.finish();
  }
  {
    Section s = top.section("debug");
    s.get("nan_at_steps", c.debug.nan_at_steps);
    s.finish();
  }
  top.finish();
  return c;
}

TrainConfig load_config(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw_error("config", path + ": is a directory; give the YAML file (configs/ has examples)");
  std::ifstream in(path);
  if (!in) throw_error("config", path + ": cannot open the file");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str(), path);
}

}  // namespace ds::train
