// util.cpp: time stamps, ids, identifier quoting and guarded JSON parsing.
#include "util.h"

#include <atomic>
#include <chrono>
#include <cstring>
#include <ctime>

#include <fmt/format.h>

#include "common.h"
#include "errors.h"

namespace sqlexport {

int64_t now_ms() noexcept {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

namespace {
std::atomic<int64_t> g_clock_offset_ms{0};
}  // namespace

int64_t clock_offset_ms() noexcept { return g_clock_offset_ms.load(); }
void set_clock_offset_ms(int64_t ms) noexcept { g_clock_offset_ms.store(ms); }
int64_t schedule_now_ms() noexcept { return now_ms() + g_clock_offset_ms.load(); }

std::string iso_time(int64_t ms) {
  time_t secs = static_cast<time_t>(ms / 1000);
  struct tm tm_utc {};
  gmtime_r(&secs, &tm_utc);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm_utc.tm_year + 1900, tm_utc.tm_mon + 1, tm_utc.tm_mday,
                     tm_utc.tm_hour, tm_utc.tm_min, tm_utc.tm_sec, static_cast<int>(ms % 1000));
}

std::string new_id() {
  static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  unsigned char bytes[16];
  sqlite3_randomness(sizeof bytes, bytes);
  std::string out;
  out.reserve(22);
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char b : bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 6) {
      out += kAlphabet[(acc >> (bits - 6)) & 63];
      bits -= 6;
    }
  }
  if (bits > 0) out += kAlphabet[(acc << (6 - bits)) & 63];
  return out;
}

std::string quote_ident(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

namespace {
struct TooDeep {};
}  // namespace

nlohmann::json parse_json_text(std::string_view text, const char *what) {
  try {
    return nlohmann::json::parse(
        text, [](int depth, nlohmann::json::parse_event_t, nlohmann::json &) -> bool {
          if (depth > kMaxJsonDepth) throw TooDeep{};
          return true;
        });
  } catch (const TooDeep &) {
    throw ExportError(Code::invalid_request, fmt::format("{} nests deeper than {} levels", what, kMaxJsonDepth));
  } catch (const nlohmann::json::exception &e) {  // parse errors, and numbers out of range
    std::string msg = e.what();
    auto pos = msg.find("] ");
    if (pos != std::string::npos) msg = msg.substr(pos + 2);
    throw ExportError(Code::invalid_request, fmt::format("{} is not valid JSON: {}", what, msg));
  }
}

bool is_valid_utf8(std::string_view text) {
  try {
    (void)nlohmann::json(std::string(text)).dump();
    return true;
  } catch (const nlohmann::json::type_error &) {
    return false;
  }
}

namespace {
// The two variants of strerror_r (GNU returns the text, POSIX fills the buffer).
[[maybe_unused]] const char *strerror_pick(int rc, const char *buf) { return rc == 0 ? buf : "unknown error"; }
[[maybe_unused]] const char *strerror_pick(const char *text, const char *) { return text; }
}  // namespace

std::string error_text(int err) {
  char buf[256] = {};
  return strerror_pick(strerror_r(err, buf, sizeof buf), buf);
}

}  // namespace sqlexport
