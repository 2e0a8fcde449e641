// test_schedule.cpp: Schedule (schedule.cpp) checked three ways: the normalised text of what
// parses, next_after at hand-picked times (month and year ends, leap days, Sunday as 0 and 7,
// the day-of-month / day-of-week OR rule, steps, lists, ranges, epoch alignment, "strictly
// after"), compared with brute-force scans from random starts, and the exact text of every
// error. Times in the tests are written "YYYY-MM-DD HH:MM[:SS[.mmm]]", UTC.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "errors.h"
#include "schedule.h"

using sqlexport::ExportError;
using sqlexport::Schedule;

namespace {

using namespace std::chrono;

constexpr int64_t kMinute = 60'000;
constexpr int64_t kDay = 1440 * kMinute;

// "YYYY-MM-DD HH:MM[:SS[.mmm]]" (UTC) as ms since the Unix epoch.
int64_t ms(const std::string &text) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, milli = 0;
  int n = std::sscanf(text.c_str(), "%d-%d-%d %d:%d:%d.%d", &y, &mo, &d, &h, &mi, &s, &milli);
  REQUIRE(n >= 5);
  year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  REQUIRE(ymd.ok());
  return sys_days{ymd}.time_since_epoch().count() * kDay + (h * 60 + mi) * kMinute + s * 1000 + milli;
}

// t as "YYYY-MM-DD HH:MM", with ":SS.mmm" when t is not a whole minute.
std::string iso(int64_t t) {
  int64_t day_number = t >= 0 ? t / kDay : (t - kDay + 1) / kDay;
  int64_t rest = t - day_number * kDay;
  year_month_day ymd{sys_days{days{day_number}}};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u %02d:%02d", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()), static_cast<int>(rest / 3'600'000),
                static_cast<int>(rest / kMinute % 60));
  std::string out = buf;
  if (rest % kMinute != 0) {
    std::snprintf(buf, sizeof buf, ":%02d.%03d", static_cast<int>(rest / 1000 % 60), static_cast<int>(rest % 1000));
    out += buf;
  }
  return out;
}

// The first due time of `schedule` strictly after `from`, both as text.
std::string next(const std::string &schedule, const std::string &from) {
  INFO(schedule << " after " << from);
  return iso(Schedule::parse(schedule).next_after(ms(from)));
}

// The due times of `schedule` after `from`, `count` of them in a row.
std::vector<std::string> nexts(const std::string &schedule, const std::string &from, int count) {
  Schedule s = Schedule::parse(schedule);
  std::vector<std::string> out;
  int64_t t = ms(from);
  for (int i = 0; i < count; ++i) out.push_back(iso(t = s.next_after(t)));
  return out;
}

std::string text_of(const std::string &schedule) { return Schedule::parse(schedule).text(); }

// The message of the ExportError that parsing throws (checked to be invalid_request).
std::string error_of(const std::string &schedule) {
  try {
    Schedule::parse(schedule);
  } catch (const ExportError &e) {
    CHECK(e.code() == sqlexport::Code::invalid_request);
    return e.what();
  }
  return "(no error)";
}

const std::string kGeneral =
    "option 'schedule' must be \"every N minutes|hours|days [at HH:MM]\", a 5-field cron expression \"minute hour "
    "day-of-month month day-of-week\" or one of @hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually, "
    "not ";

// A minute's calendar fields, as the reference predicates see them.
struct Minute {
  int64_t epoch_minute;
  int minute, hour, dom, month, dow;  // dow 0-6, Sunday 0
};

Minute fields(int64_t epoch_minute) {
  int64_t d = epoch_minute / 1440;
  sys_days date{days{d}};
  year_month_day ymd{date};
  int mod = static_cast<int>(epoch_minute - d * 1440);
  return {epoch_minute,
          mod % 60,
          mod / 60,
          static_cast<int>(static_cast<unsigned>(ymd.day())),
          static_cast<int>(static_cast<unsigned>(ymd.month())),
          static_cast<int>(weekday{date}.c_encoding())};
}

}  // namespace

TEST_CASE("schedule: the test's own calendar helpers", "[schedule]") {
  CHECK(ms("1970-01-01 00:00") == 0);
  CHECK(ms("2024-02-29 00:00") == 1709164800000);  // date -u -d @1709164800
  CHECK(ms("2024-02-29 02:03:04.005") == 1709164800000 + 7384005);
  CHECK(iso(1709164800000 + 7384005) == "2024-02-29 02:03:04.005");
  CHECK(iso(Schedule::kMaxTimeMs) == "9999-12-31 23:59:59.999");
  CHECK(fields(ms("2024-01-01 00:00") / kMinute).dow == 1);  // a Monday
  CHECK(fields(ms("2023-12-31 00:00") / kMinute).dow == 0);  // a Sunday
}

TEST_CASE("schedule: the normalised text", "[schedule]") {
  CHECK(text_of("every 15 minutes") == "every 15 minutes");
  CHECK(text_of("  EVERY\t15   Minute \n") == "every 15 minutes");
  CHECK(text_of("every 1 minutes") == "every 1 minute");
  CHECK(text_of("every 1 minute") == "every 1 minute");
  CHECK(text_of("every 007 hours") == "every 7 hours");
  CHECK(text_of("every 1 Hour") == "every 1 hour");
  CHECK(text_of("every 2 day") == "every 2 days");
  CHECK(text_of("every 1 day at 2:00") == "every 1 day at 02:00");
  CHECK(text_of("Every 1 DAYS AT 23:59") == "every 1 day at 23:59");
  CHECK(text_of("every 1 day at 00:00") == "every 1 day at 00:00");
  CHECK(text_of("0 2 * * *") == "0 2 * * *");
  CHECK(text_of("  0\t2  *  *   * ") == "0 2 * * *");
  CHECK(text_of("0 2 * * mon-fri") == "0 2 * * MON-FRI");
  CHECK(text_of("*/15 0-23/2 1,15 jan,Jul sun") == "*/15 0-23/2 1,15 JAN,JUL SUN");
  CHECK(text_of("@Daily") == "@daily");
  CHECK(text_of(" @HOURLY ") == "@hourly");
  CHECK(text_of("@annually") == "@annually");
}

