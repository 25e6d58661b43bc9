#include <ds/data/fashion_mnist.h>

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <vector>

#include <ds/core/detail/check.h>
#include <ds/ops/factory.h>

namespace ds::data {

namespace {
constexpr const char* kComponent = "fashion_mnist";
constexpr const char* kInstallHint = "install the Debian package dataset-fashion-mnist (./ds setup does)";
constexpr uint32_t kImagesMagic = 0x00000803, kLabelsMagic = 0x00000801;  // u8 data, 3 dims / 1 dim

// A gzipped (or plain) IDX file, read sequentially; every failure names the file.
class IdxReader {
 public:
  explicit IdxReader(std::string path) : path_(std::move(path)) {
    errno = 0;
    file_ = gzopen(path_.c_str(), "rb");
    DS_CHECK(file_ != nullptr, kComponent, "cannot open {}: {}; {}", path_,
             errno ? std::strerror(errno) : "gzopen failed", kInstallHint);
    gzbuffer(file_, 1 << 18);
  }
  ~IdxReader() { gzclose(file_); }
  IdxReader(const IdxReader&) = delete;
  IdxReader& operator=(const IdxReader&) = delete;

  // Reads exactly n bytes; `what` says what they are in the error for a short or corrupt file.
  void read(void* dst, size_t n, const char* what) {
    auto* p = static_cast<char*>(dst);
    size_t done = 0;
    while (done < n) {
      const auto chunk = static_cast<unsigned>(std::min<size_t>(n - done, 1u << 30));
      const int got = gzread(file_, p + done, chunk);
      if (got < 0) {
        int code = 0;
        DS_FAIL(kComponent, "{} is corrupt ({}) while reading the {}", path_, gzerror(file_, &code), what);
      }
      DS_CHECK(got > 0, kComponent, "{} is truncated: the {} need {} bytes, only {} are there", path_, what, n, done);
      done += static_cast<size_t>(got);
    }
  }
  uint32_t read_u32(const char* what) {  // IDX integers are big-endian
    unsigned char b[4];
    read(b, 4, what);
    return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | uint32_t{b[3]};
  }
  void expect_end() {
    char extra;
    DS_CHECK(gzread(file_, &extra, 1) == 0, kComponent, "{} has bytes after the data its header describes", path_);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  gzFile file_ = nullptr;
};

// images: (N,28,28) u8.
Tensor read_images(const std::string& path) {
  IdxReader f(path);
  const uint32_t magic = f.read_u32("header");
  DS_CHECK(magic == kImagesMagic, kComponent, "{}: magic number {:#010x}, expected {:#010x} (u8 images of 3 dims)",
           path, magic, kImagesMagic);
  const uint32_t n = f.read_u32("header"), rows = f.read_u32("header"), cols = f.read_u32("header");
  DS_CHECK(rows == FashionMNIST::kHeight && cols == FashionMNIST::kWidth, kComponent,
           "{}: images of {}x{}, expected 28x28", path, rows, cols);
  DS_CHECK(n > 0 && n <= 10'000'000, kComponent, "{}: implausible image count {}", path, n);
  Tensor images = empty({static_cast<int64_t>(n), int64_t{rows}, int64_t{cols}}, {.dtype = kU8});
  f.read(images.data(), images.nbytes(), "pixels");
  f.expect_end();
  return images;
}

// labels: (N,) i64 in [0, 10).
Tensor read_labels(const std::string& path) {
  IdxReader f(path);
  const uint32_t magic = f.read_u32("header");
  DS_CHECK(magic == kLabelsMagic, kComponent, "{}: magic number {:#010x}, expected {:#010x} (u8 labels of 1 dim)", path,
           magic, kLabelsMagic);
  const uint32_t n = f.read_u32("header");
  DS_CHECK(n > 0 && n <= 10'000'000, kComponent, "{}: implausible label count {}", path, n);
  std::vector<uint8_t> raw(n);
  f.read(raw.data(), raw.size(), "labels");
  f.expect_end();
  Tensor labels = empty({static_cast<int64_t>(n)}, {.dtype = kI64});
  int64_t* out = labels.data_ptr<int64_t>();
  for (uint32_t i = 0; i < n; ++i) {
    DS_CHECK(raw[i] < FashionMNIST::kNumClasses, kComponent, "{}: label {} of example {} is not a class in [0, 10)",
             path, int{raw[i]}, i);
    out[i] = raw[i];
  }
  return labels;
}

}  // namespace

FashionMNIST::FashionMNIST(std::string root, bool train) : train_(train) {
  namespace fs = std::filesystem;
  std::error_code ec;
  DS_CHECK(fs::is_directory(root, ec), kComponent, "directory {} not found (looking for the {} set); {}", root,
           train ? "training" : "test", kInstallHint);
  const std::string prefix = (fs::path(root) / (train ? "train" : "t10k")).string();
  images_ = read_images(prefix + "-images-idx3-ubyte.gz");
  labels_ = read_labels(prefix + "-labels-idx1-ubyte.gz");
  DS_CHECK(images_.size(0) == labels_.size(0), kComponent, "{}: {} images but {} labels", root, images_.size(0),
           labels_.size(0));
  size_ = images_.size(0);
}

SampleSpec FashionMNIST::spec() const { return {{1, kHeight, kWidth}, kF32, {}, kI64}; }

Example FashionMNIST::get(int64_t index) const {
  Example e{empty({1, kHeight, kWidth}), empty({}, {.dtype = kI64})};
  read_into(index, spec(), e.input.data(), e.target.data());
  return e;
}

void FashionMNIST::read_into(int64_t index, const SampleSpec&, void* input, void* target) const {
  check_index(index, size_, kComponent);
  constexpr int64_t kPixels = kHeight * kWidth;
  const uint8_t* src = static_cast<const uint8_t*>(images_.data()) + index * kPixels;
  auto* dst = static_cast<float*>(input);
  // A true division, as torchvision's ToTensor (x / 255 is not x * (1 / 255) bitwise); the loop vectorises.
  for (int64_t i = 0; i < kPixels; ++i) dst[i] = static_cast<float>(src[i]) / 255.0f;
  *static_cast<int64_t*>(target) = static_cast<const int64_t*>(labels_.data())[index];
}

const std::array<std::string_view, FashionMNIST::kNumClasses>& FashionMNIST::class_names() {
  static const std::array<std::string_view, kNumClasses> names = {
      "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
  return names;
}

}  // namespace ds::data
