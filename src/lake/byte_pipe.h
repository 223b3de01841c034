// A bounded byte queue between a caller's thread and a libcurl transfer
// thread (the HTTP backends stream files through it). Private to the lake.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "comptoir/core/status.h"
#include "comptoir/lake/storage.h"

namespace comptoir::lake {

inline constexpr size_t kPipeBytes = 8 << 20;  // in flight between the caller and a transfer

// A bounded byte queue between a caller thread and a libcurl transfer thread.
class BytePipe {
 public:
  // Blocks while full. Fails once the other side aborted.
  Status Write(std::string_view data) {
    std::unique_lock<std::mutex> lock(mu_);
    while (!data.empty()) {
      cv_.wait(lock, [&] { return size_ < kPipeBytes || !error_.ok(); });
      if (!error_.ok()) return error_;
      size_t n = std::min(data.size(), kPipeBytes - size_);
      chunks_.emplace_back(data.substr(0, n));
      size_ += n;
      data.remove_prefix(n);
      cv_.notify_all();
    }
    return absl::OkStatus();
  }
  // Blocks while empty; 0 at the end (after CloseWrite) or when aborted.
  size_t Read(char* buf, size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return size_ > 0 || closed_ || !error_.ok(); });
    if (!error_.ok() || size_ == 0) return 0;
    size_t done = 0;
    while (done < n && !chunks_.empty()) {
      std::string& front = chunks_.front();
      size_t k = std::min(n - done, front.size() - offset_);
      std::copy_n(front.data() + offset_, k, buf + done);
      done += k;
      offset_ += k;
      if (offset_ == front.size()) {
        chunks_.pop_front();
        offset_ = 0;
      }
    }
    size_ -= done;
    cv_.notify_all();
    return done;
  }
  void CloseWrite() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    cv_.notify_all();
  }
  void Abort(Status s) {
    std::lock_guard<std::mutex> lock(mu_);
    if (error_.ok()) error_ = std::move(s);
    cv_.notify_all();
  }
  bool aborted() {
    std::lock_guard<std::mutex> lock(mu_);
    return !error_.ok();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> chunks_;
  size_t offset_ = 0;
  size_t size_ = 0;
  bool closed_ = false;
  Status error_;
};

// A libcurl CURLOPT_WRITEFUNCTION that feeds a BytePipe (userdata); stops the
// transfer once the reader is gone.
inline size_t PipeWriteCallback(char* p, size_t size, size_t n, void* userdata) {
  auto* pipe = static_cast<BytePipe*>(userdata);
  if (!pipe->Write(std::string_view(p, size * n)).ok()) return 0;
  return size * n;
}

// A file read by a transfer on its own thread: `transfer` writes the bytes
// into the pipe (through PipeWriteCallback) and returns how it ended; Read()
// drains the pipe, then returns that status. Destroying it stops the transfer.
class PipeReadableFile final : public ReadableFile {
 public:
  explicit PipeReadableFile(std::function<Status(BytePipe*)> transfer) {
    thread_ = std::thread([this, transfer = std::move(transfer)] {
      Status s = transfer(&pipe_);
      if (pipe_.aborted()) s = absl::OkStatus();  // the reader left: its own choice, not an error
      pipe_.CloseWrite();
      std::lock_guard<std::mutex> lock(mu_);
      result_ = s;
      finished_ = true;
      done_cv_.notify_all();
    });
  }
  ~PipeReadableFile() override {
    pipe_.Abort(absl::CancelledError("reader closed"));
    thread_.join();
  }
  StatusOr<size_t> Read(char* buf, size_t n) override {
    size_t got = pipe_.Read(buf, n);
    if (got > 0) return got;
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [&] { return finished_; });
    if (!result_.ok()) return result_;
    return size_t{0};
  }

 private:
  BytePipe pipe_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable done_cv_;
  bool finished_ = false;
  Status result_;
};

}  // namespace comptoir::lake
