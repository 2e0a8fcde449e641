// schedule.h: the option "schedule" of a definition (issue 17): when a scheduled export is due.
//
// USAGE
//   Schedule s = Schedule::parse("every 1 day at 02:00");   // throws on a bad text
//   int64_t due = s.next_after(now_ms);                       // 02:00 UTC tomorrow (or today)
//   s.text();                                                 // "every 1 day at 02:00"
//
// FORMS (UTC only; keywords and names in any case; any whitespace between tokens)
//   every N minutes|hours|days        intervals aligned to the Unix epoch: due whenever the
//   every N days at HH:MM             minutes (hours, days) since 1970-01-01T00:00Z are a
//                                     multiple of N, days at HH:MM (00:00 without "at").
//                                     N from 1 to one 365-day year in that unit; "minute",
//                                     "hour", "day" are accepted too.
//   minute hour day-of-month month day-of-week
//                                     a 5-field cron expression: each field *, a value, a-b,
//                                     */n, a-b/n, a/n (= a-max/n), or a comma list of these;
//                                     month and day-of-week also take JAN-DEC and SUN-SAT, and
//                                     day-of-week 0 and 7 are both Sunday (* and a/n run over
//                                     0-6; SUN ending a range like SAT-SUN is 7). When
//                                     day-of-month and day-of-week are both other than a lone
//                                     *, a day matches if either does. An expression that never
//                                     fires (0 0 31 2 *) is an error.
//   @hourly @daily @midnight @weekly @monthly @yearly @annually
//                                     0 * * * *, 0 0 * * * (both), 0 0 * * 0, 0 0 1 * *,
//                                     0 0 1 1 * (both); @reboot and others are errors.
// docs/SCHEDULE-GRAMMAR.md has the grammar, the alignment rules and every error text.
//
// Pure arithmetic on <chrono>'s civil calendar: no SQLite (a SQLite-free source), no clock,
// no time zone database, no locale. Immutable once parsed, so one Schedule may be shared
// between threads.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

namespace sqlexport {

class Schedule {
 public:
  // The latest time next_after takes: 9999-12-31T23:59:59.999Z, in ms since the Unix epoch.
  static constexpr int64_t kMaxTimeMs = 253402300799999;

  // Parse a schedule's text; throws ExportError(invalid_request) with a message that starts
  // "option 'schedule'", names what is wrong, quotes it, and says what is accepted.
  static Schedule parse(const std::string &text);

  // The first due time strictly after t_ms (ms since the Unix epoch, UTC); always a whole
  // minute. Throws ExportError(invalid_request) unless 0 <= t_ms <= kMaxTimeMs.
  int64_t next_after(int64_t t_ms) const;

  // The text normalised, as shown back in exports.options: single spaces, keywords, units
  // and @-forms in lower case, "s" on a unit unless N is 1, times as HH:MM, cron names in
  // upper case; e.g. "every 15 minutes", "every 1 day at 02:00", "0 2 * * MON-FRI", "@daily".
  const std::string &text() const noexcept { return text_; }

 private:
  Schedule() = default;
  // Cron: the first matching day from day `from` (days since the epoch) to `last`, both included.
  std::optional<int64_t> first_day(int64_t from, int64_t last) const;
  // Cron: the first matching minute of a matching day at or after minute_of_day.
  std::optional<int> first_minute(int minute_of_day) const;

  std::string text_;
  // Intervals: due at every time t with t == offset_ms_ modulo period_ms_ (period_ms_ > 0).
  int64_t period_ms_ = 0;
  int64_t offset_ms_ = 0;
  // Cron (period_ms_ == 0): bit v set when value v matches; day-of-week 0-6 (Sunday 0).
  uint64_t minutes_ = 0;
  uint32_t hours_ = 0;
  uint32_t days_of_month_ = 0;
  uint16_t months_ = 0;
  uint8_t weekdays_ = 0;
  bool any_day_of_month_ = false;  // the field is a lone *
  bool any_weekday_ = false;       // the field is a lone *
};

}  // namespace sqlexport
