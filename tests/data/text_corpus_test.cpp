// The King James corpus from bible-kjv (verses, references stripped, the joined text) and plain text files; the
// error for a missing `bible` command. Tests that need the package skip visibly without it.
#include <cstdlib>
#include <string>

#include <catch2/catch.hpp>

#include <ds/data/text_corpus.h>

#include "../io/io_test_util.h"
#include "text_test_util.h"

using namespace ds::data;

using text_test::have_bible;

TEST_CASE("text corpus: the King James verses, references stripped", "[text]") {
  if (!have_bible()) return;
  const std::vector<BibleVerse> v = read_bible_kjv_verses();
  REQUIRE(v.size() == 31102);
  CHECK(v.front().book == "Ge");
  CHECK(v.front().chapter == 1);
  CHECK(v.front().verse == 1);
  CHECK(v.front().text == "In the beginning God created the heaven and the earth.");
  CHECK(v.back().book == "Rev");
  CHECK(v.back().chapter == 22);
  CHECK(v.back().verse == 21);
  CHECK(v.back().text == "The grace of our Lord Jesus Christ be with you all. Amen.");
  int books_with_digit = 0;
  for (const BibleVerse& b : v) books_with_digit += b.book == "1Sm" && b.chapter == 3 && b.verse == 4;
  CHECK(books_with_digit == 1);

  const std::string text = read_bible_kjv();
  CHECK(text.size() == 4137850);
  CHECK(text.starts_with("In the beginning God created the heaven and the earth.\nAnd the earth was"));
  CHECK(text.ends_with("be with you all. Amen.\n"));
  size_t lines = 0;
  for (const char c : text) lines += c == '\n';
  CHECK(lines == 31102);
}

TEST_CASE("text corpus: a missing bible command is an error naming the package", "[text]") {
  const char* old = std::getenv("PATH");
  const std::string saved = old ? old : "";
  ::setenv("PATH", "/nonexistent-ds-test", 1);
  CHECK_THROWS_WITH(read_bible_kjv_verses(), Catch::Contains("[text_corpus]") &&
                                                 Catch::Contains("bible was not found") &&
                                                 Catch::Contains("bible-kjv"));
  ::setenv("PATH", saved.c_str(), 1);
}

TEST_CASE("text corpus: plain text files are read byte for byte", "[text]") {
  io_test::TempDir dir;
  const std::string bytes = std::string("line one\r\nline two\0\xFF end", 24);
  io_test::write_bytes(dir.file("t.txt"), bytes);
  CHECK(read_text_file(dir.file("t.txt")) == bytes);
  io_test::write_bytes(dir.file("empty.txt"), "");
  CHECK(read_text_file(dir.file("empty.txt")).empty());
  CHECK_THROWS_WITH(read_text_file(dir.file("nope.txt")),
                    Catch::Contains("[text_corpus]") && Catch::Contains("nope.txt: not found"));
  CHECK_THROWS_WITH(read_text_file(dir.path().string()), Catch::Contains("not a regular file"));
}
