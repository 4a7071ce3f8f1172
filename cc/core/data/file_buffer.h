#pragma once
// A forward-only buffered file reader that hands out contiguous spans of the requested size, so the
// decoders can parse records that straddle read boundaries without per-field system calls.

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace hugectr_tf {

class FileBuffer {
 public:
  // Opens `path` and positions it at byte `offset`; throws (kNotFound-like InvalidArgument) if the
  // file cannot be opened.
  FileBuffer(const std::string& path, int64_t offset, size_t chunk_bytes = 4 << 20);
  ~FileBuffer();
  FileBuffer(const FileBuffer&) = delete;
  FileBuffer& operator=(const FileBuffer&) = delete;

  // Makes at least `n` bytes available at data(); false if the file ends first (available() then
  // tells how many remain).
  bool Ensure(size_t n);
  const char* data() const { return buf_.data() + pos_; }
  size_t available() const { return end_ - pos_; }
  void Skip(size_t n) { pos_ += n; }
  // Absolute file offset of data().
  int64_t offset() const { return base_ + static_cast<int64_t>(pos_); }
  // Size of the file in bytes, and bytes from data() to its end (bounds requests before Ensure so
  // a corrupt length can never trigger a huge allocation).
  int64_t file_size() const { return file_size_; }
  int64_t remaining() const { return file_size_ - offset(); }

 private:
  std::FILE* file_ = nullptr;
  std::vector<char> buf_;
  size_t pos_ = 0;
  size_t end_ = 0;
  int64_t base_ = 0;  // file offset of buf_[0]
  int64_t file_size_ = 0;
  bool eof_ = false;
};

}  // namespace hugectr_tf
