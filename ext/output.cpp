// output.cpp: atomic, confined output files (SPEC section 7, guarantees 5 and 7).
//
// The folder
//   OutputDir creates the folder's last component if missing (mode 0755) and opens it with
//   O_DIRECTORY|O_NOFOLLOW: a symlink there is refused ("is a symbolic link"). Every later
//   call is relative to that descriptor, so renaming or replacing the path afterwards cannot
//   redirect the files.
//
// A file's life
//   1. openat(dir, ".<final>.<tag>.tmp", O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC, 0644):
//      never reuses or follows anything already there.
//   2. write(): bytes are compressed when asked (gzip or zstd, see compress.h) and
//      collected in a 1 MiB buffer written in whole chunks; short writes and EINTR are retried.
//      SHA-256 runs over the bytes as they reach the disk. After every 16 MiB written, the
//      file's syncer thread (started for files that reach that size) runs fsync while writing
//      goes on, so the final fsync has little left to wait for; a failed background fsync fails
//      the file (when the next 16 MiB are written, or in finish()) with the same
//      "fsync '<path>': ..." error.
//   3. commit(): finish the compressed stream, flush, fsync, close, renameat to the final name (this
//      replaces a file or symlink there without following it), fsync the folder.
//   A failure at any step throws ExportError(io_error) with the message
//       "<what> '<full path>': <system error>"
//   e.g. "write '/data/app.db-exports/.orders-1.csv.Ab3.tmp': No space left on device", and
//   removes the temporary file first, so a failed file leaves nothing behind. An fsync error
//   is final (never retried: the kernel may already have dropped the data). A failure of the
//   folder's fsync after the rename also removes the final file (its name may not be durable
//   and the run that made it is failing), unless publish(false) leaves that to the caller: the
//   worker first checks that the name is still its own. If the unlink itself fails, the
//   leftover is a ".<final>.<tag>.tmp" that OutputDir::remove_temporaries() clears later.
//   An OutputFile that is destroyed without commit() removes its temporary file.
//
// Testing: every call that can fail goes through FileSystem, which tests replace to make the
// Nth call fail. Listing the folder (remove_temporaries) uses the real calls directly.
#include "output.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "errors.h"
#include "util.h"

namespace sqlexport {

namespace {

constexpr size_t kBufferSize = 1 << 20;
constexpr uint64_t kSyncEvery = 16u << 20;  // a background fsync after every 16 MiB written

// True when name can only denote an entry directly inside a folder.
bool plain_name(const std::string &name) noexcept {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
         name.find('\0') == std::string::npos;
}

std::atomic<FileSystem *> g_test_fs{nullptr};

}  // namespace

// ---- FileSystem: the real calls ----

int FileSystem::open_dir(const char *path) { return ::open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC); }
int FileSystem::mkdir(const char *path, mode_t mode) { return ::mkdir(path, mode); }
int FileSystem::openat(int dirfd, const char *name, int flags, mode_t mode) { return ::openat(dirfd, name, flags, mode); }
ssize_t FileSystem::write(int fd, const void *buf, size_t n) { return ::write(fd, buf, n); }
int FileSystem::fsync(int fd) { return ::fsync(fd); }
int FileSystem::close(int fd) { return ::close(fd); }
int FileSystem::renameat(int dirfd, const char *from, const char *to) { return ::renameat(dirfd, from, dirfd, to); }
int FileSystem::unlinkat(int dirfd, const char *name) { return ::unlinkat(dirfd, name, 0); }

FileSystem &file_system() {
  // Leaked on purpose: workers stopped by an atexit handler may still use it while static
  // destructors run.
  static FileSystem *real = new FileSystem;
  FileSystem *fs = g_test_fs.load(std::memory_order_acquire);
  return fs ? *fs : *real;
}

void set_file_system_for_testing(FileSystem *fs) { g_test_fs.store(fs, std::memory_order_release); }

// ---- OutputDir ----

OutputDir::OutputDir(std::string path) : path_(std::move(path)) {
  FileSystem &fs = file_system();
  int err = 0;
  if (fs.mkdir(path_.c_str(), 0755) != 0 && errno != EEXIST) err = errno;
  if (err == 0) {
    fd_ = fs.open_dir(path_.c_str());
    if (fd_ < 0) err = errno;
  }
  if (err == 0) return;
  // O_NOFOLLOW|O_DIRECTORY on a symlink gives ELOOP or, on Linux, ENOTDIR.
  struct stat st {};
  bool is_link = err == ELOOP || (err == ENOTDIR && ::lstat(path_.c_str(), &st) == 0 && S_ISLNK(st.st_mode));
  throw ExportError(Code::io_error, "cannot open output folder '" + path_ +
                                        "': " + (is_link ? std::string("is a symbolic link") : error_text(err)));
}