TEST_CASE("schedule: every N minutes is aligned to minutes since the epoch", "[schedule]") {
  CHECK(next("every 15 minutes", "2024-03-10 10:07") == "2024-03-10 10:15");
  CHECK(next("every 15 minutes", "2024-03-10 10:14:59.999") == "2024-03-10 10:15");
  CHECK(next("every 15 minutes", "2024-03-10 10:15") == "2024-03-10 10:30");  // strictly after
  CHECK(next("every 15 minutes", "2024-03-10 10:15:00.001") == "2024-03-10 10:30");
  CHECK(next("every 15 minutes", "2024-03-10 23:50") == "2024-03-11 00:00");
  CHECK(next("every 15 minutes", "2024-12-31 23:45") == "2025-01-01 00:00");
  CHECK(Schedule::parse("every 15 minutes").next_after(0) == 15 * kMinute);
  CHECK(next("every 1 minute", "2024-03-10 10:07") == "2024-03-10 10:08");
  CHECK(next("every 1 minute", "2024-03-10 10:07:30") == "2024-03-10 10:08");
  // 2024-01-01 00:00 is minute 28401120 = 7 * 4057302 + 6 of the epoch.
  CHECK(nexts("every 7 minutes", "2024-01-01 00:00", 3) ==
        std::vector<std::string>{"2024-01-01 00:01", "2024-01-01 00:08", "2024-01-01 00:15"});
  CHECK(nexts("every 90 minutes", "2024-01-01 00:00", 3) ==
        std::vector<std::string>{"2024-01-01 01:30", "2024-01-01 03:00", "2024-01-01 04:30"});
  // 2880 minutes: the even days since the epoch, as every 2 days.
  CHECK(nexts("every 2880 minutes", "2024-01-01 00:00", 2) == nexts("every 2 days", "2024-01-01 00:00", 2));
  CHECK(nexts("every 525600 minutes", "1970-01-01 00:00", 3) == nexts("every 365 days", "1970-01-01 00:00", 3));
}

TEST_CASE("schedule: every N hours is aligned to hours since the epoch", "[schedule]") {
  CHECK(next("every 1 hour", "2024-03-10 10:00") == "2024-03-10 11:00");
  CHECK(next("every 1 hour", "2024-03-10 10:59:59.999") == "2024-03-10 11:00");
  CHECK(next("every 1 hour", "2024-03-10 23:30") == "2024-03-11 00:00");
  CHECK(next("every 1 hour", "2024-02-29 23:00") == "2024-03-01 00:00");
  CHECK(next("every 2 hours", "2024-03-10 10:00") == "2024-03-10 12:00");
  CHECK(next("every 24 hours", "2024-03-10 10:00") == "2024-03-11 00:00");
  // 2024-01-01 00:00 is hour 473352 = 5 * 94670 + 2 of the epoch.
  CHECK(nexts("every 5 hours", "2024-01-01 00:00", 3) ==
        std::vector<std::string>{"2024-01-01 03:00", "2024-01-01 08:00", "2024-01-01 13:00"});
  CHECK(nexts("every 8760 hours", "1972-01-01 00:00", 2) ==
        std::vector<std::string>{"1972-12-31 00:00", "1973-12-31 00:00"});
}

TEST_CASE("schedule: every N days [at HH:MM] is aligned to days since the epoch", "[schedule]") {
  CHECK(next("every 1 day at 02:00", "2024-03-10 01:59") == "2024-03-10 02:00");
  CHECK(next("every 1 day at 02:00", "2024-03-10 01:59:59.999") == "2024-03-10 02:00");
  CHECK(next("every 1 day at 02:00", "2024-03-10 02:00") == "2024-03-11 02:00");  // strictly after
  CHECK(next("every 1 day at 02:00", "2024-03-10 02:00:00.001") == "2024-03-11 02:00");
  CHECK(next("every 1 day at 02:00", "2024-03-10 03:00") == "2024-03-11 02:00");
  CHECK(next("every 1 day at 02:00", "2024-02-28 03:00") == "2024-02-29 02:00");
  CHECK(next("every 1 day at 02:00", "2023-02-28 03:00") == "2023-03-01 02:00");
  CHECK(next("every 1 day at 02:00", "2023-12-31 02:00") == "2024-01-01 02:00");
  CHECK(next("every 1 day at 23:59", "2023-12-31 23:59") == "2024-01-01 23:59");
  CHECK(next("every 1 day", "2024-03-10 00:00") == "2024-03-11 00:00");
  CHECK(next("every 1 day", "2024-03-10 12:00") == "2024-03-11 00:00");
  CHECK(Schedule::parse("every 1 day at 02:00").next_after(0) == 2 * 60 * kMinute);
  // 2024-01-01 is day 19723 of the epoch, an odd one.
  CHECK(nexts("every 2 days at 02:00", "2024-01-01 00:00", 3) ==
        std::vector<std::string>{"2024-01-02 02:00", "2024-01-04 02:00", "2024-01-06 02:00"});
  CHECK(next("every 2 days at 02:00", "2024-01-02 01:00") == "2024-01-02 02:00");
  CHECK(next("every 2 days at 02:00", "2024-01-02 02:00") == "2024-01-04 02:00");
  // 365 days from 1970-01-01: 1972 is a leap year, so its due day is December 31.
  CHECK(nexts("every 365 days", "1970-01-01 00:00", 3) ==
        std::vector<std::string>{"1971-01-01 00:00", "1972-01-01 00:00", "1972-12-31 00:00"});
  CHECK(next("every 3 days at 05:30", "1970-01-01 00:00") == "1970-01-01 05:30");
  CHECK(next("every 3 days at 05:30", "1970-01-01 05:30") == "1970-01-04 05:30");
}

