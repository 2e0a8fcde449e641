// export_child.cpp: the other process of the reliability tests (test_reliability.cpp).
//
// It links the static library like an application would and talks to the driver through
// lines on stdout (each written with one write(2), so nothing is lost when it is killed):
//
//   export_child run DB LEASE_MS EXPORT...
//       load the extension (lease_ms set before any claim), queue one run of each EXPORT,
//       print "QUEUED <id>" once each export_run has committed, wake the worker, then keep it
//       busy until killed (the crash loop SIGKILLs it at a random moment).
//   export_child work DB SECONDS WORKERS
//       run WORKERS workers on DB; print "READY"; stop after SECONDS, or once runs were seen and
//       none is CREATED or RUNNING; print "RAN <n>" (runs this process's workers executed),
//       close and exit 0 (the two-process test).
//   export_child hold DB MS [read]
//       plain SQLite, no extension: BEGIN IMMEDIATE, print "LOCKED", hold the write lock for
//       MS ms, COMMIT, print "RELEASED" (lock contention). With "read": a read transaction
//       instead (BEGIN; SELECT ...), which in rollback-journal mode holds a SHARED lock.
//   export_child exit DB HOW DELAY_MS EXPORT N [LEASE_MS]
//       load (lease_ms set first when given), queue N runs of EXPORT, then wait DELAY_MS ms;
//       DELAY_MS = -1: until an export has written its temporary file, plus 150 ms;
//       DELAY_MS = -2: the same, then print "WRITING" and wait until the file DB.go exists;
//       then print "EXITING", and
//       HOW = exit:  exit(0) with the connection still open (atexit must stop the workers);
//       HOW = close: sqlite3_close() timed, print "CLOSED <ms>", then return 0 from main.
//
// Exit status: 0 when it ended by itself as asked; 2 for a usage error; 3 when SQLite or the
// extension failed (the message goes to stderr).
#include <sqlite3.h>
#include <sqlite_export.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <thread>

namespace {

using Clock = std::chrono::steady_clock;

void say(const std::string &line) {
  std::string s = line + "\n";
  const char *p = s.data();
  size_t n = s.size();
  while (n > 0) {
    ssize_t w = ::write(1, p, n);
    if (w <= 0) return;
    p += w;
    n -= static_cast<size_t>(w);
  }
}

[[noreturn]] void die(const std::string &msg) {
  std::fprintf(stderr, "export_child: %s\n", msg.c_str());
  std::fflush(stderr);
  std::_Exit(3);
}

sqlite3 *open_db(const std::string &path, bool load) {
  sqlite3 *db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK)
    die("cannot open " + path);
  sqlite3_busy_timeout(db, 10000);
  if (load) {
    char *err = nullptr;
    if (sqlite3_export_init(db, &err, nullptr) != SQLITE_OK) die(std::string("load: ") + (err ? err : "?"));
  }
  return db;
}

void exec(sqlite3 *db, const std::string &sql) {
  char *err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK)
    die(std::string(err ? err : "error") + " in: " + sql);
}

// First column of the first row as text ("" for NULL or no row).
std::string text(sqlite3 *db, const std::string &sql) {
  sqlite3_stmt *st = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK)
    die(std::string(sqlite3_errmsg(db)) + " in: " + sql);
  std::string out;
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW && sqlite3_column_text(st, 0)) out = reinterpret_cast<const char *>(sqlite3_column_text(st, 0));
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) die(std::string(sqlite3_errmsg(db)) + " in: " + sql);
  sqlite3_finalize(st);
  return out;
}

long long integer(sqlite3 *db, const std::string &sql) { return std::atoll(text(db, sql).c_str()); }

// Open with the extension loaded and configured before any of its workers can claim a run: the
// service starts one worker as soon as the extension loads, with the default lease (15 s), so a
// second connection holds the write lock (the worker's claim backs off) while this one stops that
// worker, sets lease_ms and starts the wanted number of workers.
sqlite3 *open_configured(const std::string &path, long long lease_ms, int workers) {
  sqlite3 *guard = open_db(path, false);
  exec(guard, "BEGIN IMMEDIATE");
  sqlite3 *db = open_db(path, true);
  exec(db, "SELECT export_config('workers', 0)");
  if (lease_ms > 0) exec(db, "SELECT export_config('lease_ms', " + std::to_string(lease_ms) + ")");
  exec(db, "SELECT export_config('workers', " + std::to_string(workers) + ")");
  exec(guard, "COMMIT");
  sqlite3_close(guard);
  return db;
}

std::string queue(sqlite3 *db, const std::string &export_name) {
  return text(db, "SELECT export_run('" + export_name + "', '[]')");
}

