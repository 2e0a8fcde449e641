// failing_malloc.h: SQLite's allocator (SQLITE_CONFIG_MALLOC) wrapped so that a test can make
// the Nth allocation fail, once or from then on, counting only the allocations of the test's
// own thread or only those of the other threads (the extension's workers).
#pragma once
#include <sqlite3.h>

#include <execinfo.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <thread>

namespace security {

enum class Whose { main_thread, other_threads };

struct MallocFaults {
  std::atomic<bool> armed{false};
  std::atomic<long> countdown{0};  // the allocation that fails is the one that brings it to 0
  std::atomic<bool> persistent{false};
  std::atomic<long> counted{0};    // allocations counted since arm()
  std::atomic<long> failed{0};     // allocations failed since arm()
  std::atomic<Whose> whose{Whose::main_thread};
  std::thread::id main_id;
};

inline MallocFaults &malloc_faults() {
  static MallocFaults f;
  return f;
}

inline sqlite3_mem_methods &default_mem() {
  static sqlite3_mem_methods m{};
  return m;
}

// True when this allocation must fail.
inline bool fail_now() {
  MallocFaults &f = malloc_faults();
  if (!f.armed.load(std::memory_order_acquire)) return false;
  bool main = std::this_thread::get_id() == f.main_id;
  if (main != (f.whose.load() == Whose::main_thread)) return false;
  f.counted.fetch_add(1);
  long left = f.countdown.fetch_sub(1) - 1;
  if (left == 0 || (left < 0 && f.persistent.load())) {
    f.failed.fetch_add(1);
    // SECURITY_NOMEM_TRACE=1: print where each failing allocation was made (to reproduce a finding).
    static const bool trace = std::getenv("SECURITY_NOMEM_TRACE") != nullptr;
    if (trace) {
      void *frames[40];
      int n = ::backtrace(frames, 40);
      static const char kHead[] = "--- failing SQLite allocation:\n";
      if (::write(2, kHead, sizeof kHead - 1) < 0) return true;
      ::backtrace_symbols_fd(frames, n, 2);
    }
    return true;
  }
  return false;
}

inline void *failing_malloc(int n) { return fail_now() ? nullptr : default_mem().xMalloc(n); }
inline void *failing_realloc(void *p, int n) {
  // A failed realloc leaves the old block as it was.
  return fail_now() ? nullptr : default_mem().xRealloc(p, n);
}

// Install the wrapper; must run before sqlite3_initialize(). Returns false if SQLite refused.
inline bool install_failing_malloc() {
  if (sqlite3_config(SQLITE_CONFIG_GETMALLOC, &default_mem()) != SQLITE_OK) return false;
  sqlite3_mem_methods m = default_mem();
  m.xMalloc = failing_malloc;
  m.xRealloc = failing_realloc;
  malloc_faults().main_id = std::this_thread::get_id();
  return sqlite3_config(SQLITE_CONFIG_MALLOC, &m) == SQLITE_OK;
}

// Fail the nth allocation (1-based) of `whose` from now on (nth = 0: only count).
inline void arm_malloc_faults(Whose whose, long nth, bool persistent) {
  MallocFaults &f = malloc_faults();
  f.armed.store(false);
  f.whose = whose;
  f.countdown.store(nth > 0 ? nth : -(1L << 40));
  f.persistent.store(persistent);
  f.counted.store(0);
  f.failed.store(0);
  f.armed.store(true, std::memory_order_release);
}

inline void disarm_malloc_faults() { malloc_faults().armed.store(false, std::memory_order_release); }

}  // namespace security