TEST_CASE("schedule: cron fields, lists, ranges and steps", "[schedule]") {
  CHECK(next("* * * * *", "2024-03-10 10:00") == "2024-03-10 10:01");
  CHECK(next("* * * * *", "2024-03-10 10:00:30") == "2024-03-10 10:01");
  CHECK(next("* * * * *", "2024-12-31 23:59:59.999") == "2025-01-01 00:00");
  CHECK(next("0 2 * * *", "2024-03-10 01:59") == "2024-03-10 02:00");
  CHECK(next("0 2 * * *", "2024-03-10 02:00") == "2024-03-11 02:00");  // strictly after
  CHECK(next("0 2 * * *", "2024-12-31 02:00") == "2025-01-01 02:00");
  CHECK(next("*/15 * * * *", "2024-03-10 10:07") == "2024-03-10 10:15");
  CHECK(next("*/15 * * * *", "2024-03-10 10:45") == "2024-03-10 11:00");
  CHECK(nexts("5,10,50-52 * * * *", "2024-03-10 10:06", 6) ==
        std::vector<std::string>{"2024-03-10 10:10", "2024-03-10 10:50", "2024-03-10 10:51", "2024-03-10 10:52",
                                 "2024-03-10 11:05", "2024-03-10 11:10"});
  CHECK(nexts("10-40/15 * * * *", "2024-03-10 10:00", 4) ==
        std::vector<std::string>{"2024-03-10 10:10", "2024-03-10 10:25", "2024-03-10 10:40", "2024-03-10 11:10"});
  CHECK(nexts("50/4 * * * *", "2024-03-10 10:00", 4) ==  // a/n: a to the field's end
        std::vector<std::string>{"2024-03-10 10:50", "2024-03-10 10:54", "2024-03-10 10:58", "2024-03-10 11:50"});
  CHECK(nexts("15,45 9-17/4 * * *", "2024-03-10 09:46", 4) ==
        std::vector<std::string>{"2024-03-10 13:15", "2024-03-10 13:45", "2024-03-10 17:15", "2024-03-10 17:45"});
  CHECK(next("15,45 9-17/4 * * *", "2024-03-10 17:45") == "2024-03-11 09:15");
  CHECK(next("30 23 * * *", "2024-03-10 23:31") == "2024-03-11 23:30");
  CHECK(next("0,30 * * * *", "2024-03-10 23:30") == "2024-03-11 00:00");
  CHECK(next("59 23 31 12 *", "2024-12-31 23:59") == "2025-12-31 23:59");
  CHECK(next("59 23 31 12 *", "2024-12-31 23:58:59.999") == "2024-12-31 23:59");
  CHECK(next("0 0-23/23 * * *", "2024-03-10 00:00") == "2024-03-10 23:00");
  CHECK(next("*/59 * * * *", "2024-03-10 10:00") == "2024-03-10 10:59");
  CHECK(next("00 02 01 01 *", "2024-03-10 10:00") == "2025-01-01 02:00");  // leading zeros
}

TEST_CASE("schedule: cron months, month ends and years", "[schedule]") {
  CHECK(next("0 0 1 * *", "2024-01-31 12:00") == "2024-02-01 00:00");
  CHECK(next("0 0 1 * *", "2024-12-15 00:00") == "2025-01-01 00:00");
  CHECK(next("0 0 1 * *", "2024-02-01 00:00") == "2024-03-01 00:00");
  CHECK(next("0 0 31 * *", "2024-04-01 00:00") == "2024-05-31 00:00");  // April has 30 days
  CHECK(nexts("0 0 31 * *", "2024-01-31 00:00", 4) ==
        std::vector<std::string>{"2024-03-31 00:00", "2024-05-31 00:00", "2024-07-31 00:00", "2024-08-31 00:00"});
  CHECK(next("0 0 30 * *", "2024-01-30 00:00") == "2024-03-30 00:00");  // February skipped
  CHECK(next("0 0 29 * *", "2023-01-29 00:00") == "2023-03-29 00:00");  // not a leap year
  CHECK(next("0 0 29 * *", "2024-01-29 00:00") == "2024-02-29 00:00");  // a leap year
  CHECK(nexts("0 0 1 */3 *", "2024-01-01 00:00", 4) ==
        std::vector<std::string>{"2024-04-01 00:00", "2024-07-01 00:00", "2024-10-01 00:00", "2025-01-01 00:00"});
  CHECK(nexts("0 0 1 2/3 *", "2024-01-01 00:00", 4) ==
        std::vector<std::string>{"2024-02-01 00:00", "2024-05-01 00:00", "2024-08-01 00:00", "2024-11-01 00:00"});
  CHECK(next("0 0 1 JAN,jul *", "2024-02-01 00:00") == "2024-07-01 00:00");
  CHECK(next("0 0 1 JAN,jul *", "2024-07-01 00:00") == "2025-01-01 00:00");
  CHECK(next("0 0 1 mar-MAY *", "2024-05-01 00:00") == "2025-03-01 00:00");
  CHECK(next("0 0 1 Dec *", "2024-03-01 00:00") == "2024-12-01 00:00");
  CHECK(next("0 0 1 12 *", "2024-12-01 00:00") == "2025-12-01 00:00");
}

TEST_CASE("schedule: February 29 and leap years", "[schedule]") {
  CHECK(next("0 0 29 2 *", "2023-06-01 00:00") == "2024-02-29 00:00");
  CHECK(next("0 0 29 2 *", "2024-02-29 00:00") == "2028-02-29 00:00");  // strictly after
  CHECK(next("0 0 29 2 *", "2024-02-28 23:59:59.999") == "2024-02-29 00:00");
  CHECK(next("0 0 29 FEB *", "2024-03-01 00:00") == "2028-02-29 00:00");
  CHECK(next("0 0 29 2 *", "1999-03-01 00:00") == "2000-02-29 00:00");  // 2000: divisible by 400
  CHECK(next("0 0 29 2 *", "2096-03-01 00:00") == "2104-02-29 00:00");  // 2100 is not a leap year
  CHECK(next("0 0 29 2 *", "2100-01-01 00:00") == "2104-02-29 00:00");
  CHECK(next("30 12 29 2 *", "2096-02-29 12:30") == "2104-02-29 12:30");
  CHECK(next("0 0 28-29 2 *", "2023-02-28 00:00") == "2024-02-28 00:00");
  CHECK(next("0 0 28-29 2 *", "2024-02-28 00:00") == "2024-02-29 00:00");
  CHECK(next("0 0 1 3 *", "2024-02-29 12:00") == "2024-03-01 00:00");
  CHECK(next("0 0 * * *", "2024-02-28 12:00") == "2024-02-29 00:00");
  CHECK(next("0 0 * * *", "2023-02-28 12:00") == "2023-03-01 00:00");
  // The last time there is: 10000 is divisible by 400, so it has a February 29.
  CHECK(next("0 0 29 2 *", "9999-12-31 23:59:59.999") == "10000-02-29 00:00");
  CHECK(Schedule::parse("0 0 1 1 *").next_after(Schedule::kMaxTimeMs) == Schedule::kMaxTimeMs + 1);
  CHECK(Schedule::parse("every 1 minute").next_after(Schedule::kMaxTimeMs) == Schedule::kMaxTimeMs + 1);
}