OutputDir::~OutputDir() {
  if (fd_ >= 0) file_system().close(fd_);
}

std::string OutputDir::full_path(std::string_view name) const {
  std::string out = path_;
  if (out.empty() || out.back() != '/') out += '/';
  out += name;
  return out;
}

int OutputDir::remove_temporaries(const std::function<bool(const std::string &tag)> &is_stale) noexcept {
  try {
    // A fresh descriptor for ".": its own read position, and the listing never leaves the folder.
    int list_fd = ::openat(fd_, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (list_fd < 0) return 0;
    struct DirCloser {
      void operator()(DIR *d) const noexcept { ::closedir(d); }
    };
    std::unique_ptr<DIR, DirCloser> d(::fdopendir(list_fd));  // owns list_fd from here on
    if (!d) {
      ::close(list_fd);
      return 0;
    }
    std::vector<std::string> stale;
    while (dirent *e = ::readdir(d.get())) {
      std::string name = e->d_name;
      // ".<final>.<tag>.tmp": the tag is what follows the last '.' before ".tmp".
      constexpr std::string_view kSuffix = ".tmp";
      if (name.size() < 1 + 1 + 1 + 1 + kSuffix.size() || name[0] != '.' ||
          name.compare(name.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0)
        continue;
      std::string middle = name.substr(1, name.size() - 1 - kSuffix.size());
      size_t dot = middle.rfind('.');
      if (dot == std::string::npos || dot == 0 || dot + 1 == middle.size()) continue;
      if (is_stale(middle.substr(dot + 1))) stale.push_back(std::move(name));
    }
    d.reset();
    int removed = 0;
    for (const auto &name : stale)
      if (file_system().unlinkat(fd_, name.c_str()) == 0) ++removed;
    return removed;
  } catch (...) {
    return 0;
  }
}

bool OutputDir::remove_file(const std::string &name) noexcept {
  if (!plain_name(name)) return true;  // never ours
  return file_system().unlinkat(fd_, name.c_str()) == 0 || errno == ENOENT;
}

bool OutputDir::create_marker(const std::string &name) noexcept {
  if (!plain_name(name)) return false;
  int fd = file_system().openat(fd_, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return errno == EEXIST;
  file_system().close(fd);
  return true;
}

bool OutputDir::take_marker(const std::string &name) noexcept {
  return plain_name(name) && file_system().unlinkat(fd_, name.c_str()) == 0;
}

// ---- OutputFile ----

// Runs fsync on a file's descriptor on its own thread, when asked, while the file is written.
class OutputFile::Syncer {
 public:
  explicit Syncer(int fd) : fd_(fd), thread_([this] { loop(); }) {}
  ~Syncer() { stop(); }
  Syncer(const Syncer &) = delete;
  Syncer &operator=(const Syncer &) = delete;
  // Ask for an fsync (one asked for and not yet started covers this one too). Returns the
  // errno of a failed background fsync, else 0.
  int request() {
    std::lock_guard<std::mutex> lock(mu_);
    want_ = true;
    cv_.notify_one();
    return err_;
  }
  // Let the fsync in progress end (no other starts) and join. Returns the errno of a failed
  // background fsync, else 0. Never throws.
  int stop() noexcept {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
    return err_;
  }

 private:
  void loop() noexcept {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return want_ || stopping_; });
      if (stopping_) return;
      want_ = false;
      lock.unlock();
      int rc = file_system().fsync(fd_);
      int err = errno;
      lock.lock();
      if (rc != 0 && err_ == 0) err_ = err != 0 ? err : EIO;
    }
  }
  int fd_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool want_ = false;
  bool stopping_ = false;
  int err_ = 0;
  std::thread thread_;  // last: started once every member above exists
};

// The file's stream state; a member so that it reaches OutputFile's private fields.
struct OutputFile::State {
  struct MdFree {
    void operator()(EVP_MD_CTX *c) const noexcept { EVP_MD_CTX_free(c); }
  };

  bool temp_exists = false;  // we created the temporary file and it has not been renamed or removed
  std::unique_ptr<Compressor> comp;  // null for a plain file
  std::unique_ptr<EVP_MD_CTX, MdFree> sha;
  std::unique_ptr<char[]> buf;
  size_t used = 0;
  std::string sha_hex;  // set by commit()
  std::unique_ptr<Syncer> syncer;  // started once the file passes kSyncEvery bytes

