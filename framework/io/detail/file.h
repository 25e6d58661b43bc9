#pragma once
// POSIX file access for checkpoints and safetensors files: reads and writes that retry short transfers and EINTR, and
// the atomic replace (a temporary file in the target's folder, fsync, rename over the target, fsync of the folder).
// Every failure is a ds::Error "[<tag>] <target path>: ...", the tag naming the format ("checkpoint" unless the
// caller says otherwise). Internal.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ds::io {

// A regular file opened for reading; closed by the destructor.
class InputFile {
 public:
  // "cannot open: <reason>", "not a regular file"
  explicit InputFile(std::string path, std::string_view tag = "checkpoint");
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }
  // Reads exactly n bytes at offset; the file ending early (it shrank under us) is an error naming `what`.
  void read_at(void* dst, uint64_t n, uint64_t offset, std::string_view what) const;

 private:
  std::string path_, tag_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

// The prefix of the temporary files that AtomicWriter makes for a target named `filename` (no folder):
// ".<filename>.tmp." followed by "<pid>.<n>".
std::string temp_prefix(std::string_view filename);

// Writes a file that appears at its path complete or not at all.
class AtomicWriter {
 public:
  explicit AtomicWriter(std::string path, std::string_view tag = "checkpoint");  // creates the temporary file
  ~AtomicWriter();                          // without commit(): removes the temporary file
  AtomicWriter(const AtomicWriter&) = delete;
  AtomicWriter& operator=(const AtomicWriter&) = delete;

  void write(const void* data, size_t n);  // buffered
  void write_zeros(size_t n);
  // Flushes, fsyncs and closes the temporary file, renames it over the target and fsyncs the folder.
  void commit();

 private:
  void flush();
  void write_raw(const void* data, size_t n);
  void close_fd();

  std::string path_, tag_, temp_, dir_;
  int fd_ = -1;
  std::vector<unsigned char> buf_;
  size_t used_ = 0;
  bool committed_ = false;
};

// fsyncs a folder so that a rename or unlink in it survives a power loss; `for_path` names the error.
void fsync_dir(const std::string& dir, const std::string& for_path, std::string_view tag = "checkpoint");

}  // namespace ds::io
