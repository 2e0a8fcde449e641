// writer.cpp: turns result rows into CSV, TSV or JSON Lines bytes (SPEC sections 6 and 7).
//
// How values are written
//   INTEGER  exact decimal ("-9223372036854775808").
//   REAL     the shortest text that reads back to the same double (std::to_chars' text, made
//            faster with fmt's Dragonbox where the build finds it: format_real below); ".0" is
//            appended when that text has neither '.' nor an exponent, so a REAL never reads back
//            as an INTEGER (2.0 -> "2.0", -0.0 -> "-0.0"). +/-infinity -> "1e999" / "-1e999",
//            which SQLite, Python and strtod read back as infinity. NaN (SQLite never stores one;
//            it turns NaN into NULL) is written as NULL.
//   TEXT     csv/tsv: the bytes unchanged. jsonl: a JSON string (below).
//   BLOB     option blob: "hex" = uppercase hex as SQLite's hex(); "base64" = standard alphabet
//            with '=' padding (OpenSSL's EVP_EncodeBlock). jsonl: that text as a JSON string.
//   NULL     csv/tsv: options.null_text, never quoted (not even by force_quote). jsonl: null.
//
// CSV (RFC 4180) and TSV. TSV here is "CSV with a tab delimiter": the same quoting rules
// apply, so a field holding a tab, quote, CR or LF is quoted rather than backslash-escaped.
// Fields are separated by options.delimiter; every line, the header and the last row included,
// ends with options.line_ending. A field is quoted ("..." with inner quotes doubled) only when
//   - it holds the delimiter, a quote, CR or LF;
//   - it starts or ends with a space;
//   - it is empty, so that "" (empty TEXT) and NULL (empty null_text) differ;
//   - it equals a non-empty null_text, so that the TEXT 'NA' and NULL written as NA differ
//     (this applies to every type: an INTEGER 0 is quoted when null_text is "0");
//   - force_quote applies to its column (force_quote_all, or the column named in
//     force_quote_columns, ignoring ASCII case).
// Numbers and BLOB text go through the same rules, so an odd delimiter such as '.' or 'A'
// still yields fields that split correctly.
// formula_escape (csv/tsv only): a TEXT value starting with '=', '+', '-', '@', tab or CR gets a
// "'" prefix before the quoting rules apply, so spreadsheets do not run it as a formula. Numbers
// are never prefixed (they must stay lossless), nor are BLOBs (hex and base64 cannot spell a
// function call), nor header names (they come from the schema, and re-import maps by them).
// header: the column names, quoted by the same rules (force_quote included).
// bom: EF BB BF at the start of every file, for every format.
//
// JSON Lines: one object per row, {"col":value,...} then options.line_ending. Keys are the
// column names, escaped once when the writer is built. Numbers use the CSV number text, so 2.0
// stays 2.0 and infinity is 1e999. Strings escape '"', '\\' and the bytes below 0x20 (\n \r \t
// \b \f, else \u00XX); other bytes are copied as they are. JSON text must be valid UTF-8, so an
// invalid UTF-8 sequence in a TEXT value (or a column name) is replaced by U+FFFD, one per
// maximal invalid subpart as the Unicode standard recommends. This is the one lossy case of the
// writer; valid UTF-8, embedded NULs included (\u0000), round-trips exactly.
//
// Performance: write_row is the inner loop of an export. It appends straight to the caller's
// buffer, reads each value once (sqlite3_column_value, then the accessor that matches its
// storage class: no conversion), formats numbers in a stack buffer, skips the quoting checks for
// numbers when no option can make one need quotes, and allocates nothing per value beyond the
// buffer growth. capture_row / write_captured split the same work across two threads: the
// reading thread only copies values, another formats them with the same routines.
#include "writer.h"

#include <openssl/evp.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <new>
#include <utility>