  // Throw io_error "<what> '<path>': <reason>". The public call it leaves through discards
  // the file (not here: a compressor's sink may be on the stack, and discard() ends it).
  [[noreturn]] static void fail(const std::string &what, const std::string &reason) {
    throw ExportError(Code::io_error, what + ": " + reason);
  }
  [[noreturn]] static void fail_errno(OutputFile &f, const char *what, int err) {
    fail(std::string(what) + " '" + f.dir_.full_path(f.temp_name_) + "'", error_text(err));
  }
  // Throw unless the file is open for writing.
  static void check_open(const OutputFile &f, const char *what) {
    if (f.committed_ || f.fd_ < 0)
      throw ExportError(Code::internal, std::string(what) + " '" + f.dir_.full_path(f.temp_name_) +
                                            "': the file was already " + (f.committed_ ? "committed" : "discarded"));
  }
  // Write out the buffered bytes.
  static void flush(OutputFile &f) {
    State &s = *f.state_;
    if (s.used == 0) return;
    f.write_disk(s.buf.get(), s.used);
    s.used = 0;
  }
  // Run body; if it throws, discard the file first (a failed file leaves nothing behind).
  template <class F>
  static void or_discard(OutputFile &f, F body) {
    try {
      body();
    } catch (...) {
      f.discard();
      throw;
    }
  }
  // A compressor's failure names the file: "compress '<path>': <reason>" (io_error).
  template <class F>
  static void compressing(OutputFile &f, F body) {
    try {
      body();
    } catch (const ExportError &e) {
      if (e.code() != Code::internal) throw;
      fail("compress '" + f.dir_.full_path(f.temp_name_) + "'", e.what());
    }
  }
};

OutputFile::OutputFile(OutputDir &dir, std::string final_name, const std::string &tag, Codec codec)
    : dir_(dir), final_name_(std::move(final_name)) {
  if (!plain_name(final_name_) || !plain_name(tag))
    throw ExportError(Code::internal, "bad output file name '" + final_name_ + "' or tag '" + tag + "'");
  temp_name_ = "." + final_name_ + "." + tag + ".tmp";
  auto state = std::make_unique<State>();
  state->buf = std::make_unique<char[]>(kBufferSize);
  state->sha.reset(EVP_MD_CTX_new());
  if (!state->sha || EVP_DigestInit_ex(state->sha.get(), EVP_sha256(), nullptr) != 1)
    throw ExportError(Code::internal, "cannot start SHA-256 for '" + dir_.full_path(temp_name_) + "'");
  if (codec.kind != Compression::none)
    state->comp = make_compressor(codec, [this](const char *p, size_t n) { append(p, n); });
  fd_ = file_system().openat(dir_.fd(), temp_name_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    int err = errno;  // nothing of ours exists yet: a file already at the temp name is not ours to remove
    throw ExportError(Code::io_error, "create '" + dir_.full_path(temp_name_) + "': " + error_text(err));
  }
  state->temp_exists = true;
  state_ = std::move(state);
}

OutputFile::~OutputFile() {
  if (!committed_) discard();
}

void OutputFile::write_disk(const char *p, size_t n) {
  FileSystem &fs = file_system();
  while (n > 0) {
    size_t chunk = n < (size_t{1} << 30) ? n : (size_t{1} << 30);
    ssize_t w = fs.write(fd_, p, chunk);
    if (w < 0) {
      if (errno == EINTR) continue;
      State::fail_errno(*this, "write", errno);
    }
    if (w == 0) State::fail_errno(*this, "write", EIO);  // no progress: do not spin
    size_t done = static_cast<size_t>(w);
    EVP_DigestUpdate(state_->sha.get(), p, done);
    disk_bytes_ += done;
    p += done;
    n -= done;
  }
  // Flush what is written so far on the file's syncer thread, without waiting for it, so that
  // the fsync that finish() needs (guarantee 5) has little left to do. A failed background
  // fsync fails the file at the next request (16 MiB later), or in finish().
  if (disk_bytes_ - synced_from_ >= kSyncEvery) {
    synced_from_ = disk_bytes_;
    if (!state_->syncer) state_->syncer = std::make_unique<Syncer>(fd_);
    if (int err = state_->syncer->request()) State::fail_errno(*this, "fsync", err);
  }
}

