#pragma once
// Text corpora that need no download: the King James Bible as Debian's bible-kjv package prints it (31,102 verses,
// about 4.1 MB of English prose), and plain text files.
#include <string>
#include <vector>

namespace ds::data {

// One verse of the King James Bible: "Ge1:1 In the beginning ..." is {"Ge", 1, 1, "In the beginning ..."}.
struct BibleVerse {
  std::string book;  // bible-kjv's abbreviation: "Ge", "Exo", ..., "1Sm", ..., "Rev"
  int chapter = 0;
  int verse = 0;
  std::string text;  // as printed, without the reference and the one space after it
};

// Every verse from Genesis 1:1 to Revelation 22:21 in order, read from the output of `bible -f gen1:1-rev22:21`.
// Throws ds::Error "[text_corpus] ..." saying to install the Debian package bible-kjv when the command is missing or
// fails, and naming the line when the output has a line that is not "<reference> <text>".
std::vector<BibleVerse> read_bible_kjv_verses();

// The whole King James text as one string: each verse's text followed by "\n", no references, nothing else
// (4,137,850 bytes, ASCII). Errors as read_bible_kjv_verses().
std::string read_bible_kjv();

// The bytes of the file at `path`, unchanged. Throws ds::Error "[text_corpus] <path>: ..." when it cannot be read.
std::string read_text_file(const std::string& path);

}  // namespace ds::data
