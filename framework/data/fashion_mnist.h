#pragma once
// Fashion-MNIST (Zalando): 60000 training and 10000 test greyscale 28x28 images of 10 kinds of clothing, read from
// the gzipped IDX files that the Debian package dataset-fashion-mnist installs (train-images-idx3-ubyte.gz,
// train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz). The pixels stay u8 in memory
// (47 MB for the training set instead of 188 MB as f32); they become f32 in [0, 1] as each example is read.
#include <array>
#include <string>
#include <string_view>

#include <ds/data/dataset.h>

namespace ds::data {

class FashionMNIST : public Dataset {
 public:
  static constexpr std::string_view kDefaultRoot = "/usr/share/datasets/fashion-mnist";
  static constexpr int64_t kNumClasses = 10, kHeight = 28, kWidth = 28;

  // Reads the training (train = true) or test set from `root`. Throws ds::Error "[fashion_mnist] ..." naming the file
  // for a missing directory or file (and saying to install dataset-fashion-mnist), or for a file that is truncated,
  // corrupt, or whose magic number, counts or dimensions are wrong.
  explicit FashionMNIST(std::string root = std::string(kDefaultRoot), bool train = true);

  int64_t size() const override { return size_; }
  // input: (1,28,28) f32 in [0,1] (pixel / 255, as torchvision's ToTensor); target: () i64 class in [0,10).
  Example get(int64_t index) const override;
  SampleSpec spec() const override;
  void read_into(int64_t index, const SampleSpec& spec, void* input, void* target) const override;

  // Every image as stored: (N,28,28) u8, and every label: (N,) i64.
  const Tensor& images() const { return images_; }
  const Tensor& labels() const { return labels_; }
  bool train() const { return train_; }
  // "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot".
  static const std::array<std::string_view, kNumClasses>& class_names();

 private:
  bool train_;
  int64_t size_ = 0;
  Tensor images_, labels_;
};

}  // namespace ds::data
