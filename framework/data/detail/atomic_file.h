#pragma once
// Writing a data file so that it appears complete or not at all (tokenizer files, token shards). data may not use
// io's AtomicWriter (io is a sibling layer); this is the small std::filesystem version for files written once, without
// the fsyncs a checkpoint needs. Internal to data.
#include <initializer_list>
#include <string>
#include <string_view>

namespace ds::data::detail {

// Writes the concatenation of `parts` to "<path>.tmp.<pid>" and renames it to `path`. Throws ds::Error
// "[<component>] <path>: ..." when the file cannot be written or renamed (the temporary file is then removed).
void write_file_atomic(const std::string& path, std::initializer_list<std::string_view> parts, const char* component);

}  // namespace ds::data::detail
