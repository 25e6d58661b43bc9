// The vision zoo against torchvision itself ("[torch]": needs python3 with torch, torchvision and numpy; skipped
// visibly without them). For every model: exactly torchvision's state_dict keys with the same shapes. For all but
// the big VGGs (vgg11_bn stands for them) and the deeper ResNets, also the outputs of both on the same weights and
// input, in float64, in training mode (batch statistics) with dropout and stochastic depth switched off, GoogLeNet's
// auxiliary logits and Inception-v3's (at 299x299) included. The python side is tests/models/torchvision_reference.py.
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>

#include <unistd.h>

#include <catch2/catch.hpp>

#include <ds/ds.h>
#include <ds/models/vision/googlenet.h>
#include <ds/models/vision/inception.h>
#include <ds/models/vision/vgg.h>
#include <ds/models/zoo.h>

using namespace ds;
namespace fs = std::filesystem;

namespace {

bool have_torchvision() {
  static const bool ok = std::system("python3 -c 'import torch, torchvision, numpy' >/dev/null 2>&1") == 0;
  return ok;
}

struct TorchCase {
  std::string name;    // torchvision's builder
  std::string kwargs;  // its keyword arguments, as python literals
  std::function<std::shared_ptr<nn::Module>()> make;
  bool compare_outputs = true;  // false: keys and shapes only
  int64_t size = 64;            // input resolution
  // The outputs in torchvision's order (the logits, then auxiliary logits); default: model(x).
  std::function<std::vector<Tensor>(nn::Module&, const Tensor&)> run = {};
};

void write_case(const TorchCase& c, nn::Module& m, const fs::path& dir, const Tensor& x) {
  fs::create_directories(dir);
  std::ofstream(dir / "case.txt") << "model " << c.name << "\nkwargs " << c.kwargs << "\nmode "
                                  << (c.compare_outputs ? "train" : "keys") << "\ninput " << x.size(0) << " " << x.size(1)
                                  << " " << x.size(2) << " " << x.size(3) << "\n";
  std::ofstream keys(dir / "state.txt");
  std::ofstream values;
  if (c.compare_outputs) values.open(dir / "state.bin", std::ios::binary);
  for (const auto& [name, value] : m.state_dict()) {
    const Tensor& t = std::get<Tensor>(value);
    keys << name;
    for (int64_t s : t.sizes()) keys << " " << s;
    keys << "\n";
    if (!c.compare_outputs) continue;
    const Tensor f = t.to(kF32).contiguous();
    values.write(static_cast<const char*>(f.data()), static_cast<std::streamsize>(f.nbytes()));
  }
  if (!c.compare_outputs) return;
  const Tensor xd = x.contiguous();
  std::ofstream(dir / "input.bin", std::ios::binary)
      .write(static_cast<const char*>(xd.data()), static_cast<std::streamsize>(xd.nbytes()));
}

std::vector<double> read_doubles(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::vector<double> v(fs::file_size(p) / sizeof(double));
  f.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(double)));
  return v;
}

