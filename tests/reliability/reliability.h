// reliability.h: helpers of the reliability tests: child processes, file checksums, and the
// invariants every state of an export database must satisfy (SPEC section 9, guarantees 4, 5, 8).
#pragma once
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zlib.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "testdb.h"

extern char **environ;

namespace rel {

using Clock = std::chrono::steady_clock;

inline long long ms_since(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
}

inline long long epoch_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

inline bool sanitized() {
  const char *s = std::getenv("EXPORT_SANITIZE");
  return s && *s;
}

// A child process (export_child) whose stdout is a pipe read line by line. Killed and reaped
// on destruction if still running.
class Child {
 public:
  // Start EXPORT_CHILD_PATH with args; env entries "K=V" are added (replacing K). With
  // err_path, the child's stderr goes to that file (see stderr_text()); else to ours.
  Child(const std::vector<std::string> &args, const std::vector<std::string> &env = {},
        const std::string &err_path = "")
      : err_path_(err_path) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    std::vector<std::string> argv_s;
    argv_s.push_back(EXPORT_CHILD_PATH);
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<std::string> env_s;
    for (char **e = environ; *e; ++e) {
      std::string kv = *e;
      bool replaced = false;
      for (const auto &x : env)
        if (kv.compare(0, x.find('=') + 1, x, 0, x.find('=') + 1) == 0) replaced = true;
      if (!replaced) env_s.push_back(kv);
    }
    env_s.insert(env_s.end(), env.begin(), env.end());
    std::vector<char *> argv_p, env_p;
    for (auto &s : argv_s) argv_p.push_back(s.data());
    argv_p.push_back(nullptr);
    for (auto &s : env_s) env_p.push_back(s.data());
    env_p.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    if (!err_path.empty())
      posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int rc = posix_spawn(&pid_, argv_p[0], &fa, nullptr, argv_p.data(), env_p.data());
    posix_spawn_file_actions_destroy(&fa);
    ::close(fds[1]);
    if (rc != 0) {
      ::close(fds[0]);
      throw std::runtime_error(std::string("posix_spawn failed: ") + std::strerror(rc));
    }
    out_ = fds[0];
    started_ = Clock::now();
  }
  ~Child() {
    if (!reaped_) {
      ::kill(pid_, SIGKILL);
      int st = 0;
      ::waitpid(pid_, &st, 0);
    }
    if (out_ >= 0) ::close(out_);
  }
  Child(const Child &) = delete;
  Child &operator=(const Child &) = delete;

  pid_t pid() const { return pid_; }
  Clock::time_point started() const { return started_; }
  const std::vector<std::string> &lines() const { return lines_; }

  // Read lines until one starts with prefix (returned) or timeout_ms passed / EOF ("").
  std::string wait_line(const std::string &prefix, int timeout_ms) {
    auto end = Clock::now() + std::chrono::milliseconds(timeout_ms);
    size_t checked = 0;
    for (;;) {
      for (; checked < lines_.size(); ++checked)
        if (lines_[checked].compare(0, prefix.size(), prefix) == 0 && !taken_.count(checked)) {
          taken_.insert(checked);
          return lines_[checked];
        }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()).count();
      if (left <= 0 || eof_) return "";
      read_some(static_cast<int>(left));
    }
  }
  // Read whatever the (dead) child wrote until EOF.
  void drain() {
    while (!eof_) read_some(1000);
  }
  // True while the child has not exited (reaps it when it has).
  bool alive() {
    if (reaped_) return false;
    int st = 0;
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      status_ = st;
      return false;
    }
    return true;
  }
  void kill(int sig) { ::kill(pid_, sig); }
  // Wait up to timeout_ms for the child to exit; true if it did (status() then valid).
  bool wait(int timeout_ms) {
    auto end = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (alive()) {
      if (Clock::now() > end) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
  }
  int status() const { return status_; }
  std::string describe_status() const {
    std::ostringstream s;
    if (WIFEXITED(status_)) s << "exit status " << WEXITSTATUS(status_);
    else if (WIFSIGNALED(status_)) s << "killed by signal " << WTERMSIG(status_);
    else s << "status " << status_;
    return s.str();
  }
  bool exited_ok() const { return reaped_ && WIFEXITED(status_) && WEXITSTATUS(status_) == 0; }
  // What the child wrote to stderr (when it went to a file), also copied to our stderr.
  std::string stderr_text() const {
    if (err_path_.empty()) return "";
    std::ifstream in(err_path_);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!text.empty()) std::cerr << "--- stderr of export_child " << pid_ << ":\n" << text << "---\n";
    return text;
  }

 private:
  void read_some(int timeout_ms) {
    pollfd p{out_, POLLIN, 0};
    int r = ::poll(&p, 1, timeout_ms);
    if (r <= 0) return;
    char buf[4096];
    ssize_t n = ::read(out_, buf, sizeof buf);
    if (n <= 0) {
      eof_ = true;
      return;
    }
    partial_.append(buf, static_cast<size_t>(n));
    size_t nl;
    while ((nl = partial_.find('\n')) != std::string::npos) {
      lines_.push_back(partial_.substr(0, nl));
      partial_.erase(0, nl + 1);
    }
  }

  std::string err_path_;
  pid_t pid_ = -1;
  int out_ = -1;
  bool eof_ = false;
  bool reaped_ = false;
  int status_ = 0;
  Clock::time_point started_;
  std::string partial_;
  std::vector<std::string> lines_;
  std::set<size_t> taken_;
};