TEST_CASE("schedule: cron days of the week, Sunday as 0 and 7", "[schedule]") {
  // 2024-01-01 is a Monday, 2024-01-07 a Sunday.
  CHECK(next("0 0 * * 0", "2024-01-01 00:00") == "2024-01-07 00:00");
  CHECK(next("0 0 * * 7", "2024-01-01 00:00") == "2024-01-07 00:00");
  CHECK(next("0 0 * * SUN", "2024-01-01 00:00") == "2024-01-07 00:00");
  CHECK(next("0 0 * * sun", "2024-01-07 00:00") == "2024-01-14 00:00");
  CHECK(next("0 0 * * 1", "2024-01-01 00:00") == "2024-01-08 00:00");
  CHECK(next("0 12 * * MON-FRI", "2024-01-05 13:00") == "2024-01-08 12:00");  // Friday afternoon
  CHECK(next("0 12 * * 1-5", "2024-01-05 11:00") == "2024-01-05 12:00");
  CHECK(nexts("0 0 * * 5-7", "2024-01-01 00:00", 4) ==
        std::vector<std::string>{"2024-01-05 00:00", "2024-01-06 00:00", "2024-01-07 00:00", "2024-01-12 00:00"});
  // SUN ending a range that starts later in the week is 7 (SUN-SUN is Sunday alone).
  CHECK(nexts("0 0 * * SAT-SUN", "2024-01-01 00:00", 3) ==
        std::vector<std::string>{"2024-01-06 00:00", "2024-01-07 00:00", "2024-01-13 00:00"});
  CHECK(nexts("0 0 * * FRI-SUN/2", "2024-01-01 00:00", 3) ==
        std::vector<std::string>{"2024-01-05 00:00", "2024-01-07 00:00", "2024-01-12 00:00"});
  CHECK(nexts("0 0 * * SUN-SUN", "2024-01-01 00:00", 2) ==
        std::vector<std::string>{"2024-01-07 00:00", "2024-01-14 00:00"});
  CHECK(nexts("0 0 * * MON-SUN", "2024-01-01 00:00", 7).back() == "2024-01-08 00:00");
  CHECK(error_of("0 0 * * 6-0") ==
        "option 'schedule': cron field 'day-of-week' must have ranges a-b with a <= b, not \"6-0\" in \"0 0 * * 6-0\"");
  CHECK(nexts("0 0 * * 0,7", "2024-01-01 00:00", 2) ==
        std::vector<std::string>{"2024-01-07 00:00", "2024-01-14 00:00"});
  // Steps over * and a/n run over 0-6: */2 is Sunday, Tuesday, Thursday, Saturday; 1/2 is
  // Monday, Wednesday, Friday (7, Sunday again, is not reached); 7/2 is Sunday alone.
  CHECK(nexts("0 0 * * */2", "2024-01-01 00:00", 5) ==
        std::vector<std::string>{"2024-01-02 00:00", "2024-01-04 00:00", "2024-01-06 00:00", "2024-01-07 00:00",
                                 "2024-01-09 00:00"});
  CHECK(nexts("0 0 * * 1/2", "2024-01-01 00:00", 4) ==
        std::vector<std::string>{"2024-01-03 00:00", "2024-01-05 00:00", "2024-01-08 00:00", "2024-01-10 00:00"});
  CHECK(nexts("0 0 * * 7/2", "2024-01-01 00:00", 2) ==
        std::vector<std::string>{"2024-01-07 00:00", "2024-01-14 00:00"});
  // With day-of-month *, both must match: Mondays in February.
  CHECK(next("0 0 * 2 1", "2024-01-01 00:00") == "2024-02-05 00:00");
  CHECK(next("0 0 * 2 MON", "2024-02-26 00:00") == "2025-02-03 00:00");
  // The first Monday of the month can only be written as an OR: see the next test.
}

TEST_CASE("schedule: day-of-month and day-of-week both restricted match either", "[schedule]") {
  // Friday or the 13th: 2024-01-05 is a Friday, 2024-01-13 a Saturday.
  CHECK(nexts("0 0 13 * 5", "2024-01-01 00:00", 4) ==
        std::vector<std::string>{"2024-01-05 00:00", "2024-01-12 00:00", "2024-01-13 00:00", "2024-01-19 00:00"});
  CHECK(nexts("0 0 13 * FRI", "2024-01-01 00:00", 4) == nexts("0 0 13 * 5", "2024-01-01 00:00", 4));
  // Each alone.
  CHECK(nexts("0 0 13 * *", "2024-01-01 00:00", 2) ==
        std::vector<std::string>{"2024-01-13 00:00", "2024-02-13 00:00"});
  CHECK(nexts("0 0 * * 5", "2024-01-01 00:00", 2) ==
        std::vector<std::string>{"2024-01-05 00:00", "2024-01-12 00:00"});
  // Only a lone * is unrestricted: */1 restricts, so with a day-of-week every day matches.
  CHECK(nexts("0 0 */1 * 1", "2024-01-01 00:00", 3) ==
        std::vector<std::string>{"2024-01-02 00:00", "2024-01-03 00:00", "2024-01-04 00:00"});
  CHECK(nexts("0 0 1-31 * 1", "2024-01-01 00:00", 2) ==
        std::vector<std::string>{"2024-01-02 00:00", "2024-01-03 00:00"});
  CHECK(nexts("0 0 1,15 * 0-7", "2024-01-01 00:00", 2) ==
        std::vector<std::string>{"2024-01-02 00:00", "2024-01-03 00:00"});
  // The OR is within the allowed months: the 31st or a Monday, in February only.
  CHECK(next("0 0 31 2 MON", "2024-01-01 00:00") == "2024-02-05 00:00");
  CHECK(next("0 0 31 2 MON", "2024-02-26 00:00") == "2025-02-03 00:00");
  CHECK(next("0 0 1 * 1", "2024-01-01 00:00") == "2024-01-08 00:00");
  CHECK(next("0 0 1 * 1", "2024-01-29 00:00") == "2024-02-01 00:00");
}

TEST_CASE("schedule: @-forms are their cron expressions", "[schedule]") {
  for (const char *from : {"2024-01-01 00:00", "2024-02-29 23:59:59.999", "2024-12-31 12:34", "2023-07-16 00:00"}) {
    INFO(from);
    CHECK(nexts("@hourly", from, 3) == nexts("0 * * * *", from, 3));
    CHECK(nexts("@daily", from, 3) == nexts("0 0 * * *", from, 3));
    CHECK(nexts("@midnight", from, 3) == nexts("0 0 * * *", from, 3));
    CHECK(nexts("@weekly", from, 3) == nexts("0 0 * * 0", from, 3));
    CHECK(nexts("@monthly", from, 3) == nexts("0 0 1 * *", from, 3));
    CHECK(nexts("@yearly", from, 3) == nexts("0 0 1 1 *", from, 3));
    CHECK(nexts("@annually", from, 3) == nexts("0 0 1 1 *", from, 3));
  }
  CHECK(next("@weekly", "2024-01-01 00:00") == "2024-01-07 00:00");
  CHECK(next("@hourly", "2024-01-01 00:00") == "2024-01-01 01:00");
  CHECK(next("@yearly", "2024-01-01 00:00") == "2025-01-01 00:00");
}

