#pragma once
// safetensors: Hugging Face's file of named tensors (what model hubs ship weights in), read and written.
//
// Layout (https://github.com/huggingface/safetensors, all integers little-endian):
//
//   offset 0     N        u64        the header's length in bytes
//          8     header   N bytes    UTF-8 JSON, starting with '{', possibly padded with trailing spaces:
//                                    {"<name>": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]},
//                                     ..., "__metadata__": {"<key>": "<text>", ...}}  (the metadata is optional)
//          8+N   buffer   the rest   each tensor's bytes (row-major, as in memory) at [begin, end) of the buffer;
//                                    the tensors cover the buffer exactly: no holes, no overlaps, nothing after
//
// dtypes: F64 F32 F16 BF16 I64 I32 I8 U8 BOOL map onto ds's; the others the format knows (I16, U16, U32, U64, the F8,
// F6 and F4 variants, C64) have no ds dtype and are a clear error naming the tensor. Nothing in a file is trusted:
// every failure is a ds::Error "[safetensors] <path>: <what is wrong and where>".
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <ds/core/dtype.h>
#include <ds/core/shape.h>
#include <ds/ops/state_dict.h>

namespace ds {

// The header's "__metadata__": free-form text pairs (e.g. {"format": "pt"}).
using SafetensorsMetadata = std::map<std::string, std::string>;

// Reads every tensor of a safetensors file as a contiguous CPU tensor (not requiring grad) in its stored dtype and
// shape, in the header's order; `metadata`, when given, receives the header's "__metadata__". The header is checked
// completely (its length against the file, the JSON, duplicate names, dtypes, shapes, offsets and the exact coverage
// of the data buffer) before any tensor memory is allocated; bool bytes must be 0 or 1.
StateDict load_safetensors(const std::string& path, SafetensorsMetadata* metadata = nullptr);

// What a safetensors header says, with every check of load_safetensors except those of the tensor bytes.
struct SafetensorsTensorInfo {
  std::string name;
  DType dtype = kF32;
  Shape shape;
  uint64_t begin = 0, end = 0;  // data_offsets: within the buffer that starts after the header
};
struct SafetensorsInfo {
  std::vector<SafetensorsTensorInfo> tensors;  // in the header's order
  SafetensorsMetadata metadata;
  uint64_t header_size = 0;  // N
  uint64_t file_size = 0;
};
SafetensorsInfo read_safetensors_info(const std::string& path);

// Writes the tensors of `tensors` (every entry must be a defined tensor: integers, reals and texts have no place in
// the format) with `metadata` to path atomically: a temporary file in the same folder, fsynced, renamed over path.
// The header lists them in the StateDict's order; their bytes are laid out by decreasing element size, and the header
// is padded to a multiple of 8 bytes, so that every tensor is aligned to its element size (as the python package
// does). Views are written contiguous, device tensors copied to the host.
void save_safetensors(const std::string& path, const StateDict& tensors, const SafetensorsMetadata& metadata = {});

}  // namespace ds
