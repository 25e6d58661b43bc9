// read_whole_file and write_file_atomically: the public face of detail/file.h's InputFile and AtomicWriter.
#include <ds/io/file_io.h>

#include "detail/file.h"

namespace ds {

std::string read_whole_file(const std::string& path, std::string_view tag) {
  const io::InputFile f(path, tag);
  std::string bytes(f.size(), '\0');
  f.read_at(bytes.data(), bytes.size(), 0, "the file");
  return bytes;
}

void write_file_atomically(const std::string& path, std::string_view bytes, std::string_view tag) {
  io::AtomicWriter w(path, tag);
  w.write(bytes.data(), bytes.size());
  w.commit();
}

}  // namespace ds
