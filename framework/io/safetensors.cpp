// The safetensors reader and writer. The header's JSON goes through nlohmann_json (kept out of the public header);
// file access and the atomic write are the checkpoint code's (detail/file.h). The reader trusts nothing: the header
// length is checked against the file before the header is read, and the whole header before any tensor is allocated.
#include <ds/io/safetensors.h>

#include <algorithm>
#include <numeric>
#include <optional>
#include <string_view>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include <ds/core/detail/check.h>

#include "detail/file.h"
#include "detail/format.h"

namespace ds {
namespace {

// ordered_json keeps the header's order, which becomes the StateDict's.
using Json = nlohmann::ordered_json;

constexpr std::string_view kTag = "safetensors";
constexpr uint64_t kLengthSize = 8;
// The python package's MAX_HEADER_SIZE: a longer header is a corrupt length field, not a model.
constexpr uint64_t kMaxHeaderSize = 100'000'000;
// The deepest a well-formed header nests: top object (0) > entry (1) > "shape" array (2) > its numbers (3).
constexpr int kMaxDepth = 3;
constexpr std::string_view kMetadataKey = "__metadata__";

template <typename... Args>
[[noreturn]] void fail(const std::string& path, fmt::format_string<Args...> f, Args&&... args) {
  throw_error(kTag, path + ": " + fmt::format(f, std::forward<Args>(args)...));
}

// The format's dtype codes; those without a ds dtype are listed so that the error can say so instead of "unknown".
struct DTypeCode {
  std::string_view code;
  std::optional<DType> dtype;
};
constexpr DTypeCode kDTypeCodes[] = {
    {"F64", kF64},  {"F32", kF32},  {"F16", kF16},     {"BF16", kBF16},    {"I64", kI64},      {"I32", kI32},
    {"I8", kI8},    {"U8", kU8},    {"BOOL", kBool},   {"I16", {}},        {"U16", {}},        {"U32", {}},
    {"U64", {}},    {"C64", {}},    {"F8_E4M3", {}},   {"F8_E5M2", {}},    {"F8_E8M0", {}},    {"F6_E2M3", {}},
    {"F6_E3M2", {}}, {"F4", {}},
};

std::string_view code_of(DType t) {
  switch (t) {
    case DType::f64: return "F64";
    case DType::f32: return "F32";
    case DType::f16: return "F16";
    case DType::bf16: return "BF16";
    case DType::i64: return "I64";
    case DType::i32: return "I32";
    case DType::i8: return "I8";
    case DType::u8: return "U8";
    case DType::b8: return "BOOL";
  }
  __builtin_unreachable();
}

// A JSON value in an error message, cut short: a corrupt header can hold anything.
std::string shown(const Json& v) {
  std::string s = v.dump(-1, ' ', true, Json::error_handler_t::replace);
  return s.size() <= 60 ? s : s.substr(0, 57) + "...";
}

// Parses the header text. nlohmann keeps the last of two equal keys silently; the format forbids duplicates, so the
// callback tracks the keys of each open object. It also stops a deeply nested header early, before it costs memory.
Json parse_json(const std::string& path, const std::string& text) {
  std::vector<std::unordered_set<std::string>> open;
  using Event = nlohmann::json::parse_event_t;
  const Json::parser_callback_t watch = [&](int depth, Event event, Json& parsed) {
    if (depth > kMaxDepth)
      fail(path, "the header nests deeper than a safetensors header does ({} levels)", kMaxDepth);
    if (event == Event::object_start) {
      open.emplace_back();
    } else if (event == Event::object_end) {
      open.pop_back();
    } else if (event == Event::key && !open.back().insert(parsed.get<std::string>()).second) {
      fail(path, "the header has the key \"{}\" twice in one object{}", parsed.get<std::string>(),
           depth == 1 ? ": two tensors with one name" : "");
    }
    return true;
  };
  try {
    return Json::parse(text, watch);
  } catch (const Json::exception& e) {
    // e.what() names the byte and the problem: "syntax error ... at line 1, column 42", "ill-formed UTF-8 byte".
    fail(path, "the header (bytes {} to {}) is not valid JSON: {}", kLengthSize, kLengthSize + text.size(), e.what());
  }
}

uint64_t unsigned_field(const std::string& path, const std::string& where, const char* field, const Json& v) {
  if (!v.is_number_unsigned())
    fail(path, "{}: \"{}\" holds {}, not a non-negative integer", where, field, shown(v));
  return v.get<uint64_t>();
}

SafetensorsTensorInfo parse_entry(const std::string& path, const std::string& name, const Json& e,
                                  uint64_t buffer_size) {
  const std::string where = fmt::format("tensor '{}'", name);
  if (!e.is_object())
    fail(path, "{}: its entry is {} ({}), not an object with dtype, shape and data_offsets", where, e.type_name(),
         shown(e));
  for (const auto& [key, value] : e.items())
    if (key != "dtype" && key != "shape" && key != "data_offsets")
      fail(path, "{}: unknown field \"{}\" (an entry has dtype, shape and data_offsets)", where, key);
  for (const char* key : {"dtype", "shape", "data_offsets"})
    if (!e.contains(key)) fail(path, "{}: the field \"{}\" is missing", where, key);

  SafetensorsTensorInfo t;
  t.name = name;
  const Json& code = e["dtype"];
  if (!code.is_string()) fail(path, "{}: \"dtype\" holds {}, not a string", where, shown(code));
  const auto* known = std::find_if(std::begin(kDTypeCodes), std::end(kDTypeCodes),
                                   [&](const DTypeCode& c) { return c.code == code.get_ref<const std::string&>(); });
  if (known == std::end(kDTypeCodes)) fail(path, "{}: unknown dtype {}", where, shown(code));
  if (!known->dtype)
    fail(path, "{}: dtype {} has no ds equivalent (ds reads F64, F32, F16, BF16, I64, I32, I8, U8 and BOOL); convert "
               "the tensor before saving", where, known->code);
  t.dtype = *known->dtype;

  const Json& shape = e["shape"];
  if (!shape.is_array()) fail(path, "{}: \"shape\" holds {}, not a list of sizes", where, shown(shape));
  // numel, and the product of the non-zero sizes, must fit in int64.
  uint64_t extent = 1;
  bool zero = false;
  for (const Json& d : shape) {
    const uint64_t n = unsigned_field(path, where, "shape", d);
    if (n == 0) zero = true;
    else if (__builtin_mul_overflow(extent, n, &extent) || extent > uint64_t(std::numeric_limits<int64_t>::max()))
      fail(path, "{}: shape {} has more elements than an int64 counts", where, shown(shape));
    t.shape.push_back(static_cast<int64_t>(n));
  }
  uint64_t nbytes = 0;
  if (__builtin_mul_overflow(zero ? 0 : extent, itemsize(t.dtype), &nbytes))
    fail(path, "{}: a {} tensor of shape {} is too large", where, known->code, shown(shape));

  const Json& offsets = e["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2)
    fail(path, "{}: \"data_offsets\" holds {}, not [begin, end]", where, shown(offsets));
  t.begin = unsigned_field(path, where, "data_offsets", offsets[0]);
  t.end = unsigned_field(path, where, "data_offsets", offsets[1]);
  if (t.end < t.begin) fail(path, "{}: data_offsets [{}, {}] end before they begin", where, t.begin, t.end);
  if (t.end - t.begin != nbytes)
    fail(path, "{}: data_offsets [{}, {}] hold {} bytes, but a {} tensor of shape {} has {}", where, t.begin, t.end,
         t.end - t.begin, known->code, t.shape, nbytes);
  if (t.end > buffer_size)
    fail(path, "{}: data_offsets [{}, {}] run past the end of the data buffer ({} bytes): truncated or corrupt",
         where, t.begin, t.end, buffer_size);
  return t;
}

SafetensorsMetadata parse_metadata(const std::string& path, const Json& m) {
  SafetensorsMetadata out;
  if (m.is_null()) return out;
  if (!m.is_object()) fail(path, "\"{}\" holds {}, not an object of texts", kMetadataKey, shown(m));
  for (const auto& [key, value] : m.items()) {
    if (!value.is_string())
      fail(path, "\"{}\": the value of \"{}\" is {} ({}), not a string", kMetadataKey, key, value.type_name(),
           shown(value));
    out.emplace(key, value.get<std::string>());
  }
  return out;
}

// The format's rule: sorted by offset, the tensors tile the buffer from 0 to its end, without holes or overlaps.
void check_coverage(const std::string& path, const std::vector<SafetensorsTensorInfo>& tensors, uint64_t buffer_size) {
  std::vector<const SafetensorsTensorInfo*> sorted;
  for (const auto& t : tensors) sorted.push_back(&t);
  std::sort(sorted.begin(), sorted.end(),
            [](auto* a, auto* b) { return std::pair(a->begin, a->end) < std::pair(b->begin, b->end); });
  uint64_t pos = 0;
  const SafetensorsTensorInfo* prev = nullptr;
  for (const auto* t : sorted) {
    if (t->begin < pos)
      fail(path, "tensor '{}' (bytes {} to {}) overlaps tensor '{}' (bytes {} to {}) in the data buffer", t->name,
           t->begin, t->end, prev->name, prev->begin, prev->end);
    if (t->begin > pos)
      fail(path, "bytes {} to {} of the data buffer belong to no tensor (a hole before tensor '{}')", pos, t->begin,
           t->name);
    pos = t->end;
    prev = t;
  }
  if (pos != buffer_size)
    fail(path, "bytes {} to {} of the data buffer belong to no tensor: {} unexpected bytes at the end", pos,
         buffer_size, buffer_size - pos);
}

SafetensorsInfo parse(const io::InputFile& f) {
  const std::string& path = f.path();
  SafetensorsInfo info;
  info.file_size = f.size();
  if (info.file_size < kLengthSize)
    fail(path, "too short to be a safetensors file ({} bytes; the header length alone takes 8)", info.file_size);
  unsigned char length[kLengthSize];
  f.read_at(length, kLengthSize, 0, "the header length");
  const uint64_t n = info.header_size = io::load_u64(length);
  if (n > info.file_size - kLengthSize)
    fail(path, "the header length {} (bytes 0 to 8) runs past the end of the file ({} bytes): truncated, or not a "
               "safetensors file", n, info.file_size);
  if (n > kMaxHeaderSize)
    fail(path, "the header length {} is beyond the format's limit of {} bytes: corrupt, or not a safetensors file", n,
         kMaxHeaderSize);
  std::string text(n, '\0');
  f.read_at(text.data(), n, kLengthSize, "the header");
  if (text.empty() || text[0] != '{')
    fail(path, "the header does not start with '{{' (byte 8 is {}): not a safetensors file", 
         text.empty() ? std::string("missing") : fmt::format("{:#04x}", static_cast<unsigned char>(text[0])));

  // JSON never holds a raw NUL, but nlohmann's parser takes one for the end of its input and would ignore the rest.
  if (const size_t nul = text.find('\0'); nul != std::string::npos)
    fail(path, "the header holds a NUL byte (file offset {}): corrupt", kLengthSize + nul);
  const Json header = parse_json(path, text);
  const uint64_t buffer_size = info.file_size - kLengthSize - n;
  for (const auto& [name, value] : header.items()) {
    if (name == kMetadataKey) info.metadata = parse_metadata(path, value);
    else info.tensors.push_back(parse_entry(path, name, value, buffer_size));
  }
  check_coverage(path, info.tensors, buffer_size);
  return info;
}

}  // namespace

SafetensorsInfo read_safetensors_info(const std::string& path) {
  const io::InputFile f(path, kTag);
  return parse(f);
}

StateDict load_safetensors(const std::string& path, SafetensorsMetadata* metadata) {
  const io::InputFile f(path, kTag);
  SafetensorsInfo info = parse(f);
  const uint64_t data_start = kLengthSize + info.header_size;
  StateDict out;
  for (const SafetensorsTensorInfo& t : info.tensors) {
    Tensor x(empty_base(t.shape, t.dtype, kCPU));
    const uint64_t nbytes = t.end - t.begin;
    auto* bytes = static_cast<unsigned char*>(x.data());
    if (nbytes > 0) f.read_at(bytes, nbytes, data_start + t.begin, fmt::format("tensor '{}'", t.name));
    if (t.dtype == kBool)
      for (uint64_t k = 0; k < nbytes; ++k)
        if (bytes[k] > 1)
          fail(path, "tensor '{}': bool element {} holds the byte {:#04x} (file offset {})", t.name, k, bytes[k],
               data_start + t.begin + k);
    out.set(t.name, std::move(x));
  }
  if (metadata) *metadata = std::move(info.metadata);
  return out;
}

void save_safetensors(const std::string& path, const StateDict& tensors, const SafetensorsMetadata& metadata) {
  std::vector<std::pair<const std::string*, Tensor>> items;  // (name, host contiguous bytes), in the dict's order
  for (const auto& [name, value] : tensors) {
    const Tensor* t = std::get_if<Tensor>(&value);
    if (t == nullptr)
      fail(path, "entry '{}' is {}: a safetensors file holds only tensors", name, state_kind_name(value));
    if (!t->defined()) fail(path, "entry '{}' is an undefined tensor", name);
    if (name == kMetadataKey) fail(path, "a tensor cannot be named \"{}\": the format reserves it", kMetadataKey);
    items.emplace_back(&name, t->detach().to(kCPU).contiguous());
  }
  // Larger elements first: with the header padded to 8 bytes, every tensor starts aligned to its element size.
  std::vector<size_t> order(items.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return itemsize(items[a].second.dtype()) > itemsize(items[b].second.dtype());
  });
  std::vector<uint64_t> begin(items.size());
  uint64_t pos = 0;
  for (size_t i : order) {
    begin[i] = pos;
    pos += items[i].second.nbytes();
  }

  Json header = Json::object();
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  for (size_t i = 0; i < items.size(); ++i) {
    const Tensor& t = items[i].second;
    const Shape& sizes = t.sizes();
    header[*items[i].first] = {{"dtype", code_of(t.dtype())},
                               {"shape", std::vector<int64_t>(sizes.begin(), sizes.end())},
                               {"data_offsets", {begin[i], begin[i] + t.nbytes()}}};
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const Json::exception& e) {  // a name or a metadata text that is not UTF-8
    fail(path, "cannot encode the header: {}", e.what());
  }
  text.append((kLengthSize - text.size() % kLengthSize) % kLengthSize, ' ');

  unsigned char length[kLengthSize];
  io::store_u64(length, text.size());
  io::AtomicWriter w(path, kTag);
  w.write(length, kLengthSize);
  w.write(text.data(), text.size());
  for (size_t i : order) w.write(items[i].second.data(), items[i].second.nbytes());
  w.commit();
}

}  // namespace ds