TEST_CASE("schedule: next_after takes times from 1970 to 9999 only", "[schedule]") {
  Schedule s = Schedule::parse("every 15 minutes");
  auto error_at = [&](int64_t t) -> std::string {
    try {
      s.next_after(t);
    } catch (const ExportError &e) {
      CHECK(e.code() == sqlexport::Code::invalid_request);
      return e.what();
    }
    return "(no error)";
  };
  CHECK(error_at(-1) ==
        "schedule: time -1 is outside 0 to 253402300799999 (1970-01-01 to 9999-12-31 UTC in milliseconds since the "
        "Unix epoch)");
  CHECK(error_at(Schedule::kMaxTimeMs + 1) ==
        "schedule: time 253402300800000 is outside 0 to 253402300799999 (1970-01-01 to 9999-12-31 UTC in milliseconds "
        "since the Unix epoch)");
  CHECK(error_at(0) == "(no error)");
  CHECK(error_at(Schedule::kMaxTimeMs) == "(no error)");
}

TEST_CASE("schedule: errors that name no form", "[schedule]") {
  CHECK(error_of("") == kGeneral + "\"\"");
  CHECK(error_of(" \t ") == kGeneral + "\" \\t \"");
  CHECK(error_of("every day") == kGeneral + "\"every day\"");
  CHECK(error_of("every 5") == kGeneral + "\"every 5\"");
  CHECK(error_of("every") == kGeneral + "\"every\"");
  CHECK(error_of("every 5 minutes at") == kGeneral + "\"every 5 minutes at\"");
  CHECK(error_of("every 5 days on 02:00") == kGeneral + "\"every 5 days on 02:00\"");
  CHECK(error_of("every 1 day at 02:00 UTC") == kGeneral + "\"every 1 day at 02:00 UTC\"");
  CHECK(error_of("daily") == kGeneral + "\"daily\"");
  CHECK(error_of("hourly at 5") == kGeneral + "\"hourly at 5\"");
  CHECK(error_of("0 0 * *") == kGeneral + "\"0 0 * *\"");
  CHECK(error_of("0 0 0 * * *") == kGeneral + "\"0 0 0 * * *\"");  // no seconds field
  CHECK(error_of("0 0 1 1 * 2025") == kGeneral + "\"0 0 1 1 * 2025\"");  // no year field
  CHECK(error_of("each 5 minutes at 02:00") == kGeneral + "\"each 5 minutes at 02:00\"");
  CHECK(error_of("@daily at 02:00") == kGeneral + "\"@daily at 02:00\"");
  CHECK(error_of("\"0 0 * * *\"") == kGeneral + "\"\\\"0 0 * * *\\\"\"");
  CHECK(error_of(std::string(300, 'x')) == kGeneral + "\"" + std::string(200, 'x') + "...\"");
  CHECK(error_of("caf\xc3") == kGeneral + "\"caf\xef\xbf\xbd\"");  // bad UTF-8 is replaced
}

TEST_CASE("schedule: errors in every N ...", "[schedule]") {
  CHECK(error_of("every -1 hours") ==
        "option 'schedule': N in \"every N minutes|hours|days\" must be a positive integer, not \"-1\" in "
        "\"every -1 hours\"");
  CHECK(error_of("every +5 minutes") ==
        "option 'schedule': N in \"every N minutes|hours|days\" must be a positive integer, not \"+5\" in "
        "\"every +5 minutes\"");
  CHECK(error_of("every 1.5 hours") ==
        "option 'schedule': N in \"every N minutes|hours|days\" must be a positive integer, not \"1.5\" in "
        "\"every 1.5 hours\"");
  CHECK(error_of("every five minutes") ==
        "option 'schedule': N in \"every N minutes|hours|days\" must be a positive integer, not \"five\" in "
        "\"every five minutes\"");
  CHECK(error_of("every 2 weeks") ==
        "option 'schedule': the unit in \"every N ...\" must be minutes, hours or days (or minute, hour, day), not "
        "\"weeks\" in \"every 2 weeks\"");
  CHECK(error_of("every 2 mins") ==
        "option 'schedule': the unit in \"every N ...\" must be minutes, hours or days (or minute, hour, day), not "
        "\"mins\" in \"every 2 mins\"");
  CHECK(error_of("every 0 minutes") ==
        "option 'schedule': \"every N minutes\" must have N from 1 to 525600 (one year), not 0 in \"every 0 minutes\"");
  CHECK(error_of("every 00 hours") ==
        "option 'schedule': \"every N hours\" must have N from 1 to 8760 (one year), not 00 in \"every 00 hours\"");
  CHECK(error_of("every 0 days at 02:00") ==
        "option 'schedule': \"every N days\" must have N from 1 to 365 (one year), not 0 in \"every 0 days at 02:00\"");
  CHECK(error_of("every 525601 minutes") ==
        "option 'schedule': \"every N minutes\" must have N from 1 to 525600 (one year), not 525601 in "
        "\"every 525601 minutes\"");
  CHECK(error_of("every 8761 hours") ==
        "option 'schedule': \"every N hours\" must have N from 1 to 8760 (one year), not 8761 in \"every 8761 hours\"");
  CHECK(error_of("every 366 days") ==
        "option 'schedule': \"every N days\" must have N from 1 to 365 (one year), not 366 in \"every 366 days\"");
  CHECK(error_of("every 99999999999999999999 days") ==
        "option 'schedule': \"every N days\" must have N from 1 to 365 (one year), not 99999999999999999999 in "
        "\"every 99999999999999999999 days\"");
  CHECK(error_of("every 2 hours at 02:00") ==
        "option 'schedule': \"at HH:MM\" goes with days only, not with hours in \"every 2 hours at 02:00\"");
  CHECK(error_of("every 15 minute at 00:00") ==
        "option 'schedule': \"at HH:MM\" goes with days only, not with minutes in \"every 15 minute at 00:00\"");
  for (const char *at : {"25:00", "24:00", "02:60", "2:5", "0200", ":00", "123:00", "02:000", "-1:00", "02:0x", "noon",
                         "02:00Z", "2:00pm"}) {
    std::string text = std::string("every 1 day at ") + at;
    CHECK(error_of(text) ==
          std::string("option 'schedule': \"at\" must be followed by a UTC time HH:MM from 00:00 to 23:59, not \"") + at +
              "\" in \"" + text + "\"");
  }
}

TEST_CASE("schedule: errors in @-forms", "[schedule]") {
  const std::string accepted =
      "option 'schedule' must be one of @hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually (no other "
      "@-form), not ";
  CHECK(error_of("@reboot") == accepted + "\"@reboot\"");
  CHECK(error_of("@every") == accepted + "\"@every\"");
  CHECK(error_of("@") == accepted + "\"@\"");
  CHECK(error_of("@0 0 * * *") == kGeneral + "\"@0 0 * * *\"");
}

