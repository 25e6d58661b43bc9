#pragma once
// Checkpoints: a StateDict in one file, written atomically and checked completely when read.
//
// Format 1 (all integers little-endian; framework/io/README.md says why it looks like this):
//
//   offset 0     magic        8 bytes   89 'D' 'S' 'C' 'K' 0D 0A 0A  (a 7-bit or text-mode copy changes it)
//          8     version      u32       1
//          12    flags        u32       0 (none defined yet: a reader rejects bits it does not know)
//          16    header_len   u64       L
//          24    header       L bytes   protobuf ds.io.pb.Header (framework/io/checkpoint.proto)
//          24+L  header_crc   u32       CRC32C of bytes [0, 24+L)
//                zero padding up to D = the next multiple of 64: the data section starts there
//          D     data         header.data_size bytes: each tensor's bytes (contiguous, row-major, as in memory)
//                             at D + its offset, a multiple of 64, with zero padding between; the file ends at
//                             D + data_size
//
// The header holds the format version, the ds version and the creation time, and one entry per StateDict value in
// order: its name and either a tensor (dtype, shape, offset, nbytes, CRC32C of the bytes) or an inline integer, real
// or text. Nothing in a file is executed or trusted: a reader checks every length against the file before it
// allocates, every offset and size against the data section, and every checksum.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <ds/io/checkpoint_manager.h>  // CheckpointManager: a folder of numbered checkpoints
#include <ds/ops/state_dict.h>

namespace ds {

// The format version this build writes, and the newest it reads.
inline constexpr uint32_t kCheckpointFormatVersion = 1;

// Writes state to path atomically: into a temporary file in the same folder, fsynced, renamed over path, and the
// folder fsynced. A reader sees the old file or the new one, never a mix. Views are written contiguous, tensors on a
// device are copied to the host, autograd state is not saved. Undefined tensors are an error.
void save_checkpoint(const std::string& path, const StateDict& state);

// Reads a checkpoint: tensors come back as contiguous CPU tensors in their saved dtype and shape, not requiring
// grad, entries in saved order. Anything wrong with the file (not a checkpoint, truncated, corrupt, written by a
// newer ds) is a ds::Error "[checkpoint] <path>: <what is wrong and where>"; the file is checked before anything of a
// size it claims is allocated.
StateDict load_checkpoint(const std::string& path);

// Every check of load_checkpoint, checksums included, reading the tensor bytes through a small buffer instead of
// keeping them. Throws the same errors.
void verify_checkpoint(const std::string& path);

// What a checkpoint's header says, read and checked without the tensor bytes (their checksums are not verified).
struct CheckpointInfo {
  uint32_t format_version = 0;
  std::string ds_version;     // of the writer
  int64_t created_unix_ms = 0;
  uint64_t file_size = 0;
  std::vector<std::string> names;  // the entries, in order
};
CheckpointInfo read_checkpoint_info(const std::string& path);

}  // namespace ds