// Set by CMakeLists.txt: 1 when fmt::detail::dragonbox (an internal of fmt) compiles with the
// signature format_real expects and EXPORT_FORCE_TO_CHARS is off, else 0.
#ifndef EXPORT_HAVE_FMT_DRAGONBOX
#error "EXPORT_HAVE_FMT_DRAGONBOX must be defined (0 or 1) by the build"
#endif
#if EXPORT_HAVE_FMT_DRAGONBOX
#include <fmt/format.h>
#endif

namespace sqlexport {

namespace {

constexpr char kHexDigits[] = "0123456789ABCDEF";
constexpr size_t kNumberBuffer = kRealTextMax;  // int64 text is 20 bytes

// format_real's reference: std::to_chars' shortest text, plus ".0" when it has neither '.' nor
// an exponent. Used for zero, for the integral values whose fixed text needs their exact
// digits, and for every REAL where fmt's Dragonbox is not used.
size_t real_by_to_chars(double v, char *buf) noexcept {
  char *end = std::to_chars(buf, buf + kRealTextMax - 2, v).ptr;
  if (std::find_if(buf, end, [](char c) { return c == '.' || c == 'e'; }) == end) {
    *end++ = '.';
    *end++ = '0';
  }
  return static_cast<size_t>(end - buf);
}

#if EXPORT_HAVE_FMT_DRAGONBOX
// Two decimal digits per entry: "00", "01", ..., "99".
constexpr char kDigitPairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

// Write the decimal digits of s so that they end at end; returns where they start. Eight
// digits at a time in 32-bit arithmetic (s < 10^17 in format_real's uses, and < 2^64 always).
char *digits_ending_at(char *end, uint64_t s) noexcept {
  while (s >= 100000000) {
    auto low = static_cast<uint32_t>(s % 100000000);
    s /= 100000000;
    for (int i = 0; i < 4; ++i) {
      std::memcpy(end -= 2, kDigitPairs + 2 * (low % 100), 2);
      low /= 100;
    }
  }
  auto t = static_cast<uint32_t>(s);
  while (t >= 100) {
    std::memcpy(end -= 2, kDigitPairs + 2 * (t % 100), 2);
    t /= 100;
  }
  if (t >= 10) std::memcpy(end -= 2, kDigitPairs + 2 * t, 2);
  else *--end = static_cast<char>('0' + t);
  return end;
}

// The same text as real_by_to_chars for a finite non-zero v, about three times faster: the
// shortest digits that read back to v come from fmt's Dragonbox (libstdc++'s to_chars uses Ryu:
// both give the shortest digits, the closest to v among them), then they are laid out as
// to_chars does: fixed notation ("0.001", "123.45") unless scientific ("1e-04", "1.5e+300") is
// shorter, fixed on a tie. tests/unit/test_writer.cpp compares both on millions of doubles.
size_t real_by_dragonbox(double v, char *buf) noexcept {
  auto dec = fmt::detail::dragonbox::to_decimal(std::fabs(v));  // v = significand * 10^exponent
  uint64_t sig = dec.significand;
  int e = dec.exponent;
  while (sig % 10 == 0) {  // Dragonbox already drops trailing zeros; this keeps the layout right if not
    sig /= 10;
    ++e;
  }
  // Copies below move a fixed kCopy bytes (more than the at most 17 digits), which compiles to
  // a few moves instead of a call; the bytes past the text are scratch (kRealTextMax has room).
  constexpr size_t kCopy = 20;
  static_assert(kRealTextMax >= 2 + 16 + kCopy, "the furthest copy starts after a sign, 16 digits and a '.'");
  char digits[2 * kCopy] = {};
  char *dend = digits + kCopy;
  const char *d = digits_ending_at(dend, sig);
  const int n = static_cast<int>(dend - d);
  const int sci_exp = e + n - 1;
  const int sci_len = n + (n > 1 ? 1 : 0) + 2 + (sci_exp <= -100 || sci_exp >= 100 ? 3 : 2);
  const int fixed_len = e >= 0 ? n + e : (-e < n ? n + 1 : 2 - e);
  char *p = buf;
  if (std::signbit(v)) *p++ = '-';
  if (fixed_len <= sci_len) {
    if (e > 0) {
      // Fixed text of an integral value spells its exact digits, which are sig * 10^e only when
      // that product is exactly a double (below 2^53); else leave it to to_chars.
      constexpr uint64_t kExact = uint64_t{1} << 53;
      uint64_t exact = sig;
      for (int i = 0; i < e; ++i) {  // e <= 5 here (fixed is never longer than scientific)
        if (exact > kExact / 10) return real_by_to_chars(v, buf);
        exact *= 10;
      }
      d = digits_ending_at(dend, exact);
      std::memcpy(p, d, kCopy);
      p += dend - d;
      *p++ = '.';
      *p++ = '0';
    } else if (e == 0) {
      std::memcpy(p, d, kCopy);
      p += n;
      *p++ = '.';
      *p++ = '0';
    } else if (-e < n) {
      const int whole = n + e;
      std::memcpy(p, d, kCopy);
      p += whole;
      *p++ = '.';
      std::memcpy(p, d + whole, kCopy);
      p += -e;
    } else {
      *p++ = '0';
      *p++ = '.';
      std::memset(p, '0', 8);  // -e - n < 4 here (2 - e <= the scientific length)
      p += -e - n;
      std::memcpy(p, d, kCopy);
      p += n;
    }
  } else {
    *p++ = d[0];
    if (n > 1) {
      *p++ = '.';
      std::memcpy(p, d + 1, kCopy);
      p += n - 1;
    }
    *p++ = 'e';
    *p++ = sci_exp < 0 ? '-' : '+';
    int a = sci_exp < 0 ? -sci_exp : sci_exp;
    if (a >= 100) {
      *p++ = static_cast<char>('0' + a / 100);
      a %= 100;
    }
    std::memcpy(p, kDigitPairs + 2 * a, 2);
    p += 2;
  }
  return static_cast<size_t>(p - buf);
}
#endif  // EXPORT_HAVE_FMT_DRAGONBOX

}  // namespace

size_t format_real(double v, char *buf) noexcept {
  if (std::isnan(v)) return 0;
  if (std::isinf(v)) {
    const char *text = v > 0 ? "1e999" : "-1e999";
    size_t n = std::strlen(text);
    std::memcpy(buf, text, n);
    return n;
  }
  if (v == 0) return real_by_to_chars(v, buf);
#if EXPORT_HAVE_FMT_DRAGONBOX
  return real_by_dragonbox(v, buf);
#else
  return real_by_to_chars(v, buf);
#endif
}

size_t format_real_reference(double v, char *buf) noexcept {
  if (std::isnan(v) || std::isinf(v) || v == 0) return format_real(v, buf);
  return real_by_to_chars(v, buf);
}

bool format_real_uses_dragonbox() noexcept { return EXPORT_HAVE_FMT_DRAGONBOX != 0; }

namespace {

// Write v in decimal into buf; returns its length.
size_t format_integer(sqlite3_int64 v, char *buf) noexcept {
  return static_cast<size_t>(std::to_chars(buf, buf + kNumberBuffer, static_cast<long long>(v)).ptr - buf);
}

// Append n bytes as uppercase hex.
void append_hex(std::string &out, const unsigned char *p, size_t n) {
  size_t start = out.size();
  out.resize(start + 2 * n);
  char *d = out.data() + start;
  for (size_t i = 0; i < n; ++i) {
    *d++ = kHexDigits[p[i] >> 4];
    *d++ = kHexDigits[p[i] & 15];
  }
}

// Append n bytes as padded standard base64.
void append_base64(std::string &out, const unsigned char *p, size_t n) {
  constexpr size_t kChunk = 3u << 20;  // a multiple of 3, so chunks concatenate without padding
  size_t start = out.size();
  size_t total = 4 * ((n + 2) / 3);
  out.resize(start + total + 1);  // EVP_EncodeBlock writes a terminating NUL
  auto *d = reinterpret_cast<unsigned char *>(out.data() + start);
  while (n > 0) {
    size_t take = n < kChunk ? n : kChunk;
    int written = EVP_EncodeBlock(d, p, static_cast<int>(take));
    d += written;
    p += take;
    n -= take;
  }
  out.resize(start + total);
}

// Append the blob in the configured encoding.
void append_blob(std::string &out, const void *data, int bytes, Options::Blob encoding) {
  auto *p = static_cast<const unsigned char *>(data);
  size_t n = bytes > 0 && p ? static_cast<size_t>(bytes) : 0;
  if (encoding == Options::Blob::hex) append_hex(out, p, n);
  else append_base64(out, p, n);
}

// For a byte >= 0x80 at p[0]: the length of the well-formed UTF-8 sequence starting there
// (valid = true), or the length of its maximal invalid subpart, at least 1 (valid = false).
size_t utf8_sequence(const unsigned char *p, size_t n, bool &valid) noexcept {
  unsigned char c = p[0];
  unsigned char lo = 0x80, hi = 0xBF;
  size_t need;
  if (c >= 0xC2 && c <= 0xDF) {
    need = 1;
  } else if (c == 0xE0) {
    need = 2;
    lo = 0xA0;
  } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
    need = 2;
  } else if (c == 0xED) {  // excludes the surrogates D800..DFFF
    need = 2;
    hi = 0x9F;
  } else if (c == 0xF0) {
    need = 3;
    lo = 0x90;
  } else if (c >= 0xF1 && c <= 0xF3) {
    need = 3;
  } else if (c == 0xF4) {  // up to U+10FFFF
    need = 3;
    hi = 0x8F;
  } else {
    valid = false;
    return 1;
  }
  for (size_t i = 1; i <= need; ++i) {
    if (i >= n || p[i] < lo || p[i] > hi) {
      valid = false;
      return i;
    }
    lo = 0x80;
    hi = 0xBF;
  }
  valid = true;
  return need + 1;
}

// Bytes below 0x80 that a JSON string can hold as they are.
constexpr std::array<bool, 128> make_json_plain() {
  std::array<bool, 128> t{};
  for (int c = 0x20; c < 0x80; ++c) t[static_cast<size_t>(c)] = c != '"' && c != '\\';
  return t;
}
constexpr std::array<bool, 128> kJsonPlain = make_json_plain();

// Append p[0..n) as a JSON string with its quotes; invalid UTF-8 becomes U+FFFD.
void append_json_string(std::string &out, const unsigned char *p, size_t n) {
  out += '"';
  size_t run = 0;  // start of the bytes not yet copied
  size_t i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (c < 0x80) {
      if (kJsonPlain[c]) {
        ++i;
        continue;
      }
      out.append(reinterpret_cast<const char *>(p + run), i - run);
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default: {
          char esc[6] = {'\\', 'u', '0', '0', kHexDigits[c >> 4], kHexDigits[c & 15]};
          out.append(esc, sizeof esc);
        }
      }
      run = ++i;
    } else {
      bool valid;
      size_t len = utf8_sequence(p + i, n - i, valid);
      if (!valid) {
        out.append(reinterpret_cast<const char *>(p + run), i - run);
        out += "\xEF\xBF\xBD";
        run = i + len;
      }
      i += len;
    }
  }
  out.append(reinterpret_cast<const char *>(p + run), n - run);
  out += '"';
}

