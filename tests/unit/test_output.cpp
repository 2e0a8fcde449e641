// test_output.cpp: OutputDir and OutputFile: atomic files, gzip, SHA-256, symlink safety, and
// fault injection (every system call failing in turn) leaving no file and no descriptor behind.
#include <catch2/catch.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <openssl/evp.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "errors.h"
#include "output.h"

using namespace sqlexport;
namespace fs = std::filesystem;

namespace {

// A fresh folder under the system's temp folder, removed with everything in it.
struct TempDir {
  std::string path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "sqlexport-out-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::set<std::string> entries(const std::string &dir) {
  std::set<std::string> names;
  std::error_code ec;
  for (const auto &e : fs::directory_iterator(dir, ec)) names.insert(e.path().filename().string());
  return names;
}

std::string read_file(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::string &path, const std::string &bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

int open_fds() {
  int n = 0;
  for (const auto &e : fs::directory_iterator("/proc/self/fd")) {
    (void)e;
    ++n;
  }
  return n;
}

std::string sha256_of(const std::string &bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  REQUIRE(EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr) == 1);
  static const char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

// Every member of a gzip file, decompressed with zlib (a file may hold several, RFC 1952 2.2).
std::string gunzip(const std::string &in) {
  z_stream zs{};
  REQUIRE(inflateInit2(&zs, 15 + 16) == Z_OK);
  zs.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  std::string out;
  char buf[65536];
  for (;;) {
    zs.next_out = reinterpret_cast<Bytef *>(buf);
    zs.avail_out = sizeof buf;
    int rc = inflate(&zs, Z_NO_FLUSH);
    REQUIRE((rc == Z_OK || rc == Z_STREAM_END));
    out.append(buf, sizeof buf - zs.avail_out);
    if (rc == Z_STREAM_END) {
      if (zs.avail_in == 0) break;
      REQUIRE(inflateReset(&zs) == Z_OK);  // the next member
    }
  }
  inflateEnd(&zs);
  return out;
}

// A zstd file decompressed with libzstd's streaming decoder; requires whole, valid frames.
std::string unzstd(const std::string &in) {
  ZSTD_DCtx *dc = ZSTD_createDCtx();
  REQUIRE(dc != nullptr);
  ZSTD_inBuffer ib{in.data(), in.size(), 0};
  std::string out;
  std::string buf(ZSTD_DStreamOutSize(), '\0');
  size_t left = 1;
  while (ib.pos < ib.size) {
    ZSTD_outBuffer ob{buf.data(), buf.size(), 0};
    left = ZSTD_decompressStream(dc, &ob, &ib);
    REQUIRE(!ZSTD_isError(left));
    out.append(buf.data(), ob.pos);
  }
  ZSTD_freeDCtx(dc);
  REQUIRE(left == 0);  // the last frame is complete
  return out;
}

std::string random_bytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto &c : s) c = static_cast<char>(rng());
  return s;
}

// Installs a FileSystem for the scope of a test, restoring the real one after.
struct Installed {
  explicit Installed(FileSystem *f) { set_file_system_for_testing(f); }
  ~Installed() { set_file_system_for_testing(nullptr); }
};

enum class Call { any, open_dir, mkdir, openat, write, fsync, close, renameat, unlinkat };
const char *call_name(Call c) {
  switch (c) {
    case Call::any: return "any";
    case Call::open_dir: return "open_dir";
    case Call::mkdir: return "mkdir";
    case Call::openat: return "openat";
    case Call::write: return "write";
    case Call::fsync: return "fsync";
    case Call::close: return "close";
    case Call::renameat: return "renameat";
    case Call::unlinkat: return "unlinkat";
  }
  return "?";
}

// Fails the nth call of one kind (or of any kind) with err, once or from then on. A failed close
// still releases the descriptor, as Linux does.
struct FaultFs : FileSystem {
  Call kind = Call::any;
  int nth = 1;
  bool persistent = false;
  int err = ENOSPC;
  int seen = 0;
  bool fired = false;
  Call first_failed = Call::any;

