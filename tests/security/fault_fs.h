// fault_fs.h: a FileSystem (ext/output.h) that records every call an export makes and fails the
// Nth one with a chosen errno, once or from then on. Thread-safe: the worker thread calls it
// while the test thread reads its trace.
#pragma once
#include <cerrno>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "output.h"

namespace security {

enum class Op { open_dir, mkdir, openat, write, fsync, close, renameat, unlinkat };

inline const char *op_name(Op op) {
  switch (op) {
    case Op::open_dir: return "open_dir";
    case Op::mkdir: return "mkdir";
    case Op::openat: return "openat";
    case Op::write: return "write";
    case Op::fsync: return "fsync";
    case Op::close: return "close";
    case Op::renameat: return "renameat";
    case Op::unlinkat: return "unlinkat";
  }
  return "?";
}

struct Call {
  Op op;
  std::string target;  // the file or folder the call is about (a descriptor is named by what it opened)
  bool failed = false;
};

class FaultFs : public sqlexport::FileSystem {
 public:
  // nth = 0: never fail (a recording run). persistent: every call from the nth on fails.
  // also_unlink: every unlinkat fails too (cleanup that cannot clean).
  FaultFs(int nth, bool persistent, int err, bool also_unlink = false)
      : nth_(nth), persistent_(persistent), err_(err), also_unlink_(also_unlink) {}

  std::vector<Call> trace() const {
    std::lock_guard<std::mutex> lock(mu_);
    return trace_;
  }
  int calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<int>(trace_.size());
  }
  bool fired() const {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto &c : trace_)
      if (c.failed) return true;
    return false;
  }

  int open_dir(const char *path) override {
    if (decide(Op::open_dir, path)) return fail_with(-1);
    int fd = FileSystem::open_dir(path);
    name_fd(fd, std::string(path) + "/");
    return fd;
  }
  int mkdir(const char *path, mode_t mode) override {
    if (decide(Op::mkdir, path)) return fail_with(-1);
    return FileSystem::mkdir(path, mode);
  }
  int openat(int dirfd, const char *name, int flags, mode_t mode) override {
    if (decide(Op::openat, name)) return fail_with(-1);
    int fd = FileSystem::openat(dirfd, name, flags, mode);
    name_fd(fd, name);
    return fd;
  }
  ssize_t write(int fd, const void *buf, size_t n) override {
    if (decide(Op::write, fd_name(fd))) return fail_with(-1);
    return FileSystem::write(fd, buf, n);
  }
  int fsync(int fd) override {
    if (decide(Op::fsync, fd_name(fd))) return fail_with(-1);
    return FileSystem::fsync(fd);
  }
  int close(int fd) override {
    bool fail = decide(Op::close, fd_name(fd));
    int rc = FileSystem::close(fd);  // a failed close still releases the descriptor, as on Linux
    forget_fd(fd);
    return fail ? fail_with(-1) : rc;
  }
  int renameat(int dirfd, const char *from, const char *to) override {
    if (decide(Op::renameat, std::string(from) + " -> " + to)) return fail_with(-1);
    return FileSystem::renameat(dirfd, from, to);
  }
  int unlinkat(int dirfd, const char *name) override {
    if (decide(Op::unlinkat, name, also_unlink_)) return fail_with(-1);
    return FileSystem::unlinkat(dirfd, name);
  }

 private:
  bool decide(Op op, const std::string &target, bool force = false) {
    std::lock_guard<std::mutex> lock(mu_);
    int index = static_cast<int>(trace_.size()) + 1;
    bool fail = force || (nth_ > 0 && (index == nth_ || (persistent_ && index > nth_)));
    trace_.push_back({op, target, fail});
    return fail;
  }
  int fail_with(int rc) const {
    errno = err_;
    return rc;
  }
  void name_fd(int fd, const std::string &name) {
    if (fd < 0) return;
    std::lock_guard<std::mutex> lock(mu_);
    fds_[fd] = name;
  }
  void forget_fd(int fd) {
    std::lock_guard<std::mutex> lock(mu_);
    fds_.erase(fd);
  }
  std::string fd_name(int fd) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = fds_.find(fd);
    return it == fds_.end() ? "fd " + std::to_string(fd) : it->second;
  }

  const int nth_;
  const bool persistent_;
  const int err_;
  const bool also_unlink_;
  mutable std::mutex mu_;
  std::vector<Call> trace_;
  std::map<int, std::string> fds_;
};

// Installs a FileSystem for a scope (before the connections whose workers use it are opened;
// the scope must outlive them).
struct InstalledFs {
  explicit InstalledFs(sqlexport::FileSystem *fs) { sqlexport::set_file_system_for_testing(fs); }
  ~InstalledFs() { sqlexport::set_file_system_for_testing(nullptr); }
  InstalledFs(const InstalledFs &) = delete;
  InstalledFs &operator=(const InstalledFs &) = delete;
};

}  // namespace security
