// worker.h: one worker thread of a Service, with its own two connections.
//
// control: claims runs (BEGIN IMMEDIATE), writes heartbeats, status and file records.
// reader:  query_only; reads one run's rows in one read transaction (the snapshot).
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

namespace sqlexport {

class Service;

class Worker {
 public:
  Worker(Service &service, int index);  // starts the thread
  ~Worker();                            // request_stop() and join
  Worker(const Worker &) = delete;
  Worker &operator=(const Worker &) = delete;
  void request_stop() noexcept;

 private:
  void main() noexcept;
  Service &service_;
  int index_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// For tests: how many chunks of parallel runs the extra readers (not the worker's own reader)
// have read in this process, so a test can tell that a run really was read in parallel.
uint64_t extra_reader_chunks_for_testing() noexcept;

}  // namespace sqlexport