// SHA-256 (hex) and size of a file; false when it cannot be read.
inline bool file_digest(const std::string &path, std::string &hex, long long &size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return false;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  char buf[65536];
  size = 0;
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) {
    EVP_DigestUpdate(ctx, buf, static_cast<size_t>(n));
    size += n;
  }
  ::close(fd);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, md, &len);
  EVP_MD_CTX_free(ctx);
  if (n < 0) return false;
  static const char kHex[] = "0123456789abcdef";
  hex.clear();
  for (unsigned i = 0; i < len; ++i) {
    hex += kHex[md[i] >> 4];
    hex += kHex[md[i] & 15];
  }
  return true;
}

// Lines in a file, gzip-compressed or not (zlib reads plain files as they are); -1 on error.
inline long long file_lines(const std::string &path) {
  gzFile g = gzopen(path.c_str(), "rb");
  if (!g) return -1;
  char buf[65536];
  long long lines = 0;
  int n;
  while ((n = gzread(g, buf, sizeof buf)) > 0)
    for (int i = 0; i < n; ++i) lines += buf[i] == '\n';
  int err = 0;
  gzerror(g, &err);
  gzclose(g);
  return n < 0 || (err != Z_OK && err != Z_STREAM_END) ? -1 : lines;
}

// Rows of a query as vectors of text (NULL -> "").
inline std::vector<std::vector<std::string>> rows(const testdb::Db &d, const std::string &sql) {
  sqlite3_stmt *st = nullptr;
  if (sqlite3_prepare_v2(d.db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK)
    throw std::runtime_error(std::string(sqlite3_errmsg(d.db)) + " in: " + sql);
  std::vector<std::vector<std::string>> out;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    std::vector<std::string> r;
    for (int i = 0; i < sqlite3_column_count(st); ++i) {
      const unsigned char *t = sqlite3_column_text(st, i);
      r.push_back(t ? reinterpret_cast<const char *>(t) : "");
    }
    out.push_back(std::move(r));
  }
  std::string err = sqlite3_errmsg(d.db);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) throw std::runtime_error(err + " in: " + sql);
  return out;
}

