// readahead.cpp: a VFS shim for the extension's reader connections.
//
// Why: SQLite reads a table page by page, one pread() of 4 KiB each. Scanning a 250 MB table
// is then some 60,000 system calls, and in a virtual machine their entry and exit cost about
// as much as the copy: a seventh of a reader's CPU. Through this shim a read of the main
// database file that misses is answered by reading the 256 KiB from its offset in one call,
// and the following page reads are copied from that block.
//
// Why it is safe (guarantee 3, one snapshot): the block is kept only while no lock, shared
// memory, write, sync or file-control call happens on the file: every such call empties it,
// so a block never outlives the locks under which it was read.
//   - Rollback-journal mode: a reader holds a SHARED lock for its whole transaction; no writer
//     can change the database file meanwhile, and the lock calls at its start and end empty
//     the block.
//   - WAL mode: a read transaction starts with xShmLock on a read-mark slot (which empties the
//     block) and then sees frames up to its mark M. A checkpoint copies into the database file
//     only pages whose frames are at most the smallest mark of the active readers (<= M), and
//     such a page is read by this reader from the WAL, never from the file. So the file's bytes
//     of every page this reader takes from the file do not change until it ends: a block read
//     inside the transaction stays true for it. Pages in the block that the reader would take
//     from the WAL are never asked of the file.
// Only reads of the main database file go through blocks; the WAL, journals and temporary
// files pass straight through. Only SQLite's own unix VFSes are wrapped: a custom VFS (say,
// one that decrypts page by page) may expect page-sized reads, so readers use it unchanged.
// A miss that is larger than a quarter block, that would reach past the end of the file, or
// whose block read fails is passed through as it is, so SQLite sees the base VFS's own
// answer (short reads included).
#include "readahead.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <new>

#include "common.h"
#include "errors.h"

namespace sqlexport {

namespace {

constexpr sqlite3_int64 kBlock = 256 * 1024;

std::atomic<uint64_t> g_fills{0};
std::atomic<uint64_t> g_served{0};

struct ShimVfs {
  sqlite3_vfs vfs{};  // what SQLite sees; pAppData points back here
  sqlite3_vfs *base = nullptr;
  std::string name;
};

struct ShimFile {
  sqlite3_file file;   // first: SQLite's handle; pMethods is one of kMethods
  sqlite3_file *real;  // the base VFS's file, in the same allocation right after this struct
  bool main_db;        // reads go through blocks
  char *block;         // kBlock bytes (sqlite3_malloc64), allocated at the first fill
  sqlite3_int64 block_off;
  sqlite3_int64 block_len;  // valid bytes; 0: empty
};

ShimFile *shim(sqlite3_file *f) { return reinterpret_cast<ShimFile *>(f); }
sqlite3_file *real(sqlite3_file *f) { return shim(f)->real; }
// Empty the block and return the base file (every method but xRead and xFileSize does this).
sqlite3_file *forget(sqlite3_file *f) {
  shim(f)->block_len = 0;
  return shim(f)->real;
}

int x_close(sqlite3_file *f) {
  ShimFile *s = shim(f);
  int rc = s->real->pMethods->xClose(s->real);
  sqlite3_free(s->block);
  s->block = nullptr;
  s->block_len = 0;
  return rc;
}

int x_read(sqlite3_file *f, void *out, int amount, sqlite3_int64 offset) {
  ShimFile *s = shim(f);
  sqlite3_file *r = s->real;
  if (s->block_len > 0 && offset >= s->block_off && offset + amount <= s->block_off + s->block_len) {
    std::memcpy(out, s->block + (offset - s->block_off), static_cast<size_t>(amount));
    g_served.fetch_add(1, std::memory_order_relaxed);
    return SQLITE_OK;
  }
  s->block_len = 0;
  if (!s->main_db || amount <= 0 || amount > kBlock / 4) return r->pMethods->xRead(r, out, amount, offset);
  sqlite3_int64 size = 0;
  if (r->pMethods->xFileSize(r, &size) != SQLITE_OK) return r->pMethods->xRead(r, out, amount, offset);
  sqlite3_int64 len = std::min(kBlock, size - offset);
  if (len < amount) return r->pMethods->xRead(r, out, amount, offset);
  if (!s->block) {
    s->block = static_cast<char *>(sqlite3_malloc64(kBlock));
    if (!s->block) return r->pMethods->xRead(r, out, amount, offset);
  }
  if (r->pMethods->xRead(r, s->block, static_cast<int>(len), offset) != SQLITE_OK)
    return r->pMethods->xRead(r, out, amount, offset);
  s->block_off = offset;
  s->block_len = len;
  g_fills.fetch_add(1, std::memory_order_relaxed);
  std::memcpy(out, s->block, static_cast<size_t>(amount));
  return SQLITE_OK;
}

int x_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off) {
  sqlite3_file *r = forget(f);
  return r->pMethods->xWrite(r, p, n, off);
}
int x_truncate(sqlite3_file *f, sqlite3_int64 size) {
  sqlite3_file *r = forget(f);
  return r->pMethods->xTruncate(r, size);
}
int x_sync(sqlite3_file *f, int flags) {
  sqlite3_file *r = forget(f);
  return r->pMethods->xSync(r, flags);
}
int x_file_size(sqlite3_file *f, sqlite3_int64 *size) {
  sqlite3_file *r = real(f);
  return r->pMethods->xFileSize(r, size);
}
int x_lock(sqlite3_file *f, int level) {
  sqlite3_file *r = forget(f);
  return r->pMethods->xLock(r, level);
}
int x_unlock(sqlite3_file *f, int level) {
  sqlite3_file *r = forget(f);
  return r->pMethods->xUnlock(r, level);
}
int x_check_reserved(sqlite3_file *f, int *out) {
  sqlite3_file *r = forget(f);
  return r->pMethods->xCheckReservedLock(r, out);
}
int x_file_control(sqlite3_file *f, int op, void *arg) {
  sqlite3_file *r = forget(f);
  return r->pMethods->xFileControl(r, op, arg);
}
int x_sector_size(sqlite3_file *f) {
  sqlite3_file *r = real(f);
  return r->pMethods->xSectorSize(r);
}
int x_device_characteristics(sqlite3_file *f) {
  sqlite3_file *r = real(f);
  return r->pMethods->xDeviceCharacteristics(r);
}
int x_shm_map(sqlite3_file *f, int region, int size, int extend, void volatile **p) {
  sqlite3_file *r = forget(f);
  return r->pMethods->xShmMap(r, region, size, extend, p);
}
int x_shm_lock(sqlite3_file *f, int offset, int n, int flags) {
  sqlite3_file *r = forget(f);
  return r->pMethods->xShmLock(r, offset, n, flags);
}
void x_shm_barrier(sqlite3_file *f) {
  sqlite3_file *r = forget(f);
  r->pMethods->xShmBarrier(r);
}
int x_shm_unmap(sqlite3_file *f, int del) {
  sqlite3_file *r = forget(f);
  return r->pMethods->xShmUnmap(r, del);
}
int x_fetch(sqlite3_file *f, sqlite3_int64 off, int amount, void **pp) {
  sqlite3_file *r = forget(f);
  return r->pMethods->xFetch(r, off, amount, pp);
}
int x_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p) {
  sqlite3_file *r = forget(f);
  return r->pMethods->xUnfetch(r, off, p);
}

