#include "cc/core/data/norm_codec.h"

#include <algorithm>
#include <cstring>
#include <sstream>
#include <utility>

#include "cc/core/check.h"
#include "cc/core/checksum.h"
#include "cc/core/data/record_checks.h"

namespace hugectr_tf {
namespace {

// Byte sources for ParseRecord: the framed mode parses inside an in-memory unit, the plain mode
// straight from the file buffer. Take() returns a pointer to `n` bytes or nullptr if they are
// missing; the pointer is valid until the next Take().
class SpanSource {
 public:
  SpanSource(const char* p, int64_t size) : p_(p), base_(p), left_(size) {}
  const char* Take(int64_t n) {
    if (n > left_) return nullptr;
    const char* r = p_;
    p_ += n;
    left_ -= n;
    return r;
  }
  int64_t left() const { return left_; }
  // Pointer `offset` bytes after the span's original start.
  const char* begin_at(int64_t offset) const { return base_ + offset; }

 private:
  const char* p_;
  const char* base_;
  int64_t left_;
};

// Thrown when a record crosses the end of the in-memory window (not the end of the file): the
// caller rolls the record back, refills and parses it again.
struct NeedMore {};

// Sizes of a block's vectors, to roll back a partly parsed record (reused: no per-record
// allocation).
struct BlockMark {
  size_t label = 0, dense = 0;
  std::vector<size_t> nnz, keys;
  void Save(const RecordBlock& b) {
    label = b.label.size();
    dense = b.dense.size();
    nnz.resize(b.nnz.size());
    keys.resize(b.keys.size());
    for (size_t i = 0; i < nnz.size(); ++i) nnz[i] = b.nnz[i].size();
    for (size_t i = 0; i < keys.size(); ++i) keys[i] = b.keys[i].size();
  }
  void Restore(RecordBlock* b) const {
    b->label.resize(label);
    b->dense.resize(dense);
    for (size_t i = 0; i < nnz.size(); ++i) b->nnz[i].resize(nnz[i]);
    for (size_t i = 0; i < keys.size(); ++i) b->keys[i].resize(keys[i]);
  }
};

constexpr int64_t kWindowBytes = 1 << 20;
// Bytes after the last record examined to describe trailing data in an error message.
constexpr int64_t kTrailingScanBytes = int64_t{256} << 20;

// Thrown by the trailing-data scan when the bytes stop forming records.
struct NotARecord {};

template <typename T>
T Load(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

std::string Str(int64_t v) { return std::to_string(v); }

[[noreturn]] void FailAt(const std::string& path, const std::string& where,
                         const std::string& field, const std::string& what) {
  HCTR_FAIL(ErrorCode::kDataLoss,
            "Norm file `" << path << "`, " << where << ", field `" << field << "`: " << what);
}

[[noreturn]] void FailHeader(const std::string& path, const std::string& field,
                             const std::string& what) {
  FailAt(path, "header", field, what);
}

// The header's fields from its 64 bytes.
NormHeader ParseFields(const char* h) {
  int64_t f[5];
  std::memcpy(f, h, sizeof(f));
  return NormHeader{f[0], f[1], f[2], f[3], f[4]};
}

void CheckCount(const NormHeader& h, const std::string& path) {
  if (h.number_of_records < 0) {
    FailHeader(path, "number_of_records", "is negative: " + Str(h.number_of_records));
  }
}

bool Matches(const NormHeader& h, const FormatOptions& o) {
  return h.error_check == (o.check_sum ? 1 : 0) && h.number_of_records >= 0 &&
         h.label_dim == o.label_dim && h.dense_dim == o.dense_dim && h.slot_num == o.total_slots();
}

}  // namespace

int64_t NormHeaderSize(bool check_sum) {
  return check_sum ? 4 + kNormHeaderBytes + 1 : kNormHeaderBytes;
}

NormHeader ReadNormHeader(FileBuffer* file, const std::string& path, bool check_sum) {
  const char* h = nullptr;
  if (check_sum) {
    if (!file->Ensure(4)) {
      FailHeader(path, "length", "file has " + Str(file->file_size()) + " bytes, too short");
    }
    int32_t n = Load<int32_t>(file->data());
    if (n != kNormHeaderBytes) {
      FailHeader(path, "length",
                 "header unit length is " + Str(n) + ", expected 64 for check_type=Sum" +
                     (n == 0 ? " (the file looks unframed, i.e. written with Check_t.Non)" : ""));
    }
    if (!file->Ensure(NormHeaderSize(true))) {
      FailHeader(path, "header",
                 "file has " + Str(file->file_size()) + " bytes, too short for a framed header");
    }
    h = file->data() + 4;
    int8_t want = static_cast<int8_t>(h[kNormHeaderBytes]);
    int8_t got = SumChecksum(h, kNormHeaderBytes);
    if (want != got) {
      FailHeader(path, "checksum",
                 "stored " + Str(want) + ", computed " + Str(got) + " (corrupt header)");
    }
  } else {
    if (!file->Ensure(kNormHeaderBytes)) {
      FailHeader(path, "header",
                 "file has " + Str(file->file_size()) + " bytes, fewer than the 64-byte header");
    }
    h = file->data();
  }
  const NormHeader header = ParseFields(h);
  file->Skip(NormHeaderSize(check_sum));
  return header;
}

void CheckNormHeader(const NormHeader& h, const FormatOptions& o, const std::string& path) {
  if (h.error_check != (o.check_sum ? 1 : 0)) {
    FailHeader(path, "error_check",
               "is " + Str(h.error_check) + " but check_type is " +
                   (o.check_sum ? "Sum (expects 1)" : "Non (expects 0)"));
  }
  CheckCount(h, path);
  if (h.label_dim != o.label_dim) {
    FailHeader(path, "label_dim",
               "is " + Str(h.label_dim) + " but the Input has label_dim=" + Str(o.label_dim));
  }
  if (h.dense_dim != o.dense_dim) {
    FailHeader(path, "dense_dim",
               "is " + Str(h.dense_dim) + " but the Input has dense_dim=" + Str(o.dense_dim));
  }
  if (h.slot_num != o.total_slots()) {
    FailHeader(path, "slot_num",
               "is " + Str(h.slot_num) + " but the Input's sparse inputs have " +
                   Str(o.total_slots()) + " slots in total");
  }
}

NormHeader ReadNormHeader(const std::string& path, bool* check_sum) {
  FileBuffer file(path, 0, static_cast<size_t>(NormHeaderSize(true)));
  *check_sum = file.Ensure(4) && Load<int32_t>(file.data()) == kNormHeaderBytes;
  const NormHeader h = ReadNormHeader(&file, path, *check_sum);
  if (h.error_check != (*check_sum ? 1 : 0)) {
    FailHeader(
        path, "error_check",
        "is " + Str(h.error_check) + " but the header is " +
            (*check_sum ? "framed (Check_t.Sum, expects 1)" : "unframed (Check_t.Non, expects 0)") +
            ": not a Norm file");
  }
  CheckCount(h, path);
  const std::pair<const char*, int64_t> at_least[] = {
      {"label_dim", 1}, {"dense_dim", 0}, {"slot_num", 0}};
  const int64_t values[] = {h.label_dim, h.dense_dim, h.slot_num};
  for (int i = 0; i < 3; ++i) {
    if (values[i] < at_least[i].second) {
      FailHeader(
          path, at_least[i].first,
          "is " + Str(values[i]) + ", less than " + Str(at_least[i].second) + ": not a Norm file");
    }
  }
  return h;
}

int64_t NormRecordCount(const std::vector<std::string>& paths, const FormatOptions& options) {
  // Smallest record: label and dense floats and one nnz word per slot (plus the Sum framing).
  const int64_t smallest = 4 * (options.label_dim + options.dense_dim + options.total_slots()) +
                           (options.check_sum ? 5 : 0);
  int64_t total = 0;
  for (const auto& path : paths) {
    try {
      FileBuffer file(path, 0, static_cast<size_t>(NormHeaderSize(options.check_sum)));
      const NormHeader h = ReadNormHeader(&file, path, options.check_sum);
      if (!Matches(h, options) || smallest <= 0 ||
          h.number_of_records > file.remaining() / smallest) {
        return -1;
      }
      total += h.number_of_records;
    } catch (const std::exception&) {
      return -1;  // unreadable: the reader names the problem
    }
  }
  return total;
}

NormDecoder::NormDecoder(const std::string& path, const FormatOptions& options)
    : path_(path), options_(options), file_(path, 0), key_bytes_(options.key_i64 ? 8 : 4) {
  const NormHeader header = ReadNormHeader(&file_, path_, options_.check_sum);
  CheckNormHeader(header, options_, path_);
  number_of_records_ = header.number_of_records;
  next_record_ = 0;
}

void NormDecoder::Fail(const std::string& field, const std::string& what) const {
  FailAt(path_, next_record_ < 0 ? "header" : "record " + Str(next_record_), field, what);
}

// `fail` reports invalid values; `missing` reports bytes missing from the source (truncation, or
// in windowed mode the need to refill).
template <typename Source, typename Fail, typename Missing>
static void ParseRecord(Source* src, const FormatOptions& o, int64_t key_bytes, RecordBlock* out,
                        const Fail& fail, const Missing& missing) {
  const int64_t dense_bytes = (o.label_dim + o.dense_dim) * 4;
  const char* p = src->Take(dense_bytes);
  if (p == nullptr) missing("label", "record ends before its label and dense values (truncated)");
  // memcpy, not a float* cast: framed records leave the fields unaligned.
  const size_t l0 = out->label.size(), d0 = out->dense.size();
  out->label.resize(l0 + o.label_dim);
  out->dense.resize(d0 + o.dense_dim);
  std::memcpy(out->label.data() + l0, p, 4 * o.label_dim);
  if (o.dense_dim > 0) std::memcpy(out->dense.data() + d0, p + 4 * o.label_dim, 4 * o.dense_dim);
  int64_t slot = 0;
  for (size_t i = 0; i < o.slots_per_input.size(); ++i) {
    int64_t total = 0, limit = 0;
    for (int64_t s = 0; s < o.slots_per_input[i]; ++s) limit += o.max_nnz[slot + s];
    for (int64_t s = 0; s < o.slots_per_input[i]; ++s, ++slot) {
      // Field names are built only on failure: this loop runs once per slot of every record.
      auto field = [slot](const char* what) { return "slot " + std::to_string(slot) + what; };
      const char* q = src->Take(4);
      if (q == nullptr) missing(field(" nnz"), "record ends before this field (truncated)");
      int32_t nnz = Load<int32_t>(q);
      if (!NnzOk(o, i, slot, nnz, total, limit)) {
        fail(field(" nnz"), NnzMessage(o, i, slot, nnz, total, limit));
      }
      total += nnz;
      const char* k = src->Take(static_cast<int64_t>(nnz) * key_bytes);
      if (k == nullptr) {
        missing(field(" keys"), "nnz=" + std::to_string(nnz) +
                                    " keys do not fit in the rest of the record (truncated)");
      }
      auto& keys = out->keys[i];
      const size_t at = keys.size();
      keys.resize(at + nnz);
      if (key_bytes == 8) {
        std::memcpy(keys.data() + at, k, static_cast<size_t>(nnz) * 8);
      } else {
        for (int32_t j = 0; j < nnz; ++j) keys[at + j] = Load<uint32_t>(k + 4 * j);
      }
      out->nnz[i].push_back(nnz);
    }
  }
}

int64_t NormDecoder::Decode(int64_t max_records, RecordBlock* out) {
  auto fail = [this](const std::string& field, const std::string& what) { Fail(field, what); };
  int64_t done = 0;
  const int64_t expect = std::min(max_records, number_of_records_ - next_record_);
  for (size_t i = 0; i < options_.slots_per_input.size(); ++i) {
    out->nnz[i].reserve(out->nnz[i].size() + expect * options_.slots_per_input[i]);
  }
  out->label.reserve(out->label.size() + expect * options_.label_dim);
  out->dense.reserve(out->dense.size() + expect * options_.dense_dim);
  if (options_.check_sum) {
    while (done < max_records && next_record_ < number_of_records_) {
      if (!file_.Ensure(4)) {
        Fail("length", "file ends, but the header says " + Str(number_of_records_) +
                           " records (truncated file)");
      }
      const int64_t n = Load<int32_t>(file_.data());  // int64: n + 5 must not overflow
      if (n < 0 || n + 5 > file_.remaining()) {
        Fail("length", "unit length " + Str(n) + " does not fit in the " +
                           Str(file_.remaining() - 4) + " bytes left (corrupt or truncated file)");
      }
      file_.Ensure(static_cast<size_t>(4 + n + 1));
      const char* unit = file_.data() + 4;
      int8_t want = static_cast<int8_t>(unit[n]);
      int8_t got = SumChecksum(unit, n);
      if (want != got) Fail("checksum", "stored " + Str(want) + ", computed " + Str(got));
      SpanSource span(unit, n);
      ParseRecord(&span, options_, key_bytes_, out, fail, fail);
      if (span.left() != 0) {
        Fail("length", "unit length " + Str(n) + " but the record's fields take " +
                           Str(n - span.left()) + " bytes");
      }
      file_.Skip(static_cast<size_t>(4 + n + 1));
      ++out->num_records;
      ++done;
      ++next_record_;
    }
    if (next_record_ == number_of_records_) CheckFileEnds();
    return done;
  }
  // Unframed records: parse from an in-memory window of the file; a record crossing the window's
  // end is rolled back and parsed again after a refill (with a larger window if it alone is
  // bigger). Only at the end of the file is a missing byte a truncation error.
  int64_t window = 0;
  SpanSource span(nullptr, 0);
  bool at_end = false;
  auto missing = [&](const std::string& field, const std::string& what) {
    if (!at_end) throw NeedMore{};
    Fail(field, what);
  };
  auto refill = [&](int64_t size) {
    file_.Skip(static_cast<size_t>(window - span.left()));  // bytes of completed records
    window = std::min(file_.remaining(), size);
    if (!file_.Ensure(static_cast<size_t>(window))) Fail("label", "file shrank while reading");
    span = SpanSource(file_.data(), window);
    at_end = window == file_.remaining();
  };
  refill(kWindowBytes);
  BlockMark mark;
  while (done < max_records && next_record_ < number_of_records_) {
    mark.Save(*out);
    const int64_t left = span.left();
    try {
      ParseRecord(&span, options_, key_bytes_, out, fail, missing);
    } catch (const NeedMore&) {
      mark.Restore(out);
      span = SpanSource(span.begin_at(window - left), left);
      refill(left == window ? 2 * window : std::max(window, kWindowBytes));
      continue;
    }
    ++out->num_records;
    ++done;
    ++next_record_;
  }
  file_.Skip(static_cast<size_t>(window - span.left()));
  if (next_record_ == number_of_records_) CheckFileEnds();
  return done;
}

void NormDecoder::CheckFileEnds() {
  if (end_checked_ || file_.remaining() == 0) {
    end_checked_ = true;
    return;
  }
  end_checked_ = true;
  const int64_t extra = file_.remaining();
  const std::string holds = DescribeTrailingData();
  next_record_ = -1;  // the message names the header's field
  Fail("number_of_records", "is " + Str(number_of_records_) + " but " + holds + " (" + Str(extra) +
                                " bytes follow the header's last record). Fix the "
                                "header's count or split the file");
}

std::string NormDecoder::DescribeTrailingData() {
  const int64_t extra = file_.remaining();
  const int64_t scan = std::min(extra, kTrailingScanBytes);
  file_.Ensure(static_cast<size_t>(scan));
  const char* p = file_.data();
  // A second header with this file's layout: two Norm files joined with `cat`.
  if (scan >= NormHeaderSize(options_.check_sum)) {
    const NormHeader second = ParseFields(p + (options_.check_sum ? 4 : 0));
    const bool framed_ok = !options_.check_sum || Load<int32_t>(p) == kNormHeaderBytes;
    if (framed_ok && Matches(second, options_)) {
      const std::string count = Str(second.number_of_records);
      return "the file holds " + Str(number_of_records_) + " + " + count +
             " records: a second Norm header (number_of_records=" + count + ") follows at byte " +
             Str(file_.offset()) + ", as when two files are joined with `cat`";
    }
  }
  // Otherwise count the whole records that follow.
  RecordBlock scratch;
  scratch.Reset(options_.slots_per_input.size());
  auto bad = [](const std::string&, const std::string&) { throw NotARecord{}; };
  SpanSource span(p, scan);
  int64_t more = 0;
  try {
    while (span.left() > 0) {
      if (options_.check_sum) {
        const char* len = span.Take(4);
        if (len == nullptr) throw NotARecord{};
        const int64_t n = Load<int32_t>(len);
        if (n < 0 || n + 1 > span.left()) throw NotARecord{};
        const char* unit = span.Take(n + 1);
        if (static_cast<int8_t>(unit[n]) != SumChecksum(unit, n)) throw NotARecord{};
        SpanSource inner(unit, n);
        ParseRecord(&inner, options_, key_bytes_, &scratch, bad, bad);
        if (inner.left() != 0) throw NotARecord{};
      } else {
        ParseRecord(&span, options_, key_bytes_, &scratch, bad, bad);
      }
      ++more;
      scratch.Reset(options_.slots_per_input.size());
    }
  } catch (const NotARecord&) {
    return "the file holds at least " + Str(number_of_records_ + more) +
           " records and then bytes that do not form a whole record";
  }
  if (scan < extra) {
    return "the file holds at least " + Str(number_of_records_ + more) + " records";
  }
  return "the file holds " + Str(number_of_records_ + more) + " records";
}

}  // namespace hugectr_tf
