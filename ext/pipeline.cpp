// pipeline.cpp: WritePipeline (see pipeline.h).
#include "pipeline.h"

#include "errors.h"
#include "output.h"
#include "writer.h"

namespace sqlexport {

void WritePipeline::submit(OutputFile *f, std::string &data, int64_t k, const RowWriter *format) {
  std::unique_lock<std::mutex> lock(mu_);
  wait(lock, [&] {
    if (error_ || stopping_) return true;
    if (k == head_) return chunks_[k].size() < kQueued;
    return queued_bytes_ < kAheadBytes;
  });
  if (error_) std::rethrow_exception(error_);
  queued_bytes_ += data.size();
  chunks_[k].push_back({f, std::move(data), false, format});
  data.clear();
  if (!spare_.empty()) {
    data.swap(spare_.back());
    spare_.pop_back();
  }
  cv_.notify_all();
}

void WritePipeline::end_chunk(int64_t k) {
  std::lock_guard<std::mutex> lock(mu_);
  chunks_[k].push_back({nullptr, std::string(), true, nullptr});
  cv_.notify_all();
}

void WritePipeline::drain() {
  std::unique_lock<std::mutex> lock(mu_);
  wait(lock, [&] { return (queued_items() == 0 && !busy_) || error_; });
  if (error_) std::rethrow_exception(error_);
}

void WritePipeline::cancel() noexcept {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!error_) error_ = std::make_exception_ptr(ExportError(Code::interrupted, "the export was stopped"));
  }
  cv_.notify_all();
}

void WritePipeline::stop() noexcept {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    chunks_.clear();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

size_t WritePipeline::queued_items() const {
  size_t n = 0;
  for (const auto &c : chunks_) n += c.second.size();
  return n;
}

void WritePipeline::loop() noexcept {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] {
      if (stopping_) return true;
      auto it = chunks_.find(head_);
      return it != chunks_.end() && !it->second.empty();
    });
    if (stopping_) return;
    auto it = chunks_.find(head_);
    Item item = std::move(it->second.front());
    it->second.pop_front();
    if (item.end) {
      chunks_.erase(it);
      ++head_;
      cv_.notify_all();
      continue;
    }
    queued_bytes_ -= item.data.size();
    if (error_) continue;  // the file is failed or abandoned: write nothing more into it
    busy_ = true;
    lock.unlock();
    std::exception_ptr err;
    try {
      if (item.format) {
        formatted_.clear();
        item.format->write_captured(item.data, formatted_);
        item.file->write(formatted_);
      } else {
        item.file->write(item.data);
      }
      disk_bytes_.store(item.file->size_bytes(), std::memory_order_relaxed);
    } catch (...) {
      err = std::current_exception();
    }
    item.data.clear();
    lock.lock();
    busy_ = false;
    if (err && !error_) error_ = err;
    if (spare_.size() < 2 * kQueued) spare_.push_back(std::move(item.data));
    cv_.notify_all();
  }
}

}  // namespace sqlexport
