// worker_thread.h: the loop of one worker thread: wait, claim, snapshot, hand over, sweep.
//
// WorkerThread owns the worker's connections (control, reader, the extra readers of parallel
// runs). Its loop (run()) waits for work, claims a run in one write transaction, starts the
// run's snapshot, and hands the run to a RunExecutor (executor.h), which reads and writes it;
// every 30 s it sweeps expired runs and leftover files. See worker.cpp for the life of a run.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "db.h"
#include "query.h"

namespace sqlexport {

class Service;
class RunExecutor;

// A run as claimed: what the executor needs to read and write it.
struct ClaimedRun {
  std::string id;
  int64_t token = 0;
  int64_t number = 0;
  int64_t attempts = 0;
  nlohmann::json criteria;
  nlohmann::json attach;
  bool full = false;  // metadata {"full": true}: an incremental definition's full export
  Definition def;
};

class WorkerThread {
 public:
  WorkerThread(Service &svc, int index, std::atomic<bool> &stop) : svc_(svc), index_(index), stop_(stop) {}
  // The thread's whole life: returns once stop is set. Never throws.
  void run() noexcept;

 private:
  friend class RunExecutor;
  bool open();
  int64_t data_version();
  bool work_available();
  bool claim_and_run();
  void sync_for_journal_mode();
  void sweep() noexcept;
  // Queue a run of every scheduled definition that is due (see worker.cpp).
  void enqueue_due();
  // Remove temporary files of run_id left by attempts before token (a dead process's).
  void remove_dead_temporaries(const std::string &output_dir, const std::string &run_id, int64_t token) noexcept;
  void attach_for(const nlohmann::json &attach);
  bool wait_for(std::chrono::milliseconds d, uint64_t &seen_gen);

  Service &svc_;
  int index_;
  std::atomic<bool> &stop_;
  Connection control_;
  Connection reader_;
  std::vector<Connection> extra_;  // more readers, for a run split across rowid ranges
  int extra_active_ = 0;           // how many of extra_ hold the current run's snapshot
  bool wal_ = false;
  bool schema_ready_ = false;
  std::string owner_;
  std::vector<std::string> attached_;
};

// The name of the marker file that a cleanly stopped attempt leaves when it cannot requeue its
// run (the rescue then does not count the attempt as interrupted).
std::string requeue_marker(const std::string &run_id, int64_t token);

}  // namespace sqlexport