bool starts_formula(const char *p, size_t n) noexcept {
  if (n == 0) return false;
  char c = p[0];
  return c == '=' || c == '+' || c == '-' || c == '@' || c == '\t' || c == '\r';
}

}  // namespace

// The formatting routines; a member so that they read the writer's private tables.
struct RowWriter::Impl {
  // True when text (preceded by a "'" when prefixed) equals the non-empty null text.
  static bool equals_null(const RowWriter &w, bool prefixed, const char *p, size_t n) noexcept {
    const std::string &null_text = w.options_.null_text;
    if (null_text.empty() || null_text.size() != n + (prefixed ? 1 : 0)) return false;
    if (prefixed) return null_text[0] == '\'' && (n == 0 || std::memcmp(null_text.data() + 1, p, n) == 0);
    return n == 0 || std::memcmp(null_text.data(), p, n) == 0;
  }

  // True when one of p[0..n) is the delimiter, a quote, CR or LF. Eight bytes at a time: a
  // word holds byte c exactly when (word ^ c repeated) has a zero byte, which the classic
  // (x - 0x01..) & ~x & 0x80.. test finds without false positives.
  static bool has_special(const RowWriter &w, const char *p, size_t n) noexcept {
    constexpr uint64_t kOnes = 0x0101010101010101ull, kHighs = 0x8080808080808080ull;
    auto has_zero = [](uint64_t x) { return (x - kOnes) & ~x & kHighs; };
    const uint64_t delim = kOnes * static_cast<unsigned char>(w.options_.delimiter);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      uint64_t x;
      std::memcpy(&x, p + i, 8);
      if (has_zero(x ^ delim) | has_zero(x ^ (kOnes * '"')) | has_zero(x ^ (kOnes * '\r')) |
          has_zero(x ^ (kOnes * '\n')))
        return true;
    }
    const bool *special = w.special_.data();
    for (; i < n; ++i)
      if (special[static_cast<unsigned char>(p[i])]) return true;
    return false;
  }

  // Append one csv/tsv field: "'" when prefixed, then p[0..n), quoted when the rules say so.
  static void csv_field(const RowWriter &w, std::string &out, const char *p, size_t n, bool force, bool prefixed) {
    // A prefixed field is never empty and starts with "'" (special only as the delimiter).
    bool quote = force || (prefixed ? w.special_['\''] : (n == 0 || p[0] == ' ')) || (n > 0 && p[n - 1] == ' ') ||
                 equals_null(w, prefixed, p, n) || has_special(w, p, n);
    if (!quote) {
      if (prefixed) out += '\'';
      out.append(p, n);
      return;
    }
    out += '"';
    if (prefixed) out += '\'';
    const char *end = p + n;
    while (p < end) {
      const char *q = static_cast<const char *>(std::memchr(p, '"', static_cast<size_t>(end - p)));
      if (!q) {
        out.append(p, static_cast<size_t>(end - p));
        break;
      }
      out.append(p, static_cast<size_t>(q - p) + 1);
      out += '"';
      p = q + 1;
    }
    out += '"';
  }

  using Val = RowWriter::Val;

  // Column i of the current row. The value is read through sqlite3_column_value once, then
  // with the sqlite3_value accessors: each sqlite3_column_* call costs a lookup and an error
  // check of its own. (The value is "unprotected": safe here because the statement's
  // connection is used by this thread alone.)
  static Val column(sqlite3_stmt *stmt, int i) {
    sqlite3_value *v = sqlite3_column_value(stmt, i);
    Val x;
    x.type = sqlite3_value_type(v);
    switch (x.type) {
      case SQLITE_INTEGER: x.i = sqlite3_value_int64(v); break;
      case SQLITE_FLOAT: x.d = sqlite3_value_double(v); break;
      case SQLITE_TEXT:
        x.p = reinterpret_cast<const char *>(sqlite3_value_text(v));
        x.n = static_cast<size_t>(sqlite3_value_bytes(v));
        if (!x.p) throw std::bad_alloc();  // a TEXT value yields NULL only when out of memory
        break;
      case SQLITE_BLOB:
        x.p = static_cast<const char *>(sqlite3_value_blob(v));
        x.n = static_cast<size_t>(sqlite3_value_bytes(v));
        if (!x.p && x.n > 0) throw std::bad_alloc();
        break;
      default: break;
    }
    return x;
  }

  // Append value x of column i as a csv/tsv field.
  static void csv_value(const RowWriter &w, const Val &x, size_t i, std::string &out) {
    bool force = w.force_quote_[i] != 0;
    char buf[kNumberBuffer];
    switch (x.type) {
      case SQLITE_INTEGER: {
        size_t n = format_integer(x.i, buf);
        if (w.numbers_plain_ && !force) out.append(buf, n);
        else csv_field(w, out, buf, n, force, false);
        return;
      }
      case SQLITE_FLOAT: {
        size_t n = format_real(x.d, buf);
        if (n == 0) out += w.options_.null_text;
        else if (w.numbers_plain_ && !force) out.append(buf, n);
        else csv_field(w, out, buf, n, force, false);
        return;
      }
      case SQLITE_TEXT:
        csv_field(w, out, x.p, x.n, force, w.options_.formula_escape && starts_formula(x.p, x.n));
        return;
      case SQLITE_BLOB: {
        // Encoded in place; hex and base64 hold no quote or space, so quoting only wraps them.
        size_t start = out.size();
        append_blob(out, x.p, static_cast<int>(x.n), w.options_.blob);
        const char *p = out.data() + start;
        size_t n = out.size() - start;
        if (force || n == 0 || equals_null(w, false, p, n) || has_special(w, p, n)) {
          out.insert(start, 1, '"');
          out += '"';
        }
        return;
      }
      default:
        out += w.options_.null_text;
        return;
    }
  }

  // Append value x as a JSON value.
  static void json_value(const RowWriter &w, const Val &x, std::string &out) {
    char buf[kNumberBuffer];
    switch (x.type) {
      case SQLITE_INTEGER:
        out.append(buf, format_integer(x.i, buf));
        return;
      case SQLITE_FLOAT: {
        size_t n = format_real(x.d, buf);
        if (n == 0) out += "null";
        else out.append(buf, n);
        return;
      }
      case SQLITE_TEXT:
        append_json_string(out, reinterpret_cast<const unsigned char *>(x.p), x.n);
        return;
      case SQLITE_BLOB:
        out += '"';
        append_blob(out, x.p, static_cast<int>(x.n), w.options_.blob);
        out += '"';
        return;
      default:
        out += "null";
        return;
    }
  }

  // Append one row whose values value(i) gives, for i in 0..columns-1.
  template <class Get>
  static void row(const RowWriter &w, Get &&value, std::string &out) {
    size_t n = w.columns_.size();
    if (w.format_ == Format::jsonl) {
      if (n == 0) out += '{';
      for (size_t i = 0; i < n; ++i) {
        out += w.json_keys_[i];
        json_value(w, value(i), out);
      }
      out += '}';
    } else {
      for (size_t i = 0; i < n; ++i) {
        if (i > 0) out += w.options_.delimiter;
        csv_value(w, value(i), i, out);
      }
    }
    out += w.options_.line_ending;
  }
};