int mode_run(int argc, char **argv) {
  if (argc < 4) return 2;
  sqlite3 *db = open_configured(argv[2], std::atoll(argv[3]), 1);
  for (int i = 4; i < argc; ++i) say("QUEUED " + queue(db, argv[i]));
  // A worker waits 500 ms after it starts unless work is requested in its process: ask it to
  // look now (setting the number of workers wakes them), as a process with work to do would.
  exec(db, "SELECT export_config('workers', 1)");
  say("WORKING");
  for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));  // until killed
}

int mode_work(int argc, char **argv) {
  if (argc < 5) return 2;
  sqlite3 *db = open_configured(argv[2], 0, std::atoi(argv[4]));
  auto end = Clock::now() + std::chrono::seconds(std::atoll(argv[3]));
  say("READY");
  std::string me = "pid:" + std::to_string(static_cast<long>(getpid())) + ":%";
  auto idle_since = Clock::now();
  while (Clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    long long total = integer(db, "SELECT count(*) FROM sqlite_schema WHERE name = '_export_runs'");
    if (total == 0) continue;
    total = integer(db, "SELECT count(*) FROM _export_runs");
    long long pending = integer(db, "SELECT count(*) FROM _export_runs WHERE status IN ('CREATED', 'RUNNING')");
    if (total == 0 || pending > 0) idle_since = Clock::now();
    else if (Clock::now() - idle_since > std::chrono::milliseconds(300)) break;
  }
  say("RAN " + std::to_string(integer(db, "SELECT count(*) FROM _export_runs WHERE lease_owner LIKE '" + me + "'")));
  if (sqlite3_close(db) != SQLITE_OK) die("close failed");
  return 0;
}

int mode_hold(int argc, char **argv) {
  if (argc < 4) return 2;
  sqlite3 *db = open_db(argv[2], false);
  if (argc > 4 && std::string(argv[4]) == "read") {
    exec(db, "BEGIN");
    if (integer(db, "SELECT count(*) FROM sqlite_schema") <= 0) die("empty database");
  } else {
    exec(db, "BEGIN IMMEDIATE");
  }
  say("LOCKED");
  std::this_thread::sleep_for(std::chrono::milliseconds(std::atoll(argv[3])));
  exec(db, "COMMIT");
  say("RELEASED");
  sqlite3_close(db);
  return 0;
}

int mode_exit(int argc, char **argv) {
  if (argc < 7) return 2;
  std::string path = argv[2], how = argv[3];
  long long delay = std::atoll(argv[4]);
  if (how != "exit" && how != "close") return 2;
  sqlite3 *db = argc > 7 ? open_configured(path, std::atoll(argv[7]), 1) : open_db(path, true);
  for (int i = 0, n = std::atoi(argv[6]); i < n; ++i) say("QUEUED " + queue(db, argv[5]));
  if (delay >= 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(delay));
  } else {
    // Wait until an export of this process is writing its temporary file (one that was not
    // there before: a dead process may have left one), then a little more.
    auto end = Clock::now() + std::chrono::seconds(30);
    auto temporaries = [&] {
      std::set<std::string> out;
      std::error_code ec;
      for (const auto &e : std::filesystem::directory_iterator(path + "-exports", ec)) {
        std::string name = e.path().filename().string();
        if (name.size() > 4 && name[0] == '.' && name.compare(name.size() - 4, 4, ".tmp") == 0) out.insert(name);
      }
      return out;
    };
    const std::set<std::string> before = temporaries();
    auto writing = [&] {
      for (const auto &name : temporaries())
        if (!before.count(name)) return true;
      return false;
    };
    while (!writing()) {
      if (Clock::now() > end) die("no export started within 30 s");
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    if (delay == -2) {
      say("WRITING");
      while (access((path + ".go").c_str(), F_OK) != 0) {
        if (Clock::now() > end) die("no go within 30 s");
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    }
  }
  say("EXITING");
  if (how == "exit") std::exit(0);  // the connection is still open, the worker still busy
  auto t0 = Clock::now();
  int rc = sqlite3_close(db);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
  say("CLOSED " + std::to_string(ms) + " " + std::to_string(rc));
  return rc == SQLITE_OK ? 0 : 3;
}

}  // namespace

int main(int argc, char **argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: export_child run|work|hold|exit DB ...\n");
    return 2;
  }
  std::string mode = argv[1];
  int rc = 2;
  if (mode == "run") rc = mode_run(argc, argv);
  else if (mode == "work") rc = mode_work(argc, argv);
  else if (mode == "hold") rc = mode_hold(argc, argv);
  else if (mode == "exit") rc = mode_exit(argc, argv);
  if (rc == 2) std::fprintf(stderr, "export_child: bad arguments for mode '%s'\n", mode.c_str());
  return rc;
}
