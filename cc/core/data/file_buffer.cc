#include "cc/core/data/file_buffer.h"

#include <cerrno>
#include <cstring>

#include "cc/core/check.h"

namespace hugectr_tf {

FileBuffer::FileBuffer(const std::string& path, int64_t offset, size_t chunk_bytes)
    : buf_(chunk_bytes) {
  file_ = std::fopen(path.c_str(), "rb");
  HCTR_CHECK(file_ != nullptr, "cannot open data file `" << path << "`: " << std::strerror(errno));
  std::fseek(file_, 0, SEEK_END);
  file_size_ = std::ftell(file_);
  if (std::fseek(file_, offset, SEEK_SET) != 0) {
    std::fclose(file_);
    file_ = nullptr;
    HCTR_FAIL(ErrorCode::kInvalidArgument,
              "cannot seek to byte " << offset << " of data file `" << path << "`");
  }
  base_ = offset;
}

FileBuffer::~FileBuffer() {
  if (file_ != nullptr) std::fclose(file_);
}

bool FileBuffer::Ensure(size_t n) {
  if (end_ - pos_ >= n) return true;
  if (eof_) return false;
  // Move the unread tail to the front, grow if one request exceeds the buffer, then refill.
  size_t rest = end_ - pos_;
  std::memmove(buf_.data(), buf_.data() + pos_, rest);
  base_ += static_cast<int64_t>(pos_);
  pos_ = 0;
  end_ = rest;
  if (n > buf_.size()) buf_.resize(n);
  while (end_ < buf_.size() && !eof_) {
    size_t got = std::fread(buf_.data() + end_, 1, buf_.size() - end_, file_);
    end_ += got;
    if (got == 0) eof_ = true;
  }
  return end_ - pos_ >= n;
}

}  // namespace hugectr_tf
