// schedule.cpp: parse the option "schedule" and find its next due time (see schedule.h).
//
// PARSING
//   The text is split at ASCII whitespace. A first token "every" (any case) is an interval,
//   a single token starting with "@" an @-form, five tokens starting with a digit or "*" a
//   cron expression; anything else is the general error, which lists the three forms. An
//   @-form is parsed as the cron expression it stands for. Each cron field becomes a bit
//   mask of the values it matches (day-of-week 7 folded onto 0).
//
// NEXT DUE TIME
//   Intervals: the due times are offset + k * period for every integer k, so the next one
//   after t is offset + (floor((t - offset) / period) + 1) * period.
//   Cron: from the first whole minute after t, find the first matching day (a month that does
//   not match is skipped whole), then the first matching hour and minute in it; the start day
//   is special only in that its minutes before the start do not count. Each step is a few
//   bit operations, so a search costs at most one step per day searched.
//   How far to search: a cron expression that fires at all fires at least once in any 8 years
//   and a day. If day-of-week restricts the day it matches in every week of an allowed month;
//   otherwise some allowed (month, day-of-month) exists, every year or, for February 29 alone,
//   every leap year, and leap years are at most 8 years apart (2096, 2104). Parsing checks
//   that the expression fires at all by searching 2000-01-01 to 2004-12-31, which holds every
//   (month, day-of-month), February 29 included, and every weekday in every month; the
//   Gregorian calendar repeats every 400 years and the fields see nothing else of a date.
//   next_after therefore searches 9 years of days (3288), a bound it cannot reach.
#include "schedule.h"

#include <algorithm>
#include <array>
#include <bit>
#include <chrono>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "errors.h"

namespace sqlexport {

namespace {

using std::chrono::days;
using std::chrono::sys_days;
using std::chrono::weekday;
using std::chrono::year_month_day;

constexpr int64_t kMinuteMs = 60'000;
constexpr int64_t kHourMs = 60 * kMinuteMs;
constexpr int64_t kDayMs = 24 * kHourMs;
constexpr int kMinutesPerDay = 24 * 60;
constexpr int64_t kSearchDays = 9 * 365 + 3;  // 9 years of days (see the top of this file)
constexpr int64_t kDay20000101 = 10957;      // days from 1970-01-01 to 2000-01-01
constexpr int64_t kDay20041231 = 12783;      // days from 1970-01-01 to 2004-12-31

const char *const kForms =
    "\"every N minutes|hours|days [at HH:MM]\", a 5-field cron expression \"minute hour day-of-month month "
    "day-of-week\" or one of @hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually";

[[noreturn]] void bad(const std::string &message) { throw ExportError(Code::invalid_request, message); }

// s as a JSON string (quotes and control characters escaped, bad UTF-8 replaced), cut after
// 200 bytes with "..." so that an error never echoes a huge text.
std::string quote(std::string_view s) {
  constexpr size_t kMax = 200;
  std::string cut(s.substr(0, kMax));
  if (s.size() > kMax) cut += "...";
  return nlohmann::json(cut).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

std::string to_lower(std::string s) {
  for (char &c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

std::string to_upper(std::string s) {
  for (char &c : s)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return s;
}

std::vector<std::string> split_tokens(const std::string &text) {
  std::vector<std::string> tokens;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_space(text[i])) ++i;
    size_t start = i;
    while (i < text.size() && !is_space(text[i])) ++i;
    if (i > start) tokens.push_back(text.substr(start, i - start));
  }
  return tokens;
}

// s as a non-negative decimal integer (digits only, leading zeros allowed), saturating at
// 10^12 so that a long run of digits is merely too large; nullopt when s is not all digits.
std::optional<int64_t> parse_digits(std::string_view s) {
  if (s.empty()) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (!is_digit(c)) return std::nullopt;
    if (v < 1'000'000'000'000) v = v * 10 + (c - '0');
  }
  return v;
}

// floor(a / b) for b > 0.
int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

// The lowest set bit of mask at or above bit `from`, or -1.
int next_bit(uint64_t mask, int from) {
  if (from >= 64) return -1;
  uint64_t rest = mask >> from;
  return rest == 0 ? -1 : from + std::countr_zero(rest);
}

// ---- intervals ----

struct Unit {
  const char *singular;
  const char *plural;
  int64_t ms;
  int64_t max;  // one 365-day year in this unit
};
constexpr std::array<Unit, 3> kUnits = {{
    {"minute", "minutes", kMinuteMs, 365 * 24 * 60},
    {"hour", "hours", kHourMs, 365 * 24},
    {"day", "days", kDayMs, 365},
}};

// "HH:MM" (H or HH, then exactly MM) as minutes of the day, or nullopt.
std::optional<int> parse_hh_mm(const std::string &s) {
  size_t colon = s.find(':');
  if (colon == std::string::npos || colon == 0 || colon > 2 || s.size() != colon + 3) return std::nullopt;
  auto h = parse_digits(std::string_view(s).substr(0, colon));
  auto m = parse_digits(std::string_view(s).substr(colon + 1));
  if (!h || !m || *h > 23 || *m > 59) return std::nullopt;
  return static_cast<int>(*h * 60 + *m);
}

// ---- cron ----

const std::array<const char *, 12> kMonthNames = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                  "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
const std::array<const char *, 7> kWeekdayNames = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

struct Field {
  const char *name;
  int min;
  int max;
  int star_max;        // where * and a/n end: max, but 6 for day-of-week (7 is Sunday again)
  const char *values;  // what a value may be, for messages
  const char *const *names;
  int name_count;
  int first_named;  // the value of names[0]
};

const std::array<Field, 5> kFields = {{
    {"minute", 0, 59, 59, "0-59", nullptr, 0, 0},
    {"hour", 0, 23, 23, "0-23", nullptr, 0, 0},
    {"day-of-month", 1, 31, 31, "1-31", nullptr, 0, 0},
    {"month", 1, 12, 12, "1-12 or JAN-DEC", kMonthNames.data(), 12, 1},
    {"day-of-week", 0, 7, 6, "0-7 (0 and 7 are Sunday) or SUN-SAT", kWeekdayNames.data(), 7, 0},
}};

class CronFieldParser {
 public:
  CronFieldParser(const Field &field, const std::string &text, const std::string &expression)
      : f_(field), text_(text), expr_(expression) {}