// One method table per io_methods version of the base file: SQLite calls only what the
// version has.
const sqlite3_io_methods kMethods[3] = {
    {1, x_close, x_read, x_write, x_truncate, x_sync, x_file_size, x_lock, x_unlock, x_check_reserved, x_file_control,
     x_sector_size, x_device_characteristics, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr},
    {2, x_close, x_read, x_write, x_truncate, x_sync, x_file_size, x_lock, x_unlock, x_check_reserved, x_file_control,
     x_sector_size, x_device_characteristics, x_shm_map, x_shm_lock, x_shm_barrier, x_shm_unmap, nullptr, nullptr},
    {3, x_close, x_read, x_write, x_truncate, x_sync, x_file_size, x_lock, x_unlock, x_check_reserved, x_file_control,
     x_sector_size, x_device_characteristics, x_shm_map, x_shm_lock, x_shm_barrier, x_shm_unmap, x_fetch, x_unfetch},
};

sqlite3_vfs *base_of(sqlite3_vfs *v) { return static_cast<ShimVfs *>(v->pAppData)->base; }

int v_open(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags, int *out_flags) {
  ShimFile *s = shim(f);
  s->file.pMethods = nullptr;
  s->real = reinterpret_cast<sqlite3_file *>(s + 1);
  s->main_db = (flags & SQLITE_OPEN_MAIN_DB) != 0;
  s->block = nullptr;
  s->block_off = 0;
  s->block_len = 0;
  sqlite3_vfs *b = base_of(v);
  std::memset(s->real, 0, static_cast<size_t>(b->szOsFile));
  int rc = b->xOpen(b, name, s->real, flags, out_flags);
  // The base may set pMethods even when it fails; then xClose must still reach it.
  if (s->real->pMethods) {
    int version = std::clamp(s->real->pMethods->iVersion, 1, 3);
    s->file.pMethods = &kMethods[version - 1];
  }
  return rc;
}
int v_delete(sqlite3_vfs *v, const char *name, int sync_dir) { return base_of(v)->xDelete(base_of(v), name, sync_dir); }
int v_access(sqlite3_vfs *v, const char *name, int flags, int *out) {
  return base_of(v)->xAccess(base_of(v), name, flags, out);
}
int v_full_pathname(sqlite3_vfs *v, const char *name, int n, char *out) {
  return base_of(v)->xFullPathname(base_of(v), name, n, out);
}
void *v_dl_open(sqlite3_vfs *v, const char *name) { return base_of(v)->xDlOpen(base_of(v), name); }
void v_dl_error(sqlite3_vfs *v, int n, char *out) { base_of(v)->xDlError(base_of(v), n, out); }
void (*v_dl_sym(sqlite3_vfs *v, void *h, const char *sym))(void) { return base_of(v)->xDlSym(base_of(v), h, sym); }
void v_dl_close(sqlite3_vfs *v, void *h) { base_of(v)->xDlClose(base_of(v), h); }
int v_randomness(sqlite3_vfs *v, int n, char *out) { return base_of(v)->xRandomness(base_of(v), n, out); }
int v_sleep(sqlite3_vfs *v, int us) { return base_of(v)->xSleep(base_of(v), us); }
int v_current_time(sqlite3_vfs *v, double *out) { return base_of(v)->xCurrentTime(base_of(v), out); }
int v_get_last_error(sqlite3_vfs *v, int n, char *out) {
  return base_of(v)->xGetLastError ? base_of(v)->xGetLastError(base_of(v), n, out) : 0;
}
int v_current_time_int64(sqlite3_vfs *v, sqlite3_int64 *out) {
  return base_of(v)->xCurrentTimeInt64(base_of(v), out);
}
int v_set_system_call(sqlite3_vfs *v, const char *name, sqlite3_syscall_ptr p) {
  return base_of(v)->xSetSystemCall(base_of(v), name, p);
}
sqlite3_syscall_ptr v_get_system_call(sqlite3_vfs *v, const char *name) {
  return base_of(v)->xGetSystemCall(base_of(v), name);
}
const char *v_next_system_call(sqlite3_vfs *v, const char *name) {
  return base_of(v)->xNextSystemCall(base_of(v), name);
}

