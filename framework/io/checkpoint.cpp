// save_checkpoint and the reader behind load_checkpoint, verify_checkpoint and read_checkpoint_info. The reader
// trusts nothing: each length is checked against what the file holds before it is used.
#include <ds/io/checkpoint.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <limits>
#include <unordered_set>

#include <ds/core/detail/check.h>

#include "checkpoint.pb.h"
#include "detail/checksum.h"
#include "detail/file.h"
#include "detail/format.h"

namespace ds {
namespace {

using namespace io;

template <typename... Args>
[[noreturn]] void fail(const std::string& path, fmt::format_string<Args...> f, Args&&... args) {
  throw_error("checkpoint", path + ": " + fmt::format(f, std::forward<Args>(args)...));
}

pb::DType to_pb(DType t) {
  switch (t) {
    case DType::f32: return pb::DTYPE_F32;
    case DType::f64: return pb::DTYPE_F64;
    case DType::f16: return pb::DTYPE_F16;
    case DType::bf16: return pb::DTYPE_BF16;
    case DType::i64: return pb::DTYPE_I64;
    case DType::i32: return pb::DTYPE_I32;
    case DType::i8: return pb::DTYPE_I8;
    case DType::u8: return pb::DTYPE_U8;
    case DType::b8: return pb::DTYPE_BOOL;
  }
  return pb::DTYPE_UNSPECIFIED;
}

std::optional<DType> from_pb(int code) {
  switch (code) {
    case pb::DTYPE_F32: return kF32;
    case pb::DTYPE_F64: return kF64;
    case pb::DTYPE_F16: return kF16;
    case pb::DTYPE_BF16: return kBF16;
    case pb::DTYPE_I64: return kI64;
    case pb::DTYPE_I32: return kI32;
    case pb::DTYPE_I8: return kI8;
    case pb::DTYPE_U8: return kU8;
    case pb::DTYPE_BOOL: return kBool;
    default: return std::nullopt;
  }
}

// The tensor's bytes as they go to disk: on the host, contiguous, cut from autograd.
Tensor host_contiguous(const Tensor& t) {
  Tensor c = t.detach();
  if (!c.is_cpu()) c = c.to(kCPU);
  if (!c.is_contiguous()) c = c.contiguous();
  return c;
}

int64_t now_unix_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// ---- reading

// A tensor entry whose dtype, shape, size and place in the data section have been checked.
struct TensorRef {
  int entry = 0;
  DType dtype = kF32;
  Shape shape;
  uint64_t offset = 0, nbytes = 0;
  uint32_t crc = 0;
};

struct Parsed {
  pb::Header header;
  uint64_t data_start = 0;
  std::vector<TensorRef> tensors;  // in entry order
};

std::string describe(const pb::Header& h, int i) { return fmt::format("entry {} ('{}')", i, h.entries(i).name()); }

void check_magic(const std::string& path, const std::array<unsigned char, 8>& magic) {
  if (magic == kMagic) return;
  if (std::equal(magic.begin() + 1, magic.begin() + 5, kMagic.begin() + 1))
    fail(path, "its signature bytes are altered ({:02x}, expected {:02x}): the file went through a text-mode or 7-bit "
               "copy; copy it in binary mode", fmt::join(magic, " "), fmt::join(kMagic, " "));
  fail(path, "not a ds checkpoint (it starts with bytes {:02x}, a checkpoint with {:02x})", fmt::join(magic, " "),
       fmt::join(kMagic, " "));
}

TensorRef check_tensor(const std::string& path, const pb::Header& h, int i, const pb::Tensor& t) {
  const std::vector<int64_t> dims(t.shape().begin(), t.shape().end());
  const std::optional<DType> dtype = from_pb(t.dtype());
  if (!dtype) fail(path, "{}: unknown dtype code {}", describe(h, i), static_cast<int>(t.dtype()));
  // numel, and the product of the non-zero dimensions (which bounds every stride), must fit in int64.
  uint64_t extent = 1;
  bool zero = false;
  for (int64_t d : dims) {
    if (d < 0) fail(path, "{}: negative dimension in shape {}", describe(h, i), IntArrayRef(dims));
    if (d == 0) zero = true;
    else if (__builtin_mul_overflow(extent, static_cast<uint64_t>(d), &extent) ||
             extent > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      fail(path, "{}: shape {} has more elements than an int64 counts", describe(h, i), IntArrayRef(dims));
  }
  const uint64_t numel = zero ? 0 : extent;
  uint64_t nbytes = 0;
  if (__builtin_mul_overflow(numel, itemsize(*dtype), &nbytes))
    fail(path, "{}: a {} tensor of shape {} is too large", describe(h, i), dtype_name(*dtype), IntArrayRef(dims));
  if (t.nbytes() != nbytes)
    fail(path, "{}: says {} bytes, but a {} tensor of shape {} has {}", describe(h, i), t.nbytes(),
         dtype_name(*dtype), IntArrayRef(dims), nbytes);
  if (t.offset() % kAlignment != 0)
    fail(path, "{}: offset {} is not a multiple of {}", describe(h, i), t.offset(), kAlignment);
  if (t.offset() > h.data_size() || nbytes > h.data_size() - t.offset())
    fail(path, "{}: its {} bytes at offset {} lie outside the data section ({} bytes)", describe(h, i), nbytes,
         t.offset(), h.data_size());
  return TensorRef{i, *dtype, Shape(dims.begin(), dims.end()), t.offset(), nbytes, t.crc32c()};
}

// Reads and checks everything but the tensor bytes.
Parsed parse(const InputFile& f) {
  const std::string& path = f.path();
  const uint64_t size = f.size();
  constexpr uint64_t kMinSize = kPreambleSize + kHeaderCrcSize;
  if (size < kMinSize)
    fail(path, "too short to be a checkpoint ({} bytes; even an empty one has {})", size, align_up(kMinSize));
  std::array<unsigned char, kPreambleSize> pre{};
  f.read_at(pre.data(), kPreambleSize, 0, "the preamble");
  const Preamble p = Preamble::decode(pre.data());
  check_magic(path, p.magic);
  if (p.version > kFormatVersion)
    fail(path, "written by a newer ds (format {}, this build reads up to {})", p.version, kFormatVersion);
  if (p.version == 0) fail(path, "format version 0 does not exist: the preamble is corrupt");
  if (p.flags != 0) fail(path, "unknown flags {:#x} in the preamble (format {} defines none)", p.flags, p.version);
  if (p.header_len > size - kMinSize)
    fail(path, "the header length {} runs past the end of the file ({} bytes): truncated or corrupt", p.header_len,
         size);
  if (p.header_len > static_cast<uint64_t>(INT_MAX))
    fail(path, "a header of {} bytes is beyond protobuf's 2 GiB limit", p.header_len);

  const uint64_t len = p.header_len;
  std::vector<unsigned char> head(kPreambleSize + len + kHeaderCrcSize);
  std::copy(pre.begin(), pre.end(), head.begin());
  f.read_at(head.data() + kPreambleSize, len + kHeaderCrcSize, kPreambleSize, "the header");
  const uint32_t stored = load_u32(head.data() + kPreambleSize + len);
  const uint32_t computed = crc32c(head.data(), kPreambleSize + len);
  if (stored != computed)
    fail(path, "header checksum mismatch (stored {:#010x}, computed {:#010x}): bytes 0 to {} are corrupt", stored,
         computed, kPreambleSize + len);

  Parsed out;
  if (!out.header.ParseFromArray(head.data() + kPreambleSize, static_cast<int>(len)))
    fail(path, "the header (bytes {} to {}) is not a valid protobuf message", kPreambleSize, kPreambleSize + len);
  const pb::Header& h = out.header;
  if (h.format_version() != p.version)
    fail(path, "the header says format {} but the preamble says {}", h.format_version(), p.version);

  out.data_start = align_up(kMinSize + len);
  if (out.data_start > size)
    fail(path, "truncated: the data section should start at byte {}, the file has {} bytes", out.data_start, size);
  const uint64_t have = size - out.data_start;
  if (h.data_size() > have)
    fail(path, "truncated: the data section has {} of its {} bytes (the file should have {} bytes more)", have,
         h.data_size(), h.data_size() - have);
  if (h.data_size() < have)
    fail(path, "{} unexpected bytes after the end of the data section (byte {}): appended to or corrupt",
         have - h.data_size(), out.data_start + h.data_size());

  std::unordered_set<std::string_view> names;
  for (int i = 0; i < h.entries_size(); ++i) {
    const pb::Entry& e = h.entries(i);
    if (!names.insert(e.name()).second) fail(path, "{}: a second entry with this name", describe(h, i));
    switch (e.value_case()) {
      case pb::Entry::kTensor: out.tensors.push_back(check_tensor(path, h, i, e.tensor())); break;
      case pb::Entry::kInteger:
      case pb::Entry::kReal:
      case pb::Entry::kText: break;
      case pb::Entry::VALUE_NOT_SET: fail(path, "{}: holds no value this build knows", describe(h, i));
    }
  }
  // Tensors may not share bytes: what a file makes us allocate is then bounded by its size.
  std::vector<const TensorRef*> by_offset;
  for (const TensorRef& t : out.tensors)
    if (t.nbytes > 0) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(),
            [](auto* a, auto* b) { return std::pair(a->offset, a->entry) < std::pair(b->offset, b->entry); });
  for (size_t k = 1; k < by_offset.size(); ++k)
    if (by_offset[k]->offset < by_offset[k - 1]->offset + by_offset[k - 1]->nbytes)
      fail(path, "{} and {} overlap in the data section", describe(h, by_offset[k - 1]->entry),
           describe(h, by_offset[k]->entry));
  return out;
}

// Checks one tensor's bytes, seen in pieces: `first` is the byte index of this piece within the tensor.
void check_bool_bytes(const std::string& path, const std::string& where, const unsigned char* p, uint64_t n,
                      uint64_t first) {
  for (uint64_t k = 0; k < n; ++k)
    if (p[k] > 1) fail(path, "{}: bool element {} holds the byte {:#04x}", where, first + k, p[k]);
}

void check_crc(const std::string& path, const std::string& where, const Parsed& p, const TensorRef& r,
               uint32_t computed) {
  if (computed != r.crc)
    fail(path, "{}: checksum mismatch over its {} bytes at file offset {} (stored {:#010x}, computed {:#010x}): "
               "the tensor data is corrupt", where, r.nbytes, p.data_start + r.offset, r.crc, computed);
}

Tensor read_tensor(const InputFile& f, const Parsed& p, const TensorRef& r) {
  const std::string where = describe(p.header, r.entry);
  Tensor t(empty_base(r.shape, r.dtype, kCPU));
  auto* bytes = static_cast<unsigned char*>(t.data());
  if (r.nbytes > 0) f.read_at(bytes, r.nbytes, p.data_start + r.offset, where);
  check_crc(f.path(), where, p, r, crc32c(bytes, r.nbytes));
  if (r.dtype == kBool) check_bool_bytes(f.path(), where, bytes, r.nbytes, 0);
  return t;
}

void verify_tensor(const InputFile& f, const Parsed& p, const TensorRef& r, std::vector<unsigned char>& buf) {
  const std::string where = describe(p.header, r.entry);
  uint32_t crc = 0;
  for (uint64_t done = 0; done < r.nbytes;) {
    const uint64_t n = std::min<uint64_t>(buf.size(), r.nbytes - done);
    f.read_at(buf.data(), n, p.data_start + r.offset + done, where);
    crc = crc32c(buf.data(), n, crc);
    if (r.dtype == kBool) check_bool_bytes(f.path(), where, buf.data(), n, done);
    done += n;
  }
  check_crc(f.path(), where, p, r, crc);
}

}  // namespace

void save_checkpoint(const std::string& path, const StateDict& state) {
  pb::Header header;
  header.set_format_version(kFormatVersion);
  header.set_ds_version(DS_VERSION);
  header.set_created_unix_ms(now_unix_ms());
  std::vector<std::pair<uint64_t, Tensor>> blobs;  // (offset in the data section, bytes)
  uint64_t end = 0;
  for (const auto& [name, value] : state) {
    pb::Entry* e = header.add_entries();
    e->set_name(name);
    if (const Tensor* t = std::get_if<Tensor>(&value)) {
      DS_CHECK(t->defined(), "checkpoint", "{}: entry '{}' is an undefined tensor", path, name);
      Tensor c = host_contiguous(*t);
      pb::Tensor* pt = e->mutable_tensor();
      pt->set_dtype(to_pb(c.dtype()));
      for (int64_t d : c.sizes()) pt->add_shape(d);
      const uint64_t offset = align_up(end);
      pt->set_offset(offset);
      pt->set_nbytes(c.nbytes());
      pt->set_crc32c(crc32c(c.data(), c.nbytes()));
      end = offset + c.nbytes();
      blobs.emplace_back(offset, std::move(c));
    } else if (const int64_t* i = std::get_if<int64_t>(&value)) {
      e->set_integer(*i);
    } else if (const double* d = std::get_if<double>(&value)) {
      e->set_real(*d);
    } else {
      e->set_text(std::get<std::string>(value));
    }
  }
  header.set_data_size(end);
  std::string encoded;
  DS_CHECK(header.SerializeToString(&encoded), "checkpoint", "{}: cannot encode the header", path);

  const uint64_t len = encoded.size();
  std::vector<unsigned char> head(kPreambleSize + len + kHeaderCrcSize);
  Preamble{kMagic, kFormatVersion, 0, len}.encode(head.data());
  std::copy(encoded.begin(), encoded.end(), head.begin() + kPreambleSize);
  store_u32(head.data() + kPreambleSize + len, crc32c(head.data(), kPreambleSize + len));

  AtomicWriter w(path);
  w.write(head.data(), head.size());
  w.write_zeros(align_up(head.size()) - head.size());
  uint64_t pos = 0;
  for (const auto& [offset, t] : blobs) {
    w.write_zeros(offset - pos);
    w.write(t.data(), t.nbytes());
    pos = offset + t.nbytes();
  }
  w.commit();
}

StateDict load_checkpoint(const std::string& path) {
  const InputFile f(path);
  const Parsed p = parse(f);
  StateDict out;
  size_t next_tensor = 0;
  for (const pb::Entry& e : p.header.entries()) {
    switch (e.value_case()) {
      case pb::Entry::kTensor: out.set(e.name(), read_tensor(f, p, p.tensors[next_tensor++])); break;
      case pb::Entry::kInteger: out.set(e.name(), static_cast<int64_t>(e.integer())); break;
      case pb::Entry::kReal: out.set(e.name(), e.real()); break;
      case pb::Entry::kText: out.set(e.name(), e.text()); break;
      case pb::Entry::VALUE_NOT_SET: break;  // rejected by parse
    }
  }
  return out;
}

void verify_checkpoint(const std::string& path) {
  const InputFile f(path);
  const Parsed p = parse(f);
  uint64_t largest = 0;
  for (const TensorRef& r : p.tensors) largest = std::max(largest, r.nbytes);
  std::vector<unsigned char> buf(static_cast<size_t>(std::clamp<uint64_t>(largest, 1, uint64_t{4} << 20)));
  for (const TensorRef& r : p.tensors) verify_tensor(f, p, r, buf);
}

CheckpointInfo read_checkpoint_info(const std::string& path) {
  const InputFile f(path);
  const Parsed p = parse(f);
  CheckpointInfo info;
  info.format_version = p.header.format_version();
  info.ds_version = p.header.ds_version();
  info.created_unix_ms = p.header.created_unix_ms();
  info.file_size = f.size();
  for (const pb::Entry& e : p.header.entries()) info.names.push_back(e.name());
  return info;
}

}  // namespace ds