  bool fail(Call c) {
    if (kind != Call::any && c != kind) return false;
    ++seen;
    if (seen == nth || (persistent && seen > nth)) {
      if (!fired) first_failed = c;
      fired = true;
      errno = err;
      return true;
    }
    return false;
  }
  int open_dir(const char *p) override { return fail(Call::open_dir) ? -1 : FileSystem::open_dir(p); }
  int mkdir(const char *p, mode_t m) override { return fail(Call::mkdir) ? -1 : FileSystem::mkdir(p, m); }
  int openat(int d, const char *n, int f, mode_t m) override {
    return fail(Call::openat) ? -1 : FileSystem::openat(d, n, f, m);
  }
  ssize_t write(int fd, const void *b, size_t n) override { return fail(Call::write) ? -1 : FileSystem::write(fd, b, n); }
  int fsync(int fd) override { return fail(Call::fsync) ? -1 : FileSystem::fsync(fd); }
  int close(int fd) override {
    if (fail(Call::close)) {
      int e = errno;
      FileSystem::close(fd);
      errno = e;
      return -1;
    }
    return FileSystem::close(fd);
  }
  int renameat(int d, const char *a, const char *b) override {
    return fail(Call::renameat) ? -1 : FileSystem::renameat(d, a, b);
  }
  int unlinkat(int d, const char *n) override { return fail(Call::unlinkat) ? -1 : FileSystem::unlinkat(d, n); }
};

// Writes in small pieces and is interrupted now and then: the writer must loop.
struct ChoppyFs : FileSystem {
  int calls = 0;
  ssize_t write(int fd, const void *b, size_t n) override {
    if (++calls % 3 == 0) {
      errno = EINTR;
      return -1;
    }
    return FileSystem::write(fd, b, n < 4097 ? n : 4097);
  }
};

Codec codec_of(bool gzip) { return gzip ? Codec{Compression::gzip, 0} : Codec{}; }
// A file's content, decompressed as its codec says.
std::string decoded(Compression kind, const std::string &disk) {
  return kind == Compression::gzip ? gunzip(disk) : kind == Compression::zstd ? unzstd(disk) : disk;
}

// Export-like use: open the folder, write data in pieces, commit.
void scenario(const std::string &dir, const std::string &data, Compression kind) {
  OutputDir d(dir);
  OutputFile f(d, "orders-1.csv", "tag1", Codec{kind, 0});
  for (size_t i = 0; i < data.size(); i += 100000) f.write(std::string_view(data).substr(i, 100000));
  f.commit();
}

}  // namespace