void OutputFile::append(const char *p, size_t n) {
  State &s = *state_;
  if (s.used + n <= kBufferSize) {
    std::memcpy(s.buf.get() + s.used, p, n);
    s.used += n;
    if (s.used == kBufferSize) State::flush(*this);
    return;
  }
  // Top up the buffer, write it, then write whole buffers' worth directly and keep the rest.
  size_t room = kBufferSize - s.used;
  if (s.used > 0) {
    std::memcpy(s.buf.get() + s.used, p, room);
    s.used = kBufferSize;
    State::flush(*this);
    p += room;
    n -= room;
  }
  if (n >= kBufferSize) {
    size_t direct = n - n % kBufferSize;
    write_disk(p, direct);
    p += direct;
    n -= direct;
  }
  std::memcpy(s.buf.get(), p, n);
  s.used = n;
}

void OutputFile::write(std::string_view bytes) {
  State::check_open(*this, "write");
  State::or_discard(*this, [&] {
    input_bytes_ += bytes.size();
    if (state_->comp) State::compressing(*this, [&] { state_->comp->write(bytes.data(), bytes.size()); });
    else append(bytes.data(), bytes.size());
  });
}

void OutputFile::sync() {
  State::check_open(*this, "sync");
  if (state_->comp) State::or_discard(*this, [&] { State::compressing(*this, [&] { state_->comp->sync(); }); });
}

uint64_t OutputFile::file_bytes() const noexcept { return disk_bytes_ + (state_ ? state_->used : 0); }

uint64_t OutputFile::bound(uint64_t n) const noexcept {
  return state_ && state_->comp ? state_->comp->bound(n) : n;
}

void OutputFile::commit() {
  finish();
  publish();
}

void OutputFile::finish() {
  State::check_open(*this, "finish");
  State::or_discard(*this, [&] {
    State &s = *state_;
    FileSystem &fs = file_system();
    if (s.comp) {
      State::compressing(*this, [&] { s.comp->finish(); });
      s.comp.reset();  // joins its threads
    }
    State::flush(*this);
    if (s.syncer) {
      int err = s.syncer->stop();
      s.syncer.reset();
      if (err != 0) State::fail_errno(*this, "fsync", err);  // final: never retried
    }
    if (fs.fsync(fd_) != 0) State::fail_errno(*this, "fsync", errno);  // final: never retried
    int rc = fs.close(fd_);
    int err = errno;
    fd_ = -1;  // released even when close reports an error
    // After a successful fsync, EINTR from close loses nothing (Linux has released the descriptor).
    if (rc != 0 && err != EINTR) State::fail_errno(*this, "close", err);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(s.sha.get(), digest, &len);
    static const char kHex[] = "0123456789abcdef";
    s.sha_hex.clear();
    for (unsigned int i = 0; i < len; ++i) {
      s.sha_hex += kHex[digest[i] >> 4];
      s.sha_hex += kHex[digest[i] & 15];
    }
    // Release what the stream no longer needs; the digest stays.
    s.buf.reset();
    s.sha.reset();
    finished_ = true;
  });
}

void OutputFile::publish(bool remove_on_failure) {
  if (committed_ || !finished_ || !state_ || !state_->temp_exists)
    throw ExportError(Code::internal, "publish '" + dir_.full_path(temp_name_) + "': the file is not finished");
  State::or_discard(*this, [&] {
    FileSystem &fs = file_system();
    std::string final_path = dir_.full_path(final_name_);
    if (fs.renameat(dir_.fd(), temp_name_.c_str(), final_name_.c_str()) != 0) {
      int err = errno;
      State::fail("rename '" + dir_.full_path(temp_name_) + "' to '" + final_path + "'", error_text(err));
    }
    state_->temp_exists = false;
    if (fs.fsync(dir_.fd()) != 0) {
      int err = errno;
      // Its name may not be durable: the run fails without it (the caller removes it otherwise).
      if (remove_on_failure) fs.unlinkat(dir_.fd(), final_name_.c_str());
      State::fail("fsync folder '" + dir_.path() + "'", error_text(err));
    }
    committed_ = true;
  });
}

void OutputFile::discard() noexcept {
  if (committed_) return;
  FileSystem &fs = file_system();
  if (state_) {
    state_->comp.reset();    // joins its threads
    state_->syncer.reset();  // its fsync ends before the descriptor closes
  }
  if (fd_ >= 0) {
    fs.close(fd_);
    fd_ = -1;
  }
  if (state_ && state_->temp_exists) {
    fs.unlinkat(dir_.fd(), temp_name_.c_str());
    state_->temp_exists = false;
  }
}

std::string OutputFile::sha256_hex() const { return state_ ? state_->sha_hex : std::string(); }

}  // namespace sqlexport