bool is_unix_vfs(const char *name) {
  static const char *const kNames[] = {"unix", "unix-none", "unix-dotfile", "unix-excl"};
  return std::any_of(std::begin(kNames), std::end(kNames), [&](const char *n) { return std::strcmp(n, name) == 0; });
}

}  // namespace

std::string readahead_vfs(const std::string &base_name) {
  sqlite3_vfs *base = sqlite3_vfs_find(base_name.empty() ? nullptr : base_name.c_str());
  if (!base || !base->zName || !is_unix_vfs(base->zName) || base->iVersion < 3) return "";
  std::string name = std::string("sqlite-export-readahead-") + base->zName;
  // Registered once per base, never unregistered (the module stays mapped: -z nodelete).
  static std::mutex mu;
  static auto *shims = new std::map<std::string, std::unique_ptr<ShimVfs>>;  // leaked: VFSes outlive exit
  std::lock_guard<std::mutex> lock(mu);
  if (shims->count(name)) return name;
  auto s = std::make_unique<ShimVfs>();
  s->base = base;
  s->name = name;
  sqlite3_vfs &v = s->vfs;
  v.iVersion = 3;
  v.szOsFile = static_cast<int>(sizeof(ShimFile)) + base->szOsFile;
  v.mxPathname = base->mxPathname;
  v.zName = s->name.c_str();
  v.pAppData = s.get();
  v.xOpen = v_open;
  v.xDelete = v_delete;
  v.xAccess = v_access;
  v.xFullPathname = v_full_pathname;
  v.xDlOpen = v_dl_open;
  v.xDlError = v_dl_error;
  v.xDlSym = v_dl_sym;
  v.xDlClose = v_dl_close;
  v.xRandomness = v_randomness;
  v.xSleep = v_sleep;
  v.xCurrentTime = v_current_time;
  v.xGetLastError = v_get_last_error;
  v.xCurrentTimeInt64 = v_current_time_int64;
  v.xSetSystemCall = v_set_system_call;
  v.xGetSystemCall = v_get_system_call;
  v.xNextSystemCall = v_next_system_call;
  int rc = sqlite3_vfs_register(&v, 0);
  if (rc != SQLITE_OK) throw SqliteError(rc, "cannot register the read-ahead VFS");
  (*shims)[name] = std::move(s);
  return name;
}

ReadaheadStats readahead_stats_for_testing() noexcept {
  return {g_fills.load(std::memory_order_relaxed), g_served.load(std::memory_order_relaxed)};
}

}  // namespace sqlexport