TEST_CASE("schedule: errors in cron values", "[schedule]") {
  CHECK(error_of("60 * * * *") == "option 'schedule': cron field 'minute' must be 0-59, not 60 in \"60 * * * *\"");
  CHECK(error_of("0 24 * * *") == "option 'schedule': cron field 'hour' must be 0-23, not 24 in \"0 24 * * *\"");
  CHECK(error_of("0 0 0 * *") == "option 'schedule': cron field 'day-of-month' must be 1-31, not 0 in \"0 0 0 * *\"");
  CHECK(error_of("0 0 32 * *") == "option 'schedule': cron field 'day-of-month' must be 1-31, not 32 in \"0 0 32 * *\"");
  CHECK(error_of("0 0 * 0 *") ==
        "option 'schedule': cron field 'month' must be 1-12 or JAN-DEC, not 0 in \"0 0 * 0 *\"");
  CHECK(error_of("0 0 * 13 *") ==
        "option 'schedule': cron field 'month' must be 1-12 or JAN-DEC, not 13 in \"0 0 * 13 *\"");
  CHECK(error_of("0 0 * * 8") ==
        "option 'schedule': cron field 'day-of-week' must be 0-7 (0 and 7 are Sunday) or SUN-SAT, not 8 in "
        "\"0 0 * * 8\"");
  CHECK(error_of("0 0 * 1-99999999999999999999 *") ==
        "option 'schedule': cron field 'month' must be 1-12 or JAN-DEC, not 99999999999999999999 in "
        "\"0 0 * 1-99999999999999999999 *\"");
  CHECK(error_of("0 0-25 * * *") == "option 'schedule': cron field 'hour' must be 0-23, not 25 in \"0 0-25 * * *\"");
  CHECK(error_of("0,1,60 * * * *") ==
        "option 'schedule': cron field 'minute' must be 0-59, not 60 in \"0,1,60 * * * *\"");
  // Names: three letters, in month and day-of-week only; shown in upper case.
  CHECK(error_of("0 0 * january *") ==
        "option 'schedule': cron field 'month' must be 1-12 or JAN-DEC, not \"JANUARY\" in \"0 0 * JANUARY *\"");
  CHECK(error_of("0 0 * * Monday") ==
        "option 'schedule': cron field 'day-of-week' must be 0-7 (0 and 7 are Sunday) or SUN-SAT, not \"MONDAY\" in "
        "\"0 0 * * MONDAY\"");
  CHECK(error_of("0 0 * * MON-XYZ") ==
        "option 'schedule': cron field 'day-of-week' must be 0-7 (0 and 7 are Sunday) or SUN-SAT, not \"XYZ\" in "
        "\"0 0 * * MON-XYZ\"");
  CHECK(error_of("0 0 * MON *") ==
        "option 'schedule': cron field 'month' must be 1-12 or JAN-DEC, not \"MON\" in \"0 0 * MON *\"");
  CHECK(error_of("0 0 * * JAN") ==
        "option 'schedule': cron field 'day-of-week' must be 0-7 (0 and 7 are Sunday) or SUN-SAT, not \"JAN\" in "
        "\"0 0 * * JAN\"");
  CHECK(error_of("0 MON * * *") == "option 'schedule': cron field 'hour' must be 0-23, not \"MON\" in \"0 MON * * *\"");
  CHECK(error_of("0 0 L * *") ==
        "option 'schedule': cron field 'day-of-month' must be 1-31, not \"L\" in \"0 0 L * *\"");
}

TEST_CASE("schedule: errors in cron syntax, ranges and steps", "[schedule]") {
  auto syntax = [](const std::string &field, const std::string &value, const std::string &expression) {
    return "option 'schedule': cron field '" + field +
           "' must be *, a value, a range a-b, a step */n, a-b/n or a/n, or a comma-separated list of these, not \"" +
           value + "\" in \"" + expression + "\"";
  };
  CHECK(error_of("1--2 * * * *") == syntax("minute", "1--2", "1--2 * * * *"));
  CHECK(error_of("1-2-3 * * * *") == syntax("minute", "1-2-3", "1-2-3 * * * *"));
  CHECK(error_of("1,,2 * * * *") == syntax("minute", "1,,2", "1,,2 * * * *"));
  CHECK(error_of("1, * * * *") == syntax("minute", "1,", "1, * * * *"));
  CHECK(error_of(",1 * * * *") == kGeneral + "\",1 * * * *\"");  // starts with neither a digit nor *
  CHECK(error_of("*/ * * * *") == syntax("minute", "*/", "*/ * * * *"));
  CHECK(error_of("/5 * * * *") == kGeneral + "\"/5 * * * *\"");
  CHECK(error_of("0 /5 * * *") == syntax("hour", "/5", "0 /5 * * *"));
  CHECK(error_of("*/x * * * *") == syntax("minute", "*/X", "*/X * * * *"));  // shown normalised
  CHECK(error_of("1/2/3 * * * *") == syntax("minute", "1/2/3", "1/2/3 * * * *"));
  CHECK(error_of("*-5 * * * *") == syntax("minute", "*-5", "*-5 * * * *"));
  CHECK(error_of("** * * * *") == syntax("minute", "**", "** * * * *"));
  CHECK(error_of("0 0 -1 * *") == syntax("day-of-month", "-1", "0 0 -1 * *"));
  CHECK(error_of("0 0 1- * *") == syntax("day-of-month", "1-", "0 0 1- * *"));
  CHECK(error_of("0 0 ? * *") == syntax("day-of-month", "?", "0 0 ? * *"));
  CHECK(error_of("0 0 1W * *") == syntax("day-of-month", "1W", "0 0 1W * *"));
  CHECK(error_of("0 0 * * 5#3") == syntax("day-of-week", "5#3", "0 0 * * 5#3"));
  CHECK(error_of("0 0 * * 5L") == syntax("day-of-week", "5L", "0 0 * * 5L"));
  CHECK(error_of("0 0 * * MON,") == syntax("day-of-week", "MON,", "0 0 * * MON,"));
  CHECK(error_of("0 0 * * -") == syntax("day-of-week", "-", "0 0 * * -"));
  CHECK(error_of("0 0 * * 1.5") == syntax("day-of-week", "1.5", "0 0 * * 1.5"));
  CHECK(error_of("5-3 * * * *") ==
        "option 'schedule': cron field 'minute' must have ranges a-b with a <= b, not \"5-3\" in \"5-3 * * * *\"");
  CHECK(error_of("0 22-2 * * *") ==
        "option 'schedule': cron field 'hour' must have ranges a-b with a <= b, not \"22-2\" in \"0 22-2 * * *\"");
  CHECK(error_of("0 0 * * FRI-MON") ==
        "option 'schedule': cron field 'day-of-week' must have ranges a-b with a <= b, not \"FRI-MON\" in "
        "\"0 0 * * FRI-MON\"");
  CHECK(error_of("0 0 * DEC-JAN/2 *") ==
        "option 'schedule': cron field 'month' must have ranges a-b with a <= b, not \"DEC-JAN\" in "
        "\"0 0 * DEC-JAN/2 *\"");
  CHECK(error_of("*/0 * * * *") == "option 'schedule': cron field 'minute' step must be 1-59, not 0 in \"*/0 * * * *\"");
  CHECK(error_of("*/60 * * * *") ==
        "option 'schedule': cron field 'minute' step must be 1-59, not 60 in \"*/60 * * * *\"");
  CHECK(error_of("0 */24 * * *") == "option 'schedule': cron field 'hour' step must be 1-23, not 24 in \"0 */24 * * *\"");
  CHECK(error_of("0 0 */31 * *") ==
        "option 'schedule': cron field 'day-of-month' step must be 1-30, not 31 in \"0 0 */31 * *\"");
  CHECK(error_of("0 0 1 1/12 *") ==
        "option 'schedule': cron field 'month' step must be 1-11, not 12 in \"0 0 1 1/12 *\"");
  CHECK(error_of("0 0 * * */7") ==
        "option 'schedule': cron field 'day-of-week' step must be 1-6, not 7 in \"0 0 * * */7\"");
  CHECK(error_of("0 0 * * 0-7/07") ==
        "option 'schedule': cron field 'day-of-week' step must be 1-6, not 07 in \"0 0 * * 0-7/07\"");
}

