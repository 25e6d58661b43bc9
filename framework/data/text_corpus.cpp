#include <ds/data/text_corpus.h>

#include <sys/wait.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string_view>

#include <ds/core/detail/check.h>

namespace ds::data {

namespace {
constexpr const char* kComponent = "text_corpus";
constexpr const char* kBibleCommand = "bible -f gen1:1-rev22:21 2>/dev/null";
constexpr const char* kInstallHint = "install the Debian package bible-kjv (./ds setup does)";

// Runs `command` through the shell and returns its standard output; an error names the command and its status.
std::string run_command(const char* command) {
  errno = 0;
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command, "r"), pclose);
  DS_CHECK(pipe != nullptr, kComponent, "cannot run `{}`: {}", command, std::strerror(errno));
  std::string out;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe.get())) > 0) out.append(buf, n);
  const int status = pclose(pipe.release());
  DS_CHECK(status != -1, kComponent, "`{}`: waiting for it failed: {}", command, std::strerror(errno));
  DS_CHECK(!(WIFEXITED(status) && WEXITSTATUS(status) == 127), kComponent,
           "`{}`: the command bible was not found; {}", command, kInstallHint);
  DS_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, kComponent, "`{}` failed (exit status {}); {}", command,
           WIFEXITED(status) ? WEXITSTATUS(status) : -1, kInstallHint);
  return out;
}

// Reads an unsigned decimal number at line[pos], advancing pos; false when there is none.
bool read_number(std::string_view line, size_t& pos, int& value) {
  const size_t start = pos;
  value = 0;
  while (pos < line.size() && std::isdigit(static_cast<unsigned char>(line[pos])) && pos - start < 6) {
    value = value * 10 + (line[pos++] - '0');
  }
  return pos > start;
}

// "1Sm3:4 text" -> {"1Sm", 3, 4, "text"}; false when the line does not start with such a reference.
bool parse_verse(std::string_view line, BibleVerse& v) {
  size_t pos = 0;
  if (pos < line.size() && std::isdigit(static_cast<unsigned char>(line[pos]))) ++pos;  // "1Sm", "2Ki"
  const size_t letters = pos;
  while (pos < line.size() && std::isalpha(static_cast<unsigned char>(line[pos]))) ++pos;
  if (pos == letters) return false;
  v.book.assign(line.substr(0, pos));
  if (!read_number(line, pos, v.chapter) || pos >= line.size() || line[pos++] != ':') return false;
  if (!read_number(line, pos, v.verse) || pos >= line.size() || line[pos++] != ' ') return false;
  v.text.assign(line.substr(pos));
  return true;
}
}  // namespace

std::vector<BibleVerse> read_bible_kjv_verses() {
  const std::string out = run_command(kBibleCommand);
  std::vector<BibleVerse> verses;
  verses.reserve(31102);
  size_t line_no = 0;
  for (size_t pos = 0; pos < out.size();) {
    size_t end = out.find('\n', pos);
    if (end == std::string::npos) end = out.size();
    const std::string_view line(out.data() + pos, end - pos);
    ++line_no;
    pos = end + 1;
    if (line.empty()) continue;
    BibleVerse v;
    DS_CHECK(parse_verse(line, v), kComponent,
             "`{}`: line {} is not '<book><chapter>:<verse> <text>': '{:.60}'", kBibleCommand, line_no, line);
    verses.push_back(std::move(v));
  }
  DS_CHECK(!verses.empty() && verses.back().book == "Rev" && verses.back().chapter == 22 &&
               verses.back().verse == 21,
           kComponent, "`{}` printed {} verses, not ending at Rev22:21; {}", kBibleCommand, verses.size(),
           kInstallHint);
  return verses;
}

std::string read_bible_kjv() {
  const std::vector<BibleVerse> verses = read_bible_kjv_verses();
  size_t bytes = 0;
  for (const BibleVerse& v : verses) bytes += v.text.size() + 1;
  std::string text;
  text.reserve(bytes);
  for (const BibleVerse& v : verses) {
    text += v.text;
    text += '\n';
  }
  return text;
}

std::string read_text_file(const std::string& path) {
  std::error_code ec;
  DS_CHECK(std::filesystem::is_regular_file(path, ec), kComponent, "{}: not found or not a regular file", path);
  std::ifstream in(path, std::ios::binary);
  DS_CHECK(in.is_open(), kComponent, "{}: cannot open: {}", path, std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  DS_CHECK(!in.bad(), kComponent, "{}: read failed: {}", path, std::strerror(errno));
  return std::move(ss).str();
}

}  // namespace ds::data
