// BpeTokenizer::load and save: GPT-2's vocab.json and merges.txt. The only user of nlohmann_json in data.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <string_view>

#include <ds/core/detail/check.h>
#include <ds/data/bpe_tokenizer.h>
#include <ds/data/text_corpus.h>

#include "detail/atomic_file.h"

namespace ds::data {

namespace {
constexpr const char* kComponent = "bpe_tokenizer";
constexpr std::string_view kMergesHeader = "#version: 0.2";

// vocab.json: {"token": id, ...} with ids exactly 0..n-1 -> the tokens by id.
std::vector<std::string> parse_vocab(const std::string& path) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_text_file(path));
  } catch (const nlohmann::json::exception& e) {
    DS_FAIL(kComponent, "{}: not valid JSON: {}", path, e.what());
  }
  DS_CHECK(j.is_object(), kComponent, "{}: expected a JSON object {{\"token\": id, ...}}, got a {}", path,
           j.type_name());
  std::vector<std::string> vocab(j.size());
  std::vector<bool> seen(j.size(), false);
  for (const auto& [token, id] : j.items()) {
    DS_CHECK(id.is_number_integer(), kComponent, "{}: the id of token '{}' is not an integer: {}", path, token,
             id.dump());
    const auto i = id.get<int64_t>();
    DS_CHECK(i >= 0 && i < static_cast<int64_t>(vocab.size()), kComponent,
             "{}: token '{}' has id {}, outside 0..{} (ids must be 0..n-1 for n tokens)", path, token, i,
             static_cast<int64_t>(vocab.size()) - 1);
    DS_CHECK(!seen[static_cast<size_t>(i)], kComponent, "{}: id {} is given to both '{}' and '{}'", path, i,
             vocab[static_cast<size_t>(i)], token);
    seen[static_cast<size_t>(i)] = true;
    vocab[static_cast<size_t>(i)] = token;
  }
  return vocab;
}

// merges.txt: an optional "#version" line, then "left right" per line in rank order (blank lines skipped).
std::vector<BpeTokenizer::Merge> parse_merges(const std::string& path) {
  const std::string text = read_text_file(path);
  std::vector<BpeTokenizer::Merge> merges;
  size_t line_no = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || (line_no == 1 && line.starts_with("#version"))) continue;
    const size_t space = line.find(' ');
    DS_CHECK(space != std::string_view::npos && space > 0 && space + 1 < line.size() &&
                 line.find(' ', space + 1) == std::string_view::npos,
             kComponent, "{}:{}: expected two tokens separated by one space, got '{}'", path, line_no, line);
    merges.emplace_back(std::string(line.substr(0, space)), std::string(line.substr(space + 1)));
  }
  return merges;
}
}  // namespace

BpeTokenizer BpeTokenizer::load(const std::string& vocab_json_path, const std::string& merges_txt_path,
                                const std::vector<std::string>& special_tokens) {
  std::vector<std::string> vocab = parse_vocab(vocab_json_path);
  std::vector<Merge> merges = parse_merges(merges_txt_path);
  try {
    return BpeTokenizer(std::move(vocab), std::move(merges), special_tokens);
  } catch (const Error& e) {  // the constructor's error, said again with the files it came from
    std::string_view why = e.what();
    if (why.starts_with("[")) why.remove_prefix(std::min(why.size(), why.find("] ") + 2));
    DS_FAIL(kComponent, "{} with {}: {}", vocab_json_path, merges_txt_path, why);
  }
}

void BpeTokenizer::save(const std::string& vocab_json_path, const std::string& merges_txt_path) const {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (size_t i = 0; i < vocab_.size(); ++i) j[vocab_[i]] = i;
  std::string vocab_text;
  try {
    vocab_text = j.dump();
  } catch (const nlohmann::json::exception& e) {  // a special token that is not valid UTF-8
    DS_FAIL(kComponent, "{}: cannot write the vocabulary as JSON: {}", vocab_json_path, e.what());
  }
  std::string merges_text(kMergesHeader);
  merges_text += '\n';
  for (const auto& [a, b] : merges_) {
    merges_text += a;
    merges_text += ' ';
    merges_text += b;
    merges_text += '\n';
  }
  detail::write_file_atomic(vocab_json_path, {vocab_text}, kComponent);
  detail::write_file_atomic(merges_txt_path, {merges_text}, kComponent);
}

}  // namespace ds::data