TEST_CASE("schedule: a cron expression that never fires is an error", "[schedule]") {
  auto never = [](const std::string &shown) {
    return "option 'schedule': \"" + shown +
           "\" never fires (no date matches its day-of-month, month and day-of-week)";
  };
  CHECK(error_of("0 0 31 2 *") == never("0 0 31 2 *"));
  CHECK(error_of("0 0 30 2 *") == never("0 0 30 2 *"));
  CHECK(error_of("0 0 30-31 feb *") == never("0 0 30-31 FEB *"));
  CHECK(error_of("0 0 31 4,6,9,11 *") == never("0 0 31 4,6,9,11 *"));
  CHECK(error_of("0 0 31 apr *") == never("0 0 31 APR *"));
  CHECK(error_of("0 0 31 */2 *") == "(no error)");  // January, March, ...
  CHECK(error_of("0 0 31 2/2 *") == "(no error)");  // August and December
  CHECK(error_of("0 0 31 4-11/5 *") == never("0 0 31 4-11/5 *"));  // April and September
  CHECK(error_of("0 0 29 2 *") == "(no error)");
  CHECK(error_of("0 0 31 2 1") == "(no error)");  // or any Monday in February
}

namespace {

struct Case {
  const char *schedule;
  std::function<bool(const Minute &)> due;  // written from the grammar, not from schedule.cpp
};

// Every due time in (from, from + span] by next_after, chained, against a minute-by-minute scan
// of the predicate; and the first due time after the span is checked to be due.
void compare_with_scan(const Case &c, int64_t from, int64_t span_minutes) {
  INFO(c.schedule << " from " << iso(from));
  Schedule s = Schedule::parse(c.schedule);
  std::vector<int64_t> scanned;
  int64_t first_minute = from / kMinute + 1;
  for (int64_t m = first_minute; m < first_minute + span_minutes; ++m)
    if (c.due(fields(m))) scanned.push_back(m * kMinute);
  std::vector<int64_t> chained;
  int64_t end = (first_minute + span_minutes) * kMinute;  // the first minute not scanned
  int64_t t = s.next_after(from);
  while (t < end) {
    chained.push_back(t);
    t = s.next_after(t);
  }
  CHECK(chained == scanned);
  CHECK(t % kMinute == 0);
  CHECK(c.due(fields(t / kMinute)));
  // Any time inside the minute before a due time gives that due time.
  if (!scanned.empty()) {
    CHECK(s.next_after(scanned[0] - 1) == scanned[0]);
    CHECK(s.next_after(scanned[0] - kMinute) == scanned[0]);
  }
}

}  // namespace

TEST_CASE("schedule: next_after agrees with a minute-by-minute scan from random starts", "[schedule]") {
  const std::vector<Case> cases = {
      {"* * * * *", [](const Minute &) { return true; }},
      {"*/15 * * * *", [](const Minute &m) { return m.minute % 15 == 0; }},
      {"0 2 * * *", [](const Minute &m) { return m.minute == 0 && m.hour == 2; }},
      {"5,35 9-17/2 * * MON-FRI",
       [](const Minute &m) {
         return (m.minute == 5 || m.minute == 35) && m.hour >= 9 && m.hour <= 17 && m.hour % 2 == 1 && m.dow >= 1 && m.dow <= 5;
       }},
      {"0 0 13 * 5", [](const Minute &m) { return m.minute == 0 && m.hour == 0 && (m.dom == 13 || m.dow == 5); }},
      {"0 0 13 * *", [](const Minute &m) { return m.minute == 0 && m.hour == 0 && m.dom == 13; }},
      {"30 6 1,15,31 * *",
       [](const Minute &m) { return m.minute == 30 && m.hour == 6 && (m.dom == 1 || m.dom == 15 || m.dom == 31); }},
      {"0 */6 * * 0", [](const Minute &m) { return m.minute == 0 && m.hour % 6 == 0 && m.dow == 0; }},
      {"0 */6 * * 7", [](const Minute &m) { return m.minute == 0 && m.hour % 6 == 0 && m.dow == 0; }},
      {"* 3 * * *", [](const Minute &m) { return m.hour == 3; }},
      {"0 12 * FEB,mar sat",
       [](const Minute &m) { return m.minute == 0 && m.hour == 12 && (m.month == 2 || m.month == 3) && m.dow == 6; }},
      {"0 0 29 2 *", [](const Minute &m) { return m.minute == 0 && m.hour == 0 && m.dom == 29 && m.month == 2; }},
      {"15 10 28-31 * 1-5/2",
       [](const Minute &m) {
         return m.minute == 15 && m.hour == 10 && (m.dom >= 28 || m.dow == 1 || m.dow == 3 || m.dow == 5);
       }},
      {"every 15 minutes", [](const Minute &m) { return m.epoch_minute % 15 == 0; }},
      {"every 1 minute", [](const Minute &) { return true; }},
      {"every 90 minutes", [](const Minute &m) { return m.epoch_minute % 90 == 0; }},
      {"every 7 hours", [](const Minute &m) { return m.epoch_minute % (7 * 60) == 0; }},
      {"every 1 day at 02:00", [](const Minute &m) { return m.hour == 2 && m.minute == 0; }},
      {"every 3 days at 05:30",
       [](const Minute &m) { return m.epoch_minute / 1440 % 3 == 0 && m.hour == 5 && m.minute == 30; }},
  };
  std::mt19937_64 rng(20261207);
  std::uniform_int_distribution<int64_t> anywhere(ms("2000-01-01 00:00"), ms("2100-12-31 00:00"));
  std::uniform_int_distribution<int> year(2000, 2100);
  std::uniform_int_distribution<int> feb_day(1, 28);
  std::uniform_int_distribution<int64_t> within_day(0, kDay - 1);
  for (const Case &c : cases) {
    // Starts anywhere in 2000-2100 at a random millisecond, whole minutes, and early in
    // February (so that the scans meet February 29 in leap years).
    std::vector<int64_t> starts;
    for (int i = 0; i < 4; ++i) starts.push_back(anywhere(rng));
    starts.push_back(anywhere(rng) / kMinute * kMinute);
    for (int i = 0; i < 3; ++i)
      starts.push_back(ms(std::to_string(year(rng)) + "-02-" + std::to_string(feb_day(rng)) + " 00:00") +
                       within_day(rng));
    starts.push_back(0);
    for (int64_t from : starts) compare_with_scan(c, from, 3 * 7 * 1440);
  }
}

