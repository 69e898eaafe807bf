// One object per process, for the core's process-wide state (the worker pool, the buffer cache).
#pragma once

#include <unistd.h>

#include <atomic>
#include <mutex>

namespace rnnkit::detail {

// The process's one T, made on first use and never destroyed (detached workers and arrays
// still alive may use it while the process exits). A child made by fork() makes a T of its
// own: the parent's threads, and any lock they held at the fork, do not exist in the child.
// The parent's T is left as it was.
template <typename T>
T& per_process() {
  struct Owned {
    pid_t pid;
    T object;
  };
  static std::atomic<Owned*> current{nullptr};
  static std::mutex creating;
  Owned* owned = current.load(std::memory_order_acquire);
  if (owned == nullptr || owned->pid != getpid()) {
    const std::lock_guard<std::mutex> lock(creating);
    owned = current.load(std::memory_order_acquire);
    if (owned == nullptr || owned->pid != getpid()) {
      owned = new Owned{getpid(), {}};
      current.store(owned, std::memory_order_release);
    }
  }
  return owned->object;
}

}  // namespace rnnkit::detail