RowWriter::RowWriter(Format format, const Options &options, std::vector<std::string> columns)
    : format_(format), options_(options), columns_(std::move(columns)) {
  special_[static_cast<unsigned char>(options_.delimiter)] = true;
  special_['"'] = true;
  special_['\r'] = true;
  special_['\n'] = true;
  // A number's text is made of these bytes only (format_integer, format_real); it needs the
  // quoting checks only when the delimiter is one of them or null_text could equal it.
  constexpr std::string_view kNumberBytes = "0123456789+-.e";
  const std::string &nt = options_.null_text;
  numbers_plain_ = kNumberBytes.find(options_.delimiter) == std::string_view::npos &&
                   (nt.empty() || nt.find_first_not_of(kNumberBytes) != std::string::npos);
  force_quote_.resize(columns_.size());
  json_keys_.resize(columns_.size());
  for (size_t i = 0; i < columns_.size(); ++i) {
    force_quote_[i] = options_.force_quote_all || find_column(options_.force_quote_columns, columns_[i]) >= 0;
    std::string &key = json_keys_[i];
    key.assign(1, i == 0 ? '{' : ',');
    append_json_string(key, reinterpret_cast<const unsigned char *>(columns_[i].data()), columns_[i].size());
    key += ':';
  }
}

void RowWriter::begin_file(std::string &out) const {
  if (options_.bom) out += "\xEF\xBB\xBF";
  if (format_ == Format::jsonl || !options_.header) return;
  for (size_t i = 0; i < columns_.size(); ++i) {
    if (i > 0) out += options_.delimiter;
    Impl::csv_field(*this, out, columns_[i].data(), columns_[i].size(), force_quote_[i] != 0, false);
  }
  out += options_.line_ending;
}

