#pragma once
// Helpers of the text pipeline tests: whether the King James corpus can be read, and the corpus read once.
#include <cstdlib>
#include <string>

#include <catch2/catch.hpp>

#include <ds/data/text_corpus.h>

namespace text_test {

// Whether Debian's bible-kjv is installed; warns visibly ("SKIPPED: ...") when it is not.
inline bool have_bible() {
  if (std::system("command -v bible >/dev/null 2>&1") == 0) return true;
  WARN("SKIPPED: the command bible is missing (Debian package bible-kjv)");
  return false;
}

// read_bible_kjv(), run once per test program.
inline const std::string& bible_text() {
  static const std::string text = ds::data::read_bible_kjv();
  return text;
}

}  // namespace text_test
