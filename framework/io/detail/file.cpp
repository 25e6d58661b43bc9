#include "file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include <ds/core/detail/check.h>

namespace ds::io {
namespace {

std::string reason(int err) { return std::error_code(err, std::generic_category()).message(); }

[[noreturn]] void fail(std::string_view tag, const std::string& path, const std::string& what) {
  throw_error(tag, path + ": " + what);
}

constexpr size_t kBufferSize = size_t{1} << 20;

}  // namespace

// ---- InputFile

InputFile::InputFile(std::string path, std::string_view tag) : path_(std::move(path)), tag_(tag) {
  fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) fail(tag_, path_, "cannot open: " + reason(errno));
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    const int err = errno;
    ::close(fd_);
    fail(tag_, path_, "cannot stat: " + reason(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd_);
    fail(tag_, path_, "not a regular file");
  }
  size_ = static_cast<uint64_t>(st.st_size);
}

InputFile::~InputFile() {
  if (fd_ >= 0) ::close(fd_);
}

void InputFile::read_at(void* dst, uint64_t n, uint64_t offset, std::string_view what) const {
  auto* p = static_cast<unsigned char*>(dst);
  while (n > 0) {
    const size_t chunk = n < (uint64_t{1} << 30) ? static_cast<size_t>(n) : size_t{1} << 30;
    const ssize_t got = ::pread(fd_, p, chunk, static_cast<off_t>(offset));
    if (got < 0) {
      if (errno == EINTR) continue;
      fail(tag_, path_, fmt::format("cannot read {}: {}", what, reason(errno)));
    }
    if (got == 0) fail(tag_, path_, fmt::format("the file ended while reading {} (at byte {}): it changed while being read", what, offset));
    p += got;
    n -= static_cast<uint64_t>(got);
    offset += static_cast<uint64_t>(got);
  }
}

// ---- AtomicWriter

std::string temp_prefix(std::string_view filename) { return "." + std::string(filename) + ".tmp."; }

AtomicWriter::AtomicWriter(std::string path, std::string_view tag) : path_(std::move(path)), tag_(tag) {
  static std::atomic<uint64_t> counter{0};
  const std::filesystem::path p(path_);
  DS_CHECK(p.has_filename(), tag_, "{}: not a file name", path_);
  dir_ = p.has_parent_path() ? p.parent_path().string() : ".";
  temp_ = (std::filesystem::path(dir_) /
           (temp_prefix(p.filename().string()) + fmt::format("{}.{}", ::getpid(), counter++)))
              .string();
  fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) fail(tag_, path_, fmt::format("cannot create the temporary file '{}': {}", temp_, reason(errno)));
  buf_.resize(kBufferSize);
}

AtomicWriter::~AtomicWriter() {
  if (committed_) return;
  close_fd();
  ::unlink(temp_.c_str());
}

void AtomicWriter::close_fd() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void AtomicWriter::write_raw(const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  while (n > 0) {
    const size_t chunk = n < (size_t{1} << 30) ? n : size_t{1} << 30;
    const ssize_t put = ::write(fd_, p, chunk);
    if (put < 0) {
      if (errno == EINTR) continue;
      fail(tag_, path_, fmt::format("cannot write '{}': {}", temp_, reason(errno)));
    }
    p += put;
    n -= static_cast<size_t>(put);
  }
}

void AtomicWriter::flush() {
  write_raw(buf_.data(), used_);
  used_ = 0;
}

void AtomicWriter::write(const void* data, size_t n) {
  if (used_ + n > buf_.size()) flush();
  if (n >= buf_.size()) return write_raw(data, n);
  if (n > 0) std::memcpy(buf_.data() + used_, data, n);
  used_ += n;
}

void AtomicWriter::write_zeros(size_t n) {
  static const unsigned char zeros[256] = {};
  for (; n > 0; n -= n < sizeof zeros ? n : sizeof zeros) write(zeros, n < sizeof zeros ? n : sizeof zeros);
}

void AtomicWriter::commit() {
  DS_CHECK(!committed_ && fd_ >= 0, tag_, "{}: committed twice", path_);
  flush();
  if (::fsync(fd_) != 0) fail(tag_, path_, fmt::format("cannot fsync '{}': {}", temp_, reason(errno)));
  const int closed = ::close(fd_);
  fd_ = -1;
  if (closed != 0) fail(tag_, path_, fmt::format("cannot close '{}': {}", temp_, reason(errno)));
  if (::rename(temp_.c_str(), path_.c_str()) != 0)
    fail(tag_, path_, fmt::format("cannot rename '{}' over it: {}", temp_, reason(errno)));
  committed_ = true;
  fsync_dir(dir_, path_, tag_);
}

void fsync_dir(const std::string& dir, const std::string& for_path, std::string_view tag) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail(tag, for_path, fmt::format("cannot open the folder '{}' to fsync it: {}", dir, reason(errno)));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) fail(tag, for_path, fmt::format("cannot fsync the folder '{}': {}", dir, reason(err)));
}

}  // namespace ds::io
