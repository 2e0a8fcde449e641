// util.h: small helpers shared by the extension: time stamps, ids, identifier quoting, JSON input.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace sqlexport {

// Milliseconds since the Unix epoch (wall clock).
int64_t now_ms() noexcept;
// "YYYY-MM-DDTHH:MM:SS.sssZ" for a time in milliseconds since the epoch.
std::string iso_time(int64_t ms);
inline std::string now_iso() { return iso_time(now_ms()); }
// The clock of schedules (option "schedule", exports.next_run_at): now_ms() plus a test offset
// that export_config('clock_offset_ms', ...) sets for the whole process (a test hook, so that
// tests need not wait for due times), 0 otherwise.
int64_t schedule_now_ms() noexcept;
int64_t clock_offset_ms() noexcept;
void set_clock_offset_ms(int64_t ms) noexcept;
// A new opaque id: 22 characters of base64url from 128 random bits.
std::string new_id();
// Quote an SQL identifier: "name" with inner quotes doubled.
std::string quote_ident(std::string_view name);
// Parse JSON text given by a user. Throws ExportError(invalid_request) naming `what`
// ("criteria", "options", "columns") when the text is not JSON or nests deeper than kMaxJsonDepth.
nlohmann::json parse_json_text(std::string_view text, const char *what);

// The system's text for an errno value ("No space left on device"), thread-safely (workers
// report errors from their own threads; std::strerror may share one buffer).
std::string error_text(int err);

// Whether text is valid UTF-8 (as nlohmann-json, which stores names in JSON, requires).
bool is_valid_utf8(std::string_view text);
inline constexpr int kMaxJsonDepth = 64;

}  // namespace sqlexport