void RowWriter::write_row(sqlite3_stmt *stmt, std::string &out) const {
  Impl::row(*this, [stmt](size_t i) { return Impl::column(stmt, static_cast<int>(i)); }, out);
}

// A captured row: per column, its storage class in one byte, then for INTEGER and REAL the 8
// bytes of the value, for TEXT and BLOB a 4-byte length and the bytes (SQLite values are
// shorter than 2 GiB), for NULL nothing. Machine byte order: it never leaves the process.
void RowWriter::capture_row(sqlite3_stmt *stmt, std::string &raw) const {
  // Read the values first, then grow raw once and copy: appending piece by piece costs more
  // than the copying itself.
  size_t n = columns_.size();
  if (vals_.size() < n) vals_.resize(n);
  Val *vals = vals_.data();
  size_t need = 0;
  for (size_t i = 0; i < n; ++i) {
    Val &x = vals[i];
    x = Impl::column(stmt, static_cast<int>(i));
    need += x.type == SQLITE_INTEGER || x.type == SQLITE_FLOAT ? 9 : x.type == SQLITE_NULL ? 1 : 5 + x.n;
  }
  size_t at = raw.size();
  if (raw.capacity() < at + need) raw.reserve(std::max(at + need, 2 * raw.capacity()));
  raw.resize(at + need);
  char *d = raw.data() + at;
  for (size_t i = 0; i < n; ++i) {
    const Val &x = vals[i];
    *d++ = static_cast<char>(x.type);
    switch (x.type) {
      case SQLITE_INTEGER:
        std::memcpy(d, &x.i, 8);
        d += 8;
        break;
      case SQLITE_FLOAT:
        std::memcpy(d, &x.d, 8);
        d += 8;
        break;
      case SQLITE_TEXT:
      case SQLITE_BLOB: {
        auto len = static_cast<uint32_t>(x.n);
        std::memcpy(d, &len, 4);
        d += 4;
        if (x.n > 0) std::memcpy(d, x.p, x.n);
        d += x.n;
        break;
      }
      default: break;
    }
  }
}

void RowWriter::write_captured(std::string_view raw, std::string &out) const {
  const char *p = raw.data();
  const char *end = p + raw.size();
  auto next = [&p](size_t) {
    Impl::Val x;
    x.type = static_cast<unsigned char>(*p++);
    switch (x.type) {
      case SQLITE_INTEGER:
        std::memcpy(&x.i, p, 8);
        p += 8;
        break;
      case SQLITE_FLOAT:
        std::memcpy(&x.d, p, 8);
        p += 8;
        break;
      case SQLITE_TEXT:
      case SQLITE_BLOB: {
        uint32_t len;
        std::memcpy(&len, p, 4);
        p += 4;
        x.p = p;
        x.n = len;
        p += len;
        break;
      }
      default: break;
    }
    return x;
  };
  while (p < end) Impl::row(*this, next, out);
}

void append_blob_text(std::string &out, const void *data, int bytes, Options::Blob encoding) {
  append_blob(out, data, bytes, encoding);
}

size_t utf8_sequence_length(const unsigned char *p, size_t n, bool &valid) noexcept {
  return utf8_sequence(p, n, valid);
}

}  // namespace sqlexport