std::string read_text(const fs::path& p) {
  std::ifstream f(p);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// Training mode, with every Dropout and StochasticDepth in eval mode (the identity).
void train_without_dropout(nn::Module& m) {
  m.train();
  m.apply([](nn::Module& sub) {
    if (sub.type_name() == "Dropout" || sub.type_name() == "StochasticDepth") sub.eval();
  });
}

std::vector<TorchCase> cases() {
  auto zoo = [](const char* name) { return [name] { return models::zoo_entry(name).create(); }; };
  std::vector<TorchCase> v{
      {"alexnet", "", zoo("alexnet"), true, 64},
      {"vgg11_bn", "init_weights=False", [] { return models::vgg11_bn(1000, false); }, true, 32},
      {"resnet18", "", zoo("resnet18")},
      {"resnet50", "", zoo("resnet50")},
      {"googlenet", "init_weights=False", zoo("googlenet"), true, 64,
       [](nn::Module& m, const Tensor& x) {
         const auto o = dynamic_cast<models::GoogLeNet&>(m).forward_with_aux(x);
         return std::vector<Tensor>{o.logits, o.aux2, o.aux1};
       }},
      {"inception_v3", "init_weights=False", zoo("inception_v3"), true, 299,
       [](nn::Module& m, const Tensor& x) {
         const auto o = dynamic_cast<models::Inception3&>(m).forward_with_aux(x);
         return std::vector<Tensor>{o.logits, o.aux_logits};
       }},
      {"densenet121", "", zoo("densenet121")},
      {"squeezenet1_0", "", zoo("squeezenet1_0")},
      {"squeezenet1_1", "", zoo("squeezenet1_1")},
      {"mobilenet_v2", "", zoo("mobilenet_v2")},
      {"shufflenet_v2_x1_0", "", zoo("shufflenet_v2_x1_0")},
      {"efficientnet_b0", "", zoo("efficientnet_b0")},
      {"regnet_y_400mf", "", zoo("regnet_y_400mf")},
  };
  // The other VGGs differ from vgg11_bn only in their lists of layers (the plain ones without the batch norms):
  // their keys and shapes are enough.
  using VggFactory = std::shared_ptr<models::VGG> (*)(int64_t, bool);
  const std::pair<const char*, VggFactory> vggs[] = {{"vgg11", models::vgg11},       {"vgg13", models::vgg13},
                                                     {"vgg13_bn", models::vgg13_bn}, {"vgg16", models::vgg16},
                                                     {"vgg16_bn", models::vgg16_bn}, {"vgg19", models::vgg19},
                                                     {"vgg19_bn", models::vgg19_bn}};
  for (const auto& [name, make] : vggs)
    v.push_back({name, "init_weights=False", [make = make] { return make(1000, false); }, false});
  for (const char* name : {"resnet34", "resnet101", "resnet152"}) v.push_back({name, "", zoo(name), false});
  return v;
}

}  // namespace

TEST_CASE("vision zoo against torchvision: state_dict keys, shapes and float64 outputs on the same weights",
          "[models][vision][torch]") {
  if (!have_torchvision()) {
    WARN("SKIPPED: python3 cannot import torch, torchvision and numpy");
    return;
  }
  std::string dir_name = "ds_vision_torchvision_";
  dir_name += std::to_string(::getpid());
  const fs::path root = fs::temp_directory_path() / dir_name;
  fs::remove_all(root);
  struct Built {
    TorchCase c;
    fs::path dir;
    std::vector<Tensor> outputs;
  };
  std::vector<Built> built;
  std::string dirs;
  for (const TorchCase& c : cases()) {
    INFO("model " << c.name);
    manual_seed(7);
    auto m = c.make();
    const Tensor x = randn({2, 3, c.size, c.size}, {.dtype = kF64});
    Built b{c, root / c.name, {}};
    write_case(c, *m, b.dir, x);
    if (c.compare_outputs) {
      m->to(kF64);
      train_without_dropout(*m);
      NoGradGuard no_grad;
      b.outputs = c.run ? c.run(*m, x) : std::vector<Tensor>{(*m)(x)};
    }
    dirs += ' ';
    dirs += b.dir.string();
    built.push_back(std::move(b));
  }
  const int status = std::system(("python3 " DS_SOURCE_DIR "/tests/models/torchvision_reference.py" + dirs).c_str());
  for (const Built& b : built) {
    INFO("model " << b.c.name);
    if (fs::exists(b.dir / "errors.txt")) FAIL_CHECK(read_text(b.dir / "errors.txt"));
    if (!b.c.compare_outputs) continue;
    REQUIRE(fs::exists(b.dir / "output.bin"));
    const std::vector<double> ref = read_doubles(b.dir / "output.bin");
    std::vector<double> ours;
    for (const Tensor& t : b.outputs) {
      REQUIRE(t.defined());
      const std::vector<double> v = t.contiguous().tolist<double>();
      ours.insert(ours.end(), v.begin(), v.end());
    }
    REQUIRE(ours.size() == ref.size());
    double max_err = 0, max_ref = 0;
    for (size_t i = 0; i < ref.size(); ++i) {
      max_err = std::max(max_err, std::abs(ours[i] - ref[i]));
      max_ref = std::max(max_ref, std::abs(ref[i]));
    }
    INFO("max |ds - torchvision| = " << max_err << ", max |torchvision| = " << max_ref);
    CHECK(max_ref > 0);
    CHECK(max_err <= 1e-9 * std::max(max_ref, 1.0));
  }
  CHECK(status == 0);
  fs::remove_all(root);
}