TEST_CASE("schedule: sparse cron expressions against a day-by-day scan over decades", "[schedule]") {
  // Midnight-only expressions: the due days, found by next_after, against every day from
  // 2090 to 2120 (2100 is not a leap year).
  const std::vector<Case> cases = {
      {"0 0 29 2 *", [](const Minute &m) { return m.dom == 29 && m.month == 2; }},
      {"0 0 29 FEB 1", [](const Minute &m) { return m.month == 2 && (m.dom == 29 || m.dow == 1); }},
      {"0 0 31 * *", [](const Minute &m) { return m.dom == 31; }},
      {"0 0 1 JAN *", [](const Minute &m) { return m.dom == 1 && m.month == 1; }},
      {"0 0 13 * FRI", [](const Minute &m) { return m.dom == 13 || m.dow == 5; }},
      {"0 0 * 2 SUN", [](const Minute &m) { return m.month == 2 && m.dow == 0; }},
      {"0 0 1-7 * *", [](const Minute &m) { return m.dom <= 7; }},
  };
  int64_t first = ms("2090-01-01 00:00") / kDay, last = ms("2120-12-31 00:00") / kDay;
  for (const Case &c : cases) {
    INFO(c.schedule);
    Schedule s = Schedule::parse(c.schedule);
    std::vector<int64_t> scanned, chained;
    for (int64_t d = first; d <= last; ++d)
      if (c.due(fields(d * 1440))) scanned.push_back(d * kDay);
    for (int64_t t = s.next_after(first * kDay - 1); t <= last * kDay; t = s.next_after(t)) chained.push_back(t);
    CHECK(chained == scanned);
  }
}

TEST_CASE("schedule: random texts from the grammar's pieces parse or fail with invalid_request", "[schedule]") {
  // Whatever parses gives due times that are whole minutes, strictly later, and stable (the
  // time just before a due time gives that due time); whatever fails, fails with an
  // ExportError(invalid_request) that starts "option 'schedule'".
  const std::vector<std::string> pieces = {
      "every", "EVERY", "1", "0", "7", "15", "59", "60", "24", "31", "29", "2", "12", "13", "365", "525600", "minutes",
      "hour",  "days",  "at", "02:00", "23:59", "24:00", "*", "*/5", "*/0", "1-5", "5-1", "MON", "sun", "FEB", "1/2",
      "1,2",   ",",     "-", "/", "@daily", "@reboot", "JAN-DEC", "L", "?", "  ", "\t", "0-7", "7"};
  std::mt19937_64 rng(17);
  std::uniform_int_distribution<size_t> pick(0, pieces.size() - 1);
  std::uniform_int_distribution<int> count(1, 7);
  std::uniform_int_distribution<int> glue(0, 3);
  std::uniform_int_distribution<int64_t> when(0, Schedule::kMaxTimeMs);
  // Cron fields: mostly pieces valid in that field (with lists), sometimes any piece.
  const std::vector<std::vector<std::string>> field_pieces = {
      {"*", "0", "5", "59", "*/15", "10-20/3", "5/10", "0-59/30"},
      {"*", "0", "2", "23", "*/6", "9-17", "22-23", "3/4"},
      {"*", "1", "13", "29", "30", "31", "*/10", "28-31", "1-7", "15/5"},
      {"*", "1", "2", "12", "FEB", "jan-mar", "2/3", "APR-NOV/2", "*/4"},
      {"*", "0", "7", "MON-FRI", "SAT-SUN", "*/2", "1/2", "0-7", "5", "thu"}};
  std::uniform_int_distribution<int> one_in_ten(0, 9);
  auto field = [&](size_t n) {
    auto one = [&]() {
      const auto &list = one_in_ten(rng) == 0 ? pieces : field_pieces[n];
      return list[std::uniform_int_distribution<size_t>(0, list.size() - 1)(rng)];
    };
    std::string f = one();
    while (glue(rng) == 0) f += "," + one();
    return f;
  };
  int parsed = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string text;
    switch (i % 3) {
      case 0:  // anything
        for (int n = count(rng); n > 0; --n) text += pieces[pick(rng)] + (glue(rng) == 0 ? "" : " ");
        break;
      case 1:  // five fields
        for (size_t n = 0; n < 5; ++n) text += field(n) + " ";
        break;
      default:  // every N unit [at HH:MM]
        text = "every " + pieces[pick(rng)] + " " + pieces[pick(rng)] + (glue(rng) == 0 ? " at " + pieces[pick(rng)] : "");
    }
    INFO(text);
    try {
      Schedule s = Schedule::parse(text);
      ++parsed;
      CHECK(Schedule::parse(s.text()).text() == s.text());
      int64_t t = when(rng);
      int64_t due = s.next_after(t);
      CHECK(due > t);
      CHECK(due % kMinute == 0);
      if (due - 1 <= Schedule::kMaxTimeMs) CHECK(s.next_after(due - 1) == due);
    } catch (const ExportError &e) {
      CHECK(e.code() == sqlexport::Code::invalid_request);
      CHECK(std::string(e.what()).rfind("option 'schedule'", 0) == 0);
    }
  }
  CHECK(parsed > 3000);
}
