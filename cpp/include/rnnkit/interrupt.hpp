// Stopping a long call between time steps. A host that wants its calls to be stoppable
// installs a flag for the calling thread (ScopedInterruptFlag) and sets it when the call
// should stop, from a signal handler if need be: a lock-free atomic store is signal-safe.
// The recurrent kernels check the flag once per time step and throw rnnkit::Interrupted;
// the core's worker threads check the flag of the thread that started the call. A call
// that throws Interrupted leaves its outputs unspecified, and its inputs untouched.
#pragma once

#include <atomic>
#include <exception>

namespace rnnkit {

// Visible by default, so that a caller in another shared library (built with hidden
// visibility) still catches it by type.
#if defined(__GNUC__) || defined(__clang__)
#define RNNKIT_EXCEPTION_VISIBILITY __attribute__((visibility("default")))
#else
#define RNNKIT_EXCEPTION_VISIBILITY
#endif
struct RNNKIT_EXCEPTION_VISIBILITY Interrupted : std::exception {
  const char* what() const noexcept override { return "rnnkit: the call was interrupted"; }
};

namespace detail {
inline thread_local const std::atomic<bool>* interrupt_flag = nullptr;
}  // namespace detail

// The calling thread's flag (or null: calls cannot be interrupted) for the scope's lifetime.
class ScopedInterruptFlag {
 public:
  explicit ScopedInterruptFlag(const std::atomic<bool>* flag) noexcept
      : previous_(detail::interrupt_flag) {
    detail::interrupt_flag = flag;
  }
  ~ScopedInterruptFlag() { detail::interrupt_flag = previous_; }
  ScopedInterruptFlag(const ScopedInterruptFlag&) = delete;
  ScopedInterruptFlag& operator=(const ScopedInterruptFlag&) = delete;

 private:
  const std::atomic<bool>* previous_;
};

inline const std::atomic<bool>* current_interrupt_flag() noexcept { return detail::interrupt_flag; }

// Throws Interrupted if the calling thread's flag is set.
inline void check_interrupt() {
  const std::atomic<bool>* flag = detail::interrupt_flag;
  if (flag != nullptr && flag->load(std::memory_order_relaxed)) throw Interrupted();
}

}  // namespace rnnkit
