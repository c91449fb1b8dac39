#pragma once
// Contract: plain-text tables for human-readable output: columns padded to their widest cell and
// separated by two spaces, each column left- or right-aligned; no trailing spaces.
#include <string>
#include <vector>

namespace doppler::cli {

class TextTable {
 public:
  enum class Align { left, right };
  struct Column {
    std::string header;  // an empty header row is not printed
    Align align = Align::left;
  };

  explicit TextTable(std::vector<Column> columns) : columns_(std::move(columns)) {}
  void add_row(std::vector<std::string> cells);  // one cell per column
  std::string render() const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace doppler::cli