inline std::string q(const std::string &s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

// What check_invariants() can report as expected rather than as violations:
//   kAwaitingSweep: the leftovers of a FAILED or ABORTED run whose worker's process died
//     (recorded final files, their records, temporary files): a worker's sweep (about 1 s after
//     a worker starts, then every 30 s) or the rescue of the run deletes them.
inline const std::string kAwaitingSweep = "awaiting-sweep";

// What check_invariants() found. Violations are failures; known[bug] lists what a known bug
// explains; the rest are figures.
struct Findings {
  std::vector<std::string> violations;
  std::map<std::string, std::vector<std::string>> known;
  int complete = 0, failed = 0, aborted = 0, running = 0, created = 0;
  int files_verified = 0;
  std::set<std::string> temporaries;        // temporary files present (of live or dead attempts)
  std::set<std::string> finals_of_running;  // recorded final files of RUNNING runs (killed between rename and commit)
};

// A temporary file ".<final>.<runid>-<token>.tmp": its run id and token, or false.
inline bool parse_temporary(const std::string &name, std::string &run_id, long long &token, std::string &final_name) {
  if (name.size() < 6 || name[0] != '.' || name.compare(name.size() - 4, 4, ".tmp") != 0) return false;
  std::string middle = name.substr(1, name.size() - 5);
  size_t dot = middle.rfind('.');
  if (dot == std::string::npos) return false;
  std::string tag = middle.substr(dot + 1);
  final_name = middle.substr(0, dot);
  size_t dash = tag.rfind('-');
  if (dash == std::string::npos || dash + 1 == tag.size()) return false;
  run_id = tag.substr(0, dash);
  token = std::atoll(tag.c_str() + dash + 1);
  return true;
}

// Check, on a database that no process is working on (or only through the given connection):
//   - PRAGMA integrity_check is ok;
//   - every COMPLETE run's files exist with the recorded size and SHA-256, as many as file_count,
//     with as many lines as their recorded rows (plus the header of a CSV file), adding up to
//     the run's rows_written;
//   - no file record, final file or temporary file belongs to a FAILED or ABORTED run;
//   - every RUNNING run's lease ends at most lease_ms from now;
//   - every final file in the folder is a recorded file: of a COMPLETE run, of a RUNNING run
//     (renamed into place by a process killed before it marked the run COMPLETE), or awaiting
//     the sweep; every temporary file belongs to a known run.
// known_bugs: which of the known bugs above to report as such rather than as violations.
inline Findings check_invariants(const testdb::Db &d, const std::string &out_dir, long long lease_ms,
                                 const std::set<std::string> &known_bugs = {}) {
  Findings f;
  auto bad = [&](const std::string &m) { f.violations.push_back(m); };
  auto bad_or_known = [&](const std::string &bug, const std::string &m) {
    if (known_bugs.count(bug)) f.known[bug].push_back(m);
    else bad(m);
  };
  std::string ic = d.text("PRAGMA integrity_check");
  if (ic != "ok") bad("integrity_check: " + ic);
  if (d.integer("SELECT count(*) FROM sqlite_schema WHERE name = '_export_runs'") == 0) return f;
  long long now = epoch_ms();
  struct Run {
    std::string status, name;
    long long number = 0, lease_until = 0, file_count = 0, rows_written = 0;
  };
  std::map<std::string, Run> runs;
  for (auto &r : rows(d,
                      "SELECT r.id, r.status, coalesce(json_extract(d.options, '$.output_name'), d.name), r.number, "
                      "coalesce(r.lease_until, -1), r.file_count, r.rows_written FROM _export_runs r "
                      "LEFT JOIN _export_definitions d ON d.id = r.export_id")) {
    Run run{r[1], r[2], std::atoll(r[3].c_str()), std::atoll(r[4].c_str()), std::atoll(r[5].c_str()),
            std::atoll(r[6].c_str())};
    runs[r[0]] = run;
    if (run.status == "COMPLETE") ++f.complete;
    else if (run.status == "FAILED") ++f.failed;
    else if (run.status == "ABORTED") ++f.aborted;
    else if (run.status == "CREATED") ++f.created;
    else if (run.status == "RUNNING") {
      ++f.running;
      if (run.lease_until < 0) bad("RUNNING run " + r[0] + " has no lease");
      else if (run.lease_until > now + lease_ms)
        bad("RUNNING run " + r[0] + " holds a lease " + std::to_string(run.lease_until - now) + " ms into the future (lease_ms " +
            std::to_string(lease_ms) + ")");
    }
  }
  std::set<std::string> recorded;  // file names (in out_dir) recorded for COMPLETE runs
  std::map<std::string, std::string> recorded_unfinished;  // name -> status, recorded for other runs
  std::map<std::string, int> counted;
  std::map<std::string, long long> rows_in_files;
  for (auto &r : rows(d, "SELECT f.run_id, f.path, f.size_bytes, f.sha256, r.status, f.row_count, "
                         "f.format = 'csv' AND coalesce(json_extract(d.options, '$.header'), 1) FROM _export_files f "
                         "LEFT JOIN _export_runs r ON r.id = f.run_id "
                         "LEFT JOIN _export_definitions d ON d.id = r.export_id")) {
    const std::string &status = r[4];
    if (status.empty() || status == "CREATED") {
      bad("file record " + r[1] + " belongs to a " + (status.empty() ? "missing" : status) + " run " + r[0]);
      continue;
    }
    if (status == "FAILED" || status == "ABORTED")
      bad_or_known(kAwaitingSweep, "file record " + r[1] + " of " + status + " run " + r[0] + " remains");
    if (status != "COMPLETE" && status != "DOWNLOADED") {
      recorded_unfinished[std::filesystem::path(r[1]).filename().string()] = status;
      continue;
    }
    ++counted[r[0]];
    std::string hex;
    long long size = 0;
    if (!file_digest(r[1], hex, size)) {
      bad("COMPLETE run " + r[0] + ": file " + r[1] + " is missing");
      continue;
    }
    if (size != std::atoll(r[2].c_str()))
      bad("COMPLETE run " + r[0] + ": file " + r[1] + " has " + std::to_string(size) + " bytes, recorded " + r[2]);
    else if (hex != r[3])
      bad("COMPLETE run " + r[0] + ": file " + r[1] + " has SHA-256 " + hex + ", recorded " + r[3]);
    else
      ++f.files_verified;
    recorded.insert(std::filesystem::path(r[1]).filename().string());
    long long want = std::atoll(r[5].c_str()) + (r[6] == "1" ? 1 : 0), lines = file_lines(r[1]);
    if (lines != want)
      bad("COMPLETE run " + r[0] + ": file " + r[1] + " has " + std::to_string(lines) + " lines, expected " +
          std::to_string(want));
    rows_in_files[r[0]] += std::atoll(r[5].c_str());
  }
  for (auto &[id, run] : runs)
    if (run.status == "COMPLETE" && counted[id] != run.file_count)
      bad("COMPLETE run " + id + " records " + std::to_string(counted[id]) + " files, file_count " +
          std::to_string(run.file_count));
    else if (run.status == "COMPLETE" && rows_in_files[id] != run.rows_written)
      bad("COMPLETE run " + id + ": its files hold " + std::to_string(rows_in_files[id]) + " rows, rows_written " +
          std::to_string(run.rows_written));
  // Final names "<name>-<number>[-<part>].<ext>[.gz]" -> run.
  auto run_of_final = [&](const std::string &name) -> const std::pair<const std::string, Run> * {
    for (auto &entry : runs) {
      std::string stem = entry.second.name + "-" + std::to_string(entry.second.number);
      if (name.size() > stem.size() && name.compare(0, stem.size(), stem) == 0 &&
          (name[stem.size()] == '.' || name[stem.size()] == '-'))
        return &entry;
    }
    return nullptr;
  };
  for (const auto &name : testdb::files_in(out_dir)) {
    std::string run_id, final_name;
    long long token = 0;
    if (parse_temporary(name, run_id, token, final_name)) {
      f.temporaries.insert(name);
      auto it = runs.find(run_id);
      if (it == runs.end()) {
        bad("temporary file " + name + " belongs to no run");
      } else if (it->second.status == "FAILED" || it->second.status == "ABORTED") {
        bad_or_known(kAwaitingSweep,
                     "temporary file " + name + " of " + it->second.status + " run " + run_id + " remains");
      }
      continue;
    }
    if (recorded.count(name)) continue;
    auto unfinished = recorded_unfinished.find(name);
    if (unfinished != recorded_unfinished.end()) {
      if (unfinished->second == "RUNNING") f.finals_of_running.insert(name);
      else bad_or_known(kAwaitingSweep, "final file " + name + " of " + unfinished->second + " run remains");
      continue;
    }
    auto *entry = run_of_final(name);
    if (!entry) bad("file " + name + " belongs to no run");
    else bad("final file " + name + " of " + entry->second.status + " run " + entry->first + " is not a recorded file");
  }
  return f;
}

}  // namespace rel
