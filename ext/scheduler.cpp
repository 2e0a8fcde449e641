// scheduler.cpp: the worker's scheduler: queue the runs of scheduled definitions when due
// (option "schedule"; see docs/REFERENCE.md#schedules and docs/DESIGN.md).
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "db.h"
#include "query.h"
#include "schedule.h"
#include "service.h"
#include "util.h"
#include "worker_thread.h"

namespace sqlexport {

using nlohmann::json;

// Schedules (option "schedule"): a definition whose next_run_at has come gets one CREATED run
// (origin 'schedule', scheduled_for = that due time, the definition's fixed criteria), and
// next_run_at moves to the first due time after now: after downtime that spanned several due
// times, one catch-up run. With option exclusive (the default), a due time that finds a run of
// the definition CREATED or RUNNING is skipped instead (skipped_runs, last_skipped_at). The
// check outside the lock is a read: an idle worker takes no write lock. The decision is made
// in one write transaction that reads next_run_at again and moves it, so that however many
// processes look at once, exactly one queues the run of a due time (the unique index on
// (export_id, scheduled_for) makes a second one impossible as well).
void WorkerThread::enqueue_due() {
  if (!schema_ready_) return;
  sqlite3 *c = control_.get();
  {
    Stmt q(c, "SELECT 1 FROM main._export_definitions WHERE next_run_at <= ?1 LIMIT 1");
    q.bind(1, iso_time(schedule_now_ms()));
    if (!q.step()) return;
  }
  if (int64_t delay = svc_.config().test_schedule_delay_ms; delay > 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(delay));
  sync_for_journal_mode();
  std::optional<Transaction> tx;
  try {
    tx.emplace(c, true);
  } catch (const SqliteError &) {
    return;  // busy: look again at the next interval
  }
  int64_t now = schedule_now_ms();
  struct Due {
    std::string id, due, schedule;
    bool exclusive = true;
  };
  std::vector<Due> due;
  {
    Stmt q(c, "SELECT id, next_run_at, options FROM main._export_definitions WHERE next_run_at <= ?1 ORDER BY rowid");
    q.bind(1, iso_time(now));
    while (q.step()) {
      json o = json::parse(q.text(2), nullptr, false);
      Due d{q.text(0), q.text(1), "", true};
      if (o.is_object() && o.contains("schedule") && o["schedule"].is_string()) d.schedule = o["schedule"].get<std::string>();
      if (o.is_object() && o.contains("exclusive") && o["exclusive"].is_boolean()) d.exclusive = o["exclusive"].get<bool>();
      due.push_back(std::move(d));
    }
  }
  bool queued = false;
  for (const Due &d : due) {
    std::optional<std::string> next;
    try {
      next = iso_time(Schedule::parse(d.schedule).next_after(now));
    } catch (const ExportError &) {
      // No valid schedule is stored (only a hand-edited row): stop scheduling it.
    }
    bool active = false;
    if (d.exclusive) {
      Stmt a(c, "SELECT 1 FROM main._export_runs WHERE export_id = ?1 AND status IN ('CREATED', 'RUNNING') LIMIT 1");
      a.bind(1, d.id);
      active = a.step();
    }
    if (active) {
      Stmt s(c,
             "UPDATE main._export_definitions SET next_run_at = ?2, skipped_runs = skipped_runs + 1, last_skipped_at = "
             "?3 WHERE id = ?1");
      s.bind(1, d.id).bind_opt(2, next ? &*next : nullptr).bind(3, d.due);
      s.exec();
      continue;
    }
    // The run's SQL as export_run would record it (the worker plans it again in its snapshot).
    std::optional<std::string> sql, params;
    try {
      if (auto def = find_definition(c, d.id)) {
        Plan plan = plan_run(c, *def, json(), true, false);
        sql = plan.sql;
        params = plan.params.dump(-1, ' ', false, json::error_handler_t::replace);
      }
    } catch (const std::exception &) {
      // The run fails with the reason when the worker plans it.
    }
    Stmt ins(c,
             "INSERT OR IGNORE INTO main._export_runs(id, export_id, number, status, sql, params, created_at, origin, "
             "scheduled_for) VALUES (?1, ?2, (SELECT next_number FROM main._export_definitions WHERE id = ?2), "
             "'CREATED', ?3, ?4, ?5, 'schedule', ?6)");
    ins.bind(1, new_id()).bind(2, d.id).bind_opt(3, sql ? &*sql : nullptr).bind_opt(4, params ? &*params : nullptr);
    ins.bind(5, now_iso()).bind(6, d.due);
    queued = ins.exec() > 0 || queued;
    Stmt s(c, "UPDATE main._export_definitions SET next_run_at = ?2 WHERE id = ?1");
    s.bind(1, d.id).bind_opt(2, next ? &*next : nullptr);
    s.exec();
  }
  tx->commit();
  if (queued) wake_workers();
}

}  // namespace sqlexport
