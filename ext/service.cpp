// service.cpp: per-connection export service: configuration and the worker threads' lifecycle.
#include "service.h"

#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <condition_variable>
#include <cstdlib>
#include <set>

#include <fmt/format.h>

#include "db.h"
#include "errors.h"
#include "schema.h"
#include "worker.h"

namespace sqlexport {

namespace {

// Live services of the process, so that exit() stops their workers before the process tears
// down. Deliberately leaked: it must outlive every static destructor.
struct Registry {
  std::mutex mu;
  std::set<Service *> live;
  bool atexit_installed = false;
};
Registry &registry() {
  static Registry *r = new Registry;
  return *r;
}

void stop_all_at_exit() {
  // The lock is held throughout, so a service being destroyed on another thread waits here
  // rather than being freed under us.
  Registry &r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  for (Service *s : r.live) s->shutdown();
}

std::string absolute(const std::string &path) {
  if (path.empty() || path[0] == '/') return path;
  char buf[4096];
  if (!getcwd(buf, sizeof buf)) return path;
  return std::string(buf) + "/" + path;
}

}  // namespace

Service::Service(sqlite3 *app_db) {
  const char *file = sqlite3_db_filename(app_db, "main");
  sqlite3_vfs *vfs = nullptr;
  sqlite3_file_control(app_db, "main", SQLITE_FCNTL_VFS_POINTER, &vfs);
  vfs_name_ = vfs && vfs->zName ? vfs->zName : "";
  db_path_ = file ? file : "";
  bool memdb = vfs_name_ == "memdb";
  if (memdb && (db_path_.empty() || db_path_[0] != '/')) db_path_.clear();  // private memdb
  if (!db_path_.empty() && !memdb) config_.output_dir = db_path_ + "-exports";
  if (const char *delay = std::getenv("SQLITE_EXPORT_TEST_ROW_DELAY_US")) config_.test_row_delay_us = std::atoll(delay);
  if (const char *delay = std::getenv("SQLITE_EXPORT_TEST_SCHEDULE_DELAY_MS"))
    config_.test_schedule_delay_ms = std::atoll(delay);
  if (const char *delay = std::getenv("SQLITE_EXPORT_TEST_PARALLEL_DELAY_MS"))
    config_.test_parallel_delay_ms = std::atoll(delay);
  {
    Registry &r = registry();
    std::lock_guard<std::mutex> lock(r.mu);
    r.live.insert(this);
    if (!r.atexit_installed) {
      r.atexit_installed = true;
      // atexit handlers run in reverse order: initialize OpenSSL (which registers its own
      // cleanup) first, so that the workers are stopped before OpenSSL frees what they use.
      OPENSSL_init_crypto(OPENSSL_INIT_ADD_ALL_DIGESTS | OPENSSL_INIT_LOAD_CONFIG, nullptr);
      EVP_MD_free(EVP_MD_fetch(nullptr, "SHA256", nullptr));
      std::atexit(stop_all_at_exit);
    }
  }
}

void Service::start() {
  if (shareable()) set_workers(1);
}

Service::~Service() {
  shutdown();
  waiter_.reset();
  Registry &r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  r.live.erase(this);
}

void Service::shutdown() noexcept {
  std::vector<std::unique_ptr<Worker>> stopping;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping.swap(workers_);
  }
  for (auto &w : stopping) w->request_stop();
  wake_workers();
  stopping.clear();  // joins
}

ServiceConfig Service::config() const {
  std::lock_guard<std::mutex> lock(mu_);
  return config_;
}

void Service::set_output_dir(const std::string &dir) {
  std::lock_guard<std::mutex> lock(mu_);
  config_.output_dir = absolute(dir);
}

void Service::set_lease_ms(int64_t ms) {
  std::lock_guard<std::mutex> lock(mu_);
  config_.lease_ms = ms;
}

void Service::set_parallel(int n) {
  std::lock_guard<std::mutex> lock(mu_);
  config_.parallel = n;
}

int Service::workers() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(workers_.size());
}

void Service::set_workers(int n) {
  if (n > 0 && !shareable())
    throw ExportError(Code::not_admissible,
                      "this database is private to its connection (:memory: or a temporary database); workers need a "
                      "database file or a shared memdb ('file:/name?vfs=memdb')");
  std::vector<std::unique_ptr<Worker>> stopping;
  {
    std::lock_guard<std::mutex> lock(mu_);
    while (static_cast<int>(workers_.size()) > n) {
      stopping.push_back(std::move(workers_.back()));
      workers_.pop_back();
    }
  }
  for (auto &w : stopping) w->request_stop();
  // Existing workers look at once; new ones are started after the wake-up, so they keep their
  // start delay (a script that sets WAL right after `.load` needs the file to itself).
  wake_workers();
  std::lock_guard<std::mutex> lock(mu_);
  while (static_cast<int>(workers_.size()) < n) workers_.push_back(std::make_unique<Worker>(*this, next_worker_index_++));
}

std::optional<std::string> Service::committed_status(const std::string &run_id) {
  std::lock_guard<std::mutex> lock(waiter_mu_);
  if (!waiter_) {
    waiter_ = std::make_unique<Connection>(open_internal(*this, true));
    sqlite3_busy_timeout(waiter_->get(), 1000);
  }
  sqlite3 *w = waiter_->get();
  if (!schema_exists(w)) return std::nullopt;
  Stmt q(w, "SELECT status FROM main._export_runs WHERE id = ?1");
  q.bind(1, run_id);
  if (!q.step()) return std::nullopt;
  return q.text(0);
}

}  // namespace sqlexport