  // The bit mask of the values the field matches.
  uint64_t parse() const {
    uint64_t mask = 0;
    size_t start = 0;
    while (true) {
      size_t comma = text_.find(',', start);
      std::string_view item = std::string_view(text_).substr(start, comma == std::string::npos ? comma : comma - start);
      mask |= parse_item(item);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    return mask;
  }

 private:
  [[noreturn]] void syntax() const {
    bad(fmt::format("option 'schedule': cron field '{}' must be *, a value, a range a-b, a step */n, a-b/n or a/n, "
                    "or a comma-separated list of these, not {} in {}",
                    f_.name, quote(text_), quote(expr_)));
  }

  // One value: digits, or a name where the field has names.
  int value(std::string_view s) const {
    if (auto v = parse_digits(s)) {
      if (*v < f_.min || *v > f_.max)
        bad(fmt::format("option 'schedule': cron field '{}' must be {}, not {} in {}", f_.name, f_.values, s,
                        quote(expr_)));
      return static_cast<int>(*v);
    }
    for (char c : s)
      if (!is_letter(c)) syntax();
    if (s.empty()) syntax();
    for (int i = 0; i < f_.name_count; ++i)
      if (s == f_.names[i]) return f_.first_named + i;
    bad(fmt::format("option 'schedule': cron field '{}' must be {}, not {} in {}", f_.name, f_.values, quote(s),
                    quote(expr_)));
  }

  uint64_t parse_item(std::string_view item) const {
    if (item.empty()) syntax();
    std::string_view base = item;
    std::optional<int64_t> step;
    if (size_t slash = item.find('/'); slash != std::string_view::npos) {
      base = item.substr(0, slash);
      step = parse_digits(item.substr(slash + 1));
      if (!step) syntax();
      if (*step < 1 || *step > f_.star_max - f_.min)
        bad(fmt::format("option 'schedule': cron field '{}' step must be 1-{}, not {} in {}", f_.name,
                        f_.star_max - f_.min, item.substr(slash + 1), quote(expr_)));
    }
    int lo = f_.min, hi = f_.star_max;
    if (base != "*") {
      size_t dash = base.find('-');
      if (dash == std::string_view::npos) {
        lo = value(base);
        hi = step ? std::max(lo, f_.star_max) : lo;  // a/n runs to the field's end (7/n: Sunday)
      } else {
        std::string_view a = base.substr(0, dash), b = base.substr(dash + 1);
        if (a.empty() || b.empty() || b.find('-') != std::string_view::npos) syntax();
        lo = value(a);
        hi = value(b);
        if (f_.names == kWeekdayNames.data() && b == "SUN" && lo > 0) hi = 7;  // SAT-SUN is 6-7
        if (lo > hi)
          bad(fmt::format("option 'schedule': cron field '{}' must have ranges a-b with a <= b, not {} in {}", f_.name,
                          quote(base), quote(expr_)));
      }
    }
    uint64_t mask = 0;
    for (int v = lo; v <= hi; v += static_cast<int>(step.value_or(1))) mask |= uint64_t{1} << v;
    return mask;
  }

  const Field &f_;
  const std::string &text_;
  const std::string &expr_;
};

struct Macro {
  const char *name;
  const char *cron;
};
constexpr std::array<Macro, 7> kMacros = {{
    {"@hourly", "0 * * * *"},
    {"@daily", "0 0 * * *"},
    {"@midnight", "0 0 * * *"},
    {"@weekly", "0 0 * * 0"},
    {"@monthly", "0 0 1 * *"},
    {"@yearly", "0 0 1 1 *"},
    {"@annually", "0 0 1 1 *"},
}};

}  // namespace

Schedule Schedule::parse(const std::string &text) {
  std::vector<std::string> tokens = split_tokens(text);
  auto general = [&]() { bad(fmt::format("option 'schedule' must be {}, not {}", kForms, quote(text))); };
  if (tokens.empty()) general();
  Schedule s;

  if (to_lower(tokens[0]) == "every") {
    if (tokens.size() != 3 && !(tokens.size() == 5 && to_lower(tokens[3]) == "at")) general();
    std::string expr = quote(text);
    auto n = parse_digits(tokens[1]);
    if (!n)
      bad(fmt::format("option 'schedule': N in \"every N minutes|hours|days\" must be a positive integer, not {} in {}",
                      quote(tokens[1]), expr));
    std::string unit_text = to_lower(tokens[2]);
    const Unit *unit = nullptr;
    for (const Unit &u : kUnits)
      if (unit_text == u.singular || unit_text == u.plural) unit = &u;
    if (!unit)
      bad(fmt::format("option 'schedule': the unit in \"every N ...\" must be minutes, hours or days (or minute, "
                      "hour, day), not {} in {}",
                      quote(tokens[2]), expr));
    if (*n < 1 || *n > unit->max)
      bad(fmt::format("option 'schedule': \"every N {}\" must have N from 1 to {} (one year), not {} in {}",
                      unit->plural, unit->max, tokens[1], expr));
    s.period_ms_ = *n * unit->ms;
    s.text_ = fmt::format("every {} {}", *n, *n == 1 ? unit->singular : unit->plural);
    if (tokens.size() == 5) {
      if (unit->ms != kDayMs)
        bad(fmt::format("option 'schedule': \"at HH:MM\" goes with days only, not with {} in {}", unit->plural, expr));
      auto at = parse_hh_mm(tokens[4]);
      if (!at)
        bad(fmt::format("option 'schedule': \"at\" must be followed by a UTC time HH:MM from 00:00 to 23:59, not {} "
                        "in {}",
                        quote(tokens[4]), expr));
      s.offset_ms_ = *at * kMinuteMs;
      s.text_ += fmt::format(" at {:02}:{:02}", *at / 60, *at % 60);
    }
    return s;
  }

  std::string expression;  // the cron expression to parse
  if (tokens[0][0] == '@') {
    if (tokens.size() != 1) general();
    std::string name = to_lower(tokens[0]);
    for (const Macro &m : kMacros)
      if (name == m.name) expression = m.cron;
    if (expression.empty())
      bad(fmt::format("option 'schedule' must be one of @hourly, @daily, @midnight, @weekly, @monthly, @yearly, "
                      "@annually (no other @-form), not {}",
                      quote(tokens[0])));
    s.text_ = name;
    tokens = split_tokens(expression);
  } else {
    if (tokens.size() != 5 || !(is_digit(tokens[0][0]) || tokens[0][0] == '*')) general();
    for (std::string &t : tokens) t = to_upper(t);
    s.text_ = fmt::format("{} {} {} {} {}", tokens[0], tokens[1], tokens[2], tokens[3], tokens[4]);
    expression = s.text_;
  }

  // Messages show the expression normalised (an @-form's expression is always valid).
  const std::string &shown = s.text_;
  std::array<uint64_t, 5> masks{};
  for (size_t i = 0; i < 5; ++i) masks[i] = CronFieldParser(kFields[i], tokens[i], shown).parse();
  s.minutes_ = masks[0];
  s.hours_ = static_cast<uint32_t>(masks[1]);
  s.days_of_month_ = static_cast<uint32_t>(masks[2]);
  s.months_ = static_cast<uint16_t>(masks[3]);
  s.weekdays_ = static_cast<uint8_t>((masks[4] | (masks[4] >> 7)) & 0x7f);  // 7 is Sunday, as 0
  s.any_day_of_month_ = tokens[2] == "*";
  s.any_weekday_ = tokens[4] == "*";
  if (!s.first_day(kDay20000101, kDay20041231))
    bad(fmt::format("option 'schedule': {} never fires (no date matches its day-of-month, month and day-of-week)",
                    quote(shown)));
  return s;
}

std::optional<int64_t> Schedule::first_day(int64_t from, int64_t last) const {
  int64_t day = from;
  while (day <= last) {
    sys_days date{days{day}};
    year_month_day ymd{date};
    if (((months_ >> static_cast<unsigned>(ymd.month())) & 1) == 0) {
      // Skip to the first of the next month.
      year_month_day first = ymd.year() / ymd.month() / 1;
      day = sys_days{first + std::chrono::months{1}}.time_since_epoch().count();
      continue;
    }
    bool dom = ((days_of_month_ >> static_cast<unsigned>(ymd.day())) & 1) != 0;
    bool dow = ((weekdays_ >> weekday{date}.c_encoding()) & 1) != 0;
    bool match = (any_day_of_month_ || any_weekday_) ? (dom && dow) : (dom || dow);
    if (match) return day;
    ++day;
  }
  return std::nullopt;
}

std::optional<int> Schedule::first_minute(int minute_of_day) const {
  int hour = minute_of_day / 60;
  int h = next_bit(hours_, hour);
  if (h == hour) {
    int m = next_bit(minutes_, minute_of_day % 60);
    if (m >= 0) return h * 60 + m;
    h = next_bit(hours_, hour + 1);
  }
  if (h < 0) return std::nullopt;
  return h * 60 + next_bit(minutes_, 0);
}

int64_t Schedule::next_after(int64_t t_ms) const {
  if (t_ms < 0 || t_ms > kMaxTimeMs)
    bad(fmt::format("schedule: time {} is outside 0 to {} (1970-01-01 to 9999-12-31 UTC in milliseconds since the "
                    "Unix epoch)",
                    t_ms, kMaxTimeMs));
  if (period_ms_ > 0) return offset_ms_ + (floor_div(t_ms - offset_ms_, period_ms_) + 1) * period_ms_;

  int64_t minute = t_ms / kMinuteMs + 1;  // the first whole minute strictly after t_ms
  int64_t day = minute / kMinutesPerDay;
  auto found = first_day(day, day + kSearchDays);
  if (found && *found == day) {
    if (auto m = first_minute(static_cast<int>(minute % kMinutesPerDay)))
      return (day * kMinutesPerDay + *m) * kMinuteMs;
    found = first_day(day + 1, day + kSearchDays);
  }
  if (!found)  // parse() made sure it fires, so it fires within 9 years (see the top of this file)
    throw ExportError(Code::internal,
                      fmt::format("schedule: {} found no due time in 9 years after {}", quote(text_), t_ms));
  return (*found * kMinutesPerDay + *first_minute(0)) * kMinuteMs;
}

}  // namespace sqlexport