TEST_CASE("output: a committed file holds the bytes, its size and SHA-256", "[output]") {
  TempDir t;
  std::string dir = t.path + "/out";
  std::string data = random_bytes(3'500'000, 1);
  OutputDir d(dir);
  {
    OutputFile f(d, "a.csv", "t1", codec_of(false));
    CHECK(entries(dir) == std::set<std::string>{".a.csv.t1.tmp"});
    f.write("");
    f.write(std::string_view(data).substr(0, 10));
    f.write(std::string_view(data).substr(10, 2'500'000));  // larger than the buffer
    f.write(std::string_view(data).substr(2'500'010));
    CHECK(entries(dir) == std::set<std::string>{".a.csv.t1.tmp"});
    f.commit();
    CHECK(f.size_bytes() == data.size());
    CHECK(f.input_bytes() == data.size());
    CHECK(f.sha256_hex() == sha256_of(data));
    CHECK(f.final_name() == "a.csv");
    CHECK_THROWS_MATCHES(f.write("x"), ExportError, Catch::Predicate<ExportError>([](const ExportError &e) {
                           return e.code() == Code::internal;
                         }));
  }
  CHECK(entries(dir) == std::set<std::string>{"a.csv"});
  CHECK(read_file(dir + "/a.csv") == data);
  struct stat st {};
  REQUIRE(::stat((dir + "/a.csv").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == (0644 & ~[] {
          mode_t m = ::umask(0);
          ::umask(m);
          return m;
        }()));
}

TEST_CASE("output: gzip and zstd output decompress to the input", "[output]") {
  TempDir t;
  OutputDir d(t.path);
  for (Compression kind : {Compression::gzip, Compression::zstd}) {
    CAPTURE(compression_name(kind));
    const std::string ext = compression_suffix(kind);
    const Codec codec{kind, 0};
    SECTION(std::string("compressible and incompressible data, ") + compression_name(kind)) {
      std::string data;
      for (int i = 0; data.size() < 3'000'000; ++i) data += "row," + std::to_string(i) + ",some text\n";
      data += random_bytes(2'500'000, 2);
      OutputFile f(d, "a.csv" + ext, "t", codec);
      for (size_t i = 0; i < data.size(); i += 77777) f.write(std::string_view(data).substr(i, 77777));
      f.commit();
      std::string disk = read_file(t.path + "/a.csv" + ext);
      CHECK(decoded(kind, disk) == data);
      CHECK(f.size_bytes() == disk.size());
      CHECK(f.input_bytes() == data.size());
      CHECK(f.sha256_hex() == sha256_of(disk));
      // The codec's own command checks the file too, when it is installed.
      const char *tool = kind == Compression::gzip ? "gzip" : "zstd";
      if (std::system((std::string("command -v ") + tool + " >/dev/null 2>&1").c_str()) == 0)
        CHECK(std::system((std::string(tool) + " -q -t '" + t.path + "/a.csv" + ext + "'").c_str()) == 0);
    }
    SECTION(std::string("empty file, ") + compression_name(kind)) {
      OutputFile f(d, "e.jsonl" + ext, "t", codec);
      f.commit();
      std::string disk = read_file(t.path + "/e.jsonl" + ext);
      CHECK(!disk.empty());  // a valid compressed file of nothing
      CHECK(decoded(kind, disk).empty());
      CHECK(f.sha256_hex() == sha256_of(disk));
    }
    SECTION(std::string("one huge write, ") + compression_name(kind)) {
      std::string data(5'000'000, 'x');
      OutputFile f(d, "h" + ext, "t", codec);
      f.write(data);
      f.commit();
      CHECK(decoded(kind, read_file(t.path + "/h" + ext)) == data);
    }
    SECTION(std::string("levels, ") + compression_name(kind)) {
      std::string data;
      for (int i = 0; data.size() < 300'000; ++i) data += std::to_string(i * 7919) + ",x\n";
      for (int level = min_level(kind); level <= max_level(kind); level += 6) {
        OutputFile f(d, "l" + ext, "t", Codec{kind, level});
        f.write(data);
        f.commit();
        CHECK(decoded(kind, read_file(t.path + "/l" + ext)) == data);
      }
    }
  }
}

TEST_CASE("output: gzip blocks come out in order, whatever the number of threads", "[output][compress]") {
  // Blocks of different content and size, so a block out of place or lost changes the bytes.
  std::string data;
  for (int i = 0; data.size() < 9'500'000; ++i) data += "line " + std::to_string(i) + (i % 3 ? ",a\n" : ",bb,\"c\"\n");
  data += random_bytes(1'300'000, 5);
  for (unsigned threads : {1u, 2u, 3u, 8u}) {
    for (int level : {1, 6, 9}) {
      CAPTURE(threads, level);
      std::string out;
      int sinks = 0;
      auto c = make_compressor(Codec{Compression::gzip, level}, [&](const char *p, size_t n) {
        out.append(p, n);
        ++sinks;
      }, threads);
      for (size_t i = 0; i < data.size(); i += 300'001) c->write(data.data() + i, std::min<size_t>(300'001, data.size() - i));
      c->finish();
      CHECK(gunzip(out) == data);
      CHECK(sinks == static_cast<int>((data.size() + (1u << 20) - 1) >> 20));  // one member per started MiB of input
    }
  }
}

TEST_CASE("output: after sync, file_bytes is exact and bound() holds for what comes next", "[output][compress]") {
  TempDir t;
  OutputDir d(t.path);
  std::string noise = random_bytes(4'000'000, 6);  // incompressible: the codecs' worst case
  std::string text;
  for (int i = 0; text.size() < 4'000'000; ++i) text += "row " + std::to_string(i) + "\n";
  for (Compression kind : {Compression::none, Compression::gzip, Compression::zstd}) {
    for (const std::string *src : {&noise, &text}) {
      CAPTURE(compression_name(kind), src == &noise);
      OutputFile f(d, "s.out", "t", Codec{kind, 0});
      size_t at = 0;
      std::vector<uint64_t> bounds;
      // Pieces from 1 byte to more than two gzip blocks.
      for (size_t n : {size_t{1}, size_t{10}, size_t{700}, size_t{65'536}, size_t{1} << 20, size_t{2'500'000}, size_t{3}}) {
        uint64_t before = f.file_bytes();
        uint64_t most = f.bound(n);
        f.write(std::string_view(*src).substr(at, n));
        at += n;
        f.sync();
        CHECK(f.file_bytes() - before <= most);
        if (kind == Compression::none) CHECK(most == n);
      }
      uint64_t synced = f.file_bytes();
      uint64_t end_most = f.bound(0);
      f.commit();
      std::string disk = read_file(t.path + "/s.out");
      CHECK(disk.size() == f.size_bytes());
      CHECK(disk.size() - synced <= end_most);  // the stream's end is inside the bound too
      CHECK(decoded(kind, disk) == src->substr(0, at));
    }
  }
}

TEST_CASE("output: short writes and EINTR are retried", "[output]") {
  TempDir t;
  std::string data = random_bytes(2'200'000, 3);
  ChoppyFs choppy;
  Installed use(&choppy);
  for (bool gzip : {false, true}) {
    OutputDir d(t.path);
    std::string name = gzip ? "c.gz" : "c";
    OutputFile f(d, name, "t", codec_of(gzip));
    f.write(data);
    f.commit();
    std::string disk = read_file(t.path + "/" + name);
    CHECK((gzip ? gunzip(disk) : disk) == data);
    CHECK(f.sha256_hex() == sha256_of(disk));
    CHECK(f.size_bytes() == disk.size());
  }
  CHECK(choppy.calls > 1000);
}

TEST_CASE("output: an uncommitted file leaves nothing", "[output]") {
  TempDir t;
  OutputDir d(t.path);
  {
    OutputFile f(d, "a.csv", "t", codec_of(false));
    f.write("partial");
  }
  CHECK(entries(t.path).empty());
  OutputFile g(d, "b.csv", "t", codec_of(true));
  g.write("partial");
  g.discard();
  g.discard();
  CHECK(entries(t.path).empty());
  CHECK_THROWS_AS(g.commit(), ExportError);
  CHECK(entries(t.path).empty());
}

TEST_CASE("output: a committed file replaces a symlink at its name without following it", "[output]") {
  TempDir t;
  std::string dir = t.path + "/out";
  std::string victim = t.path + "/victim.txt";
  write_file(victim, "keep");
  OutputDir d(dir);
  REQUIRE(::symlink(victim.c_str(), (dir + "/a.csv").c_str()) == 0);
  OutputFile f(d, "a.csv", "t", codec_of(false));
  f.write("new");
  f.commit();
  struct stat st {};
  REQUIRE(::lstat((dir + "/a.csv").c_str(), &st) == 0);
  CHECK(S_ISREG(st.st_mode));
  CHECK(read_file(dir + "/a.csv") == "new");
  CHECK(read_file(victim) == "keep");
  // An existing regular file is replaced too.
  OutputFile g(d, "a.csv", "t2", codec_of(false));
  g.write("newer");
  g.commit();
  CHECK(read_file(dir + "/a.csv") == "newer");
}

TEST_CASE("output: an entry at the temporary name makes creation fail and is left alone", "[output]") {
  TempDir t;
  OutputDir d(t.path);
  write_file(t.path + "/.a.csv.t.tmp", "theirs");
  try {
    OutputFile f(d, "a.csv", "t", codec_of(false));
    FAIL("created over an existing file");
  } catch (const ExportError &e) {
    CHECK(e.code() == Code::io_error);
    CHECK(std::string(e.what()) == "create '" + t.path + "/.a.csv.t.tmp': File exists");
  }
  CHECK(read_file(t.path + "/.a.csv.t.tmp") == "theirs");
  // A symlink there is not followed either.
  std::string victim = t.path + "/victim";
  REQUIRE(::symlink(victim.c_str(), (t.path + "/.b.csv.t.tmp").c_str()) == 0);
  CHECK_THROWS_AS(OutputFile(d, "b.csv", "t", Codec{}), ExportError);
  CHECK_FALSE(fs::exists(victim));
}

TEST_CASE("output: names must stay inside the folder", "[output]") {
  TempDir t;
  OutputDir d(t.path);
  for (const char *bad : {"", ".", "..", "a/b", "../x"}) {
    CAPTURE(bad);
    CHECK_THROWS_MATCHES(OutputFile(d, bad, "t", Codec{}), ExportError,
                         Catch::Predicate<ExportError>([](const ExportError &e) { return e.code() == Code::internal; }));
    CHECK_THROWS_AS(OutputFile(d, "ok.csv", bad, Codec{}), ExportError);
  }
  CHECK(entries(t.path).empty());
  d.remove_file("../x");  // ignored
  d.remove_file("missing.csv");
}

TEST_CASE("output: the folder", "[output]") {
  TempDir t;
  SECTION("created when missing, reused when present") {
    OutputDir a(t.path + "/new");
    CHECK(fs::is_directory(t.path + "/new"));
    OutputDir b(t.path + "/new");
    CHECK(b.fd() >= 0);
    CHECK(a.full_path("x.csv") == t.path + "/new/x.csv");
    OutputDir c(t.path + "/new/");
    CHECK(c.full_path("x.csv") == t.path + "/new/x.csv");
    CHECK(c.path() == t.path + "/new/");
  }
  SECTION("a symlink is refused") {
    REQUIRE(::mkdir((t.path + "/real").c_str(), 0755) == 0);
    REQUIRE(::symlink((t.path + "/real").c_str(), (t.path + "/link").c_str()) == 0);
    REQUIRE(::symlink((t.path + "/nowhere").c_str(), (t.path + "/dangling").c_str()) == 0);
    for (const char *name : {"/link", "/dangling"}) {
      std::string p = t.path + name;
      try {
        OutputDir d(p);
        FAIL("opened a symlink");
      } catch (const ExportError &e) {
        CHECK(e.code() == Code::io_error);
        CHECK(std::string(e.what()) == "cannot open output folder '" + p + "': is a symbolic link");
      }
    }
    CHECK_FALSE(fs::exists(t.path + "/nowhere"));
  }
  SECTION("a file, or a missing parent") {
    write_file(t.path + "/file", "x");
    CHECK_THROWS_WITH(OutputDir(t.path + "/file"),
                      "cannot open output folder '" + t.path + "/file': Not a directory");
    CHECK_THROWS_WITH(OutputDir(t.path + "/no/such"),
                      "cannot open output folder '" + t.path + "/no/such': No such file or directory");
  }
}

TEST_CASE("output: remove_temporaries removes only matching stale ones", "[output]") {
  TempDir t;
  OutputDir d(t.path);
  for (const char *name : {".a.csv.OLD.tmp", ".a-2.csv.gz.OLD.tmp", ".a.csv.NEW.tmp", "a.csv", ".hidden", "x.OLD.tmp",
                           ".OLD.tmp", ".a.csv.OLD.tmpx", ".a.csv..tmp"})
    write_file(t.path + "/" + name, "x");
  REQUIRE(::mkdir((t.path + "/.dir.OLD.tmp").c_str(), 0755) == 0);  // a folder is not removed
  REQUIRE(::symlink("/etc/passwd", (t.path + "/.link.csv.OLD.tmp").c_str()) == 0);  // the link, not its target
  std::vector<std::string> tags;
  int removed = d.remove_temporaries([&](const std::string &tag) {
    tags.push_back(tag);
    return tag == "OLD";
  });
  CHECK(removed == 3);
  CHECK(entries(t.path) == std::set<std::string>{".a.csv.NEW.tmp", "a.csv", ".hidden", "x.OLD.tmp", ".OLD.tmp",
                                                 ".a.csv.OLD.tmpx", ".a.csv..tmp", ".dir.OLD.tmp"});
  CHECK(fs::exists("/etc/passwd"));
  // Throwing predicates are contained, and release the listing.
  int fds = open_fds();
  CHECK(d.remove_temporaries([](const std::string &) -> bool { throw std::runtime_error("x"); }) == 0);
  CHECK(open_fds() == fds);
  // Repeated calls list the folder from its start.
  CHECK(d.remove_temporaries([](const std::string &tag) { return tag == "NEW"; }) == 1);
  d.remove_file("a.csv");
  CHECK_FALSE(fs::exists(t.path + "/a.csv"));
}

TEST_CASE("output: exact io_error messages", "[output]") {
  TempDir t;
  const std::string temp = t.path + "/.orders-1.csv.abc.tmp";
  // Run a small export with the nth call of kind failing with err; return the error message.
  auto message = [&](Call kind, int nth, int err) {
    FaultFs f;
    f.kind = kind;
    f.nth = nth;
    f.err = err;
    std::string what = "(no error)";
    {
      Installed use(&f);
      try {
        OutputDir d(t.path);
        OutputFile file(d, "orders-1.csv", "abc", codec_of(false));
        file.write(std::string(size_t{2} << 20, 'x'));  // more than the buffer: reaches the disk
        file.write("tail");
        file.commit();
      } catch (const ExportError &e) {
        CHECK(e.code() == Code::io_error);
        what = e.what();
      }
    }
    CHECK(entries(t.path).empty());
    return what;
  };
  CHECK(message(Call::write, 1, ENOSPC) == "write '" + temp + "': No space left on device");
  CHECK(message(Call::write, 2, EIO) == "write '" + temp + "': Input/output error");
  CHECK(message(Call::openat, 1, EACCES) == "create '" + temp + "': Permission denied");
  CHECK(message(Call::fsync, 1, EIO) == "fsync '" + temp + "': Input/output error");
  CHECK(message(Call::close, 1, EIO) == "close '" + temp + "': Input/output error");
  CHECK(message(Call::renameat, 1, EACCES) ==
        "rename '" + temp + "' to '" + t.path + "/orders-1.csv': Permission denied");
  CHECK(message(Call::fsync, 2, EIO) == "fsync folder '" + t.path + "': Input/output error");
  CHECK(message(Call::open_dir, 1, EACCES) == "cannot open output folder '" + t.path + "': Permission denied");
  CHECK(message(Call::mkdir, 1, ENOSPC) == "cannot open output folder '" + t.path + "': No space left on device");
}

// Counts fsync calls; those made by another thread than the test's fail with err when err != 0.
struct SyncWatchFs : FileSystem {
  std::thread::id test_thread = std::this_thread::get_id();
  std::atomic<int> calls{0};
  std::atomic<int> from_other_threads{0};
  int err = 0;
  int fsync(int fd) override {
    ++calls;
    if (std::this_thread::get_id() != test_thread) {
      ++from_other_threads;
      if (err != 0) {
        errno = err;
        return -1;
      }
    }
    return FileSystem::fsync(fd);
  }
};

// Wait (up to 10 s) until the syncer thread has called fsync at least n times.
bool background_syncs(const SyncWatchFs &fs, int n) {
  for (int i = 0; i < 1000 && fs.from_other_threads.load() < n; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return fs.from_other_threads.load() >= n;
}

TEST_CASE("output: a large file is fsynced in the background while it is written", "[output]") {
  TempDir t;
  const std::string piece(size_t{1} << 20, 'x');
  {
    SyncWatchFs watch;
    Installed use(&watch);
    OutputDir d(t.path);
    OutputFile f(d, "big.csv", "t", codec_of(false));
    for (int i = 0; i < 40; ++i) f.write(piece);  // 40 MiB: background fsyncs asked for at 16 and 32
    REQUIRE(background_syncs(watch, 1));  // on the syncer thread, while the file is still open
    f.finish();
    CHECK(watch.calls.load() == watch.from_other_threads.load() + 1);  // then finish()'s own
    f.publish();
    CHECK(read_file(t.path + "/big.csv").size() == size_t{40} << 20);
  }
  {
    SyncWatchFs small;
    Installed use(&small);
    OutputDir d(t.path);
    OutputFile g(d, "small.csv", "t", codec_of(false));
    g.write(std::string(size_t{3} << 20, 'y'));
    g.commit();
    CHECK(small.from_other_threads.load() == 0);  // a small file starts no syncer
    CHECK(small.calls.load() == 2);              // the file's fsync, then the folder's
  }
}

TEST_CASE("output: a failed background fsync fails the file and leaves nothing", "[output]") {
  TempDir t;
  const std::string temp = t.path + "/.orders-1.csv.abc.tmp";
  const std::string piece(size_t{1} << 20, 'x');
  // after_failure: MiB written once the failed background fsync has happened (one request at
  // 16 MiB before it); 0 leaves the error to finish(), 16 reaches the next request.
  for (int after_failure : {0, 16}) {
    CAPTURE(after_failure);
    SyncWatchFs watch;
    watch.err = EIO;
    std::string what = "(no error)";
    bool in_commit = false;
    {
      Installed use(&watch);
      try {
        OutputDir d(t.path);
        OutputFile f(d, "orders-1.csv", "abc", codec_of(false));
        for (int i = 0; i < 17; ++i) f.write(piece);
        REQUIRE(background_syncs(watch, 1));
        for (int i = 0; i < after_failure; ++i) f.write(piece);
        in_commit = true;
        f.commit();
      } catch (const ExportError &e) {
        CHECK(e.code() == Code::io_error);
        what = e.what();
      }
    }
    CHECK(in_commit == (after_failure == 0));  // which path reported it
    CHECK(what == "fsync '" + temp + "': Input/output error");
    CHECK(entries(t.path).empty());
  }
}

TEST_CASE("output: every failing system call gives io_error and leaves no file", "[output][fault]") {
  TempDir t;
  std::string dir = t.path + "/out";
  std::string data = random_bytes(3'300'000, 4);  // several buffers, compressed or not
  const int fds_before = open_fds();
  struct Mode {
    Call kind;
    bool persistent;
    int err;
  };
  std::vector<Mode> modes;
  for (Call c : {Call::any, Call::open_dir, Call::mkdir, Call::openat, Call::write, Call::fsync, Call::close,
                 Call::renameat, Call::unlinkat})
    for (bool persistent : {false, true}) modes.push_back({c, persistent, ENOSPC});
  for (int err : {EIO, EACCES}) {
    modes.push_back({Call::any, false, err});
    modes.push_back({Call::any, true, err});
  }
  int failures_seen = 0;
  for (const Mode &m : modes) {
    for (Compression kind : {Compression::none, Compression::gzip, Compression::zstd}) {
      for (int n = 1;; ++n) {
        CAPTURE(call_name(m.kind), m.persistent, m.err, compression_name(kind), n);
        REQUIRE(n < 100);
        FaultFs f;
        f.kind = m.kind;
        f.nth = n;
        f.persistent = m.persistent;
        f.err = m.err;
        bool threw = false;
        {
          Installed use(&f);
          try {
            scenario(dir, data, kind);
          } catch (const ExportError &e) {
            threw = true;
            CHECK(e.code() == Code::io_error);
            CHECK_THAT(e.what(), Catch::EndsWith(std::string(": ") + std::strerror(m.err)));
            CHECK_THAT(e.what(), Catch::Contains("'" + dir));
          }
        }
        CHECK(open_fds() == fds_before);
        if (!f.fired) {
          CHECK_FALSE(threw);
          std::string disk = read_file(dir + "/orders-1.csv");
          CHECK(decoded(kind, disk) == data);
          fs::remove(dir + "/orders-1.csv");
          break;
        }
        if (!threw) {
          // Only closing the folder's descriptor, after the commit, has nobody to report to.
          CHECK(f.first_failed == Call::close);
          CHECK(entries(dir) == std::set<std::string>{"orders-1.csv"});
          fs::remove(dir + "/orders-1.csv");
          continue;
        }
        ++failures_seen;
        if (m.persistent && (m.kind == Call::any || m.kind == Call::unlinkat)) {
          // The unlink failed too; what is left is what recovery removes.
          if (fs::exists(dir)) {
            OutputDir d(dir);
            d.remove_temporaries([](const std::string &tag) { return tag == "tag1"; });
            d.remove_file("orders-1.csv");
          }
        }
        CHECK(entries(dir).empty());
      }
    }
  }
  CHECK(failures_seen > 50);
}

TEST_CASE("output: a zstd context kept from an abandoned or finished file starts the next one clean", "[output]") {
  TempDir t;
  OutputDir d(t.path);
  std::string data;
  for (int i = 0; data.size() < 2'000'000; ++i) data += "row," + std::to_string(i * 31) + ",text\n";
  for (int level : {1, 19}) {
    CAPTURE(level);
    {
      OutputFile a(d, "a.zst", "t", Codec{Compression::zstd, level});
      a.write(std::string_view(data).substr(0, 1'500'000));  // mid-frame, then abandoned
      a.discard();
    }
    for (int n = 0; n < 3; ++n) {  // the next files reuse the context: each a whole frame
      std::string part = data.substr(static_cast<size_t>(n) * 1000, 700'000);
      OutputFile b(d, "b" + std::to_string(n) + ".zst", "t", Codec{Compression::zstd, level});
      b.write(part);
      b.commit();
      CHECK(unzstd(read_file(t.path + "/b" + std::to_string(n) + ".zst")) == part);
    }
  }
  release_compression_cache();
}
