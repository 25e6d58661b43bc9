#pragma once
// Whole small files (configs, vocabularies) read and written with the care of the checkpoint code: a write is atomic
// (a temporary file in the target's folder, fsynced, renamed over the target, the folder fsynced), a read checks that
// the path is a regular file. Every failure is a ds::Error "[<tag>] <path>: <what>", the tag naming the caller's
// format ("config", "vocab", ...).
#include <string>
#include <string_view>

namespace ds {

// The whole file's bytes.
std::string read_whole_file(const std::string& path, std::string_view tag);

// Replaces path with bytes: a reader sees the old file or the new one, never a part.
void write_file_atomically(const std::string& path, std::string_view bytes, std::string_view tag);

}  // namespace ds
