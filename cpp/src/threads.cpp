#include "rnnkit/threads.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>
#ifdef RNNKIT_USE_OPENBLAS
#include <cblas.h>
#endif
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#endif

#include "parallel.hpp"
#include "rnnkit/per_process.hpp"

namespace rnnkit {

namespace {
// BLAS and Eigen stay single-threaded: every product runs inside one of the core's own
// pieces of work (see threads.hpp). OpenBLAS's own pool synchronises on every call, which
// on a loaded 2-core machine made a fit epoch 50x slower than one thread.
int init_num_threads() {
#ifdef RNNKIT_USE_OPENBLAS
  scipy_openblas_set_num_threads(1);
#endif
  Eigen::setNbThreads(1);
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

std::atomic<int> thread_count{init_num_threads()};  // set when the library loads

// The workers that run the parts of a split call. Starting a thread costs 100-250 us on the
// machines this was measured on, as long as a whole LSTM step at batch 32 and 8 time steps,
// so the workers are started once. Between calls a worker first spins for a while, then
// sleeps on a condition variable: waking a sleeping thread took 50 us and more on the
// virtual machines measured (an inter-processor interrupt to an idle virtual CPU), longer
// than many a call's share of work, so calls that follow each other closely (a time loop
// after its input projection, the steps of fit) find the worker awake. OpenMP runtimes
// (PyTorch's libgomp among them) spin in the same way before they sleep. One call uses the
// pool at a time; a call that finds it busy (another thread's call, or a call made from
// inside a part) starts threads of its own, as before.
//
// The pool is never destroyed: its detached workers sleep until the process ends, so exit
// never waits on them. A child process made by fork() has none of its parent's threads, so
// it makes a pool of its own (the parent's is left as it is).
class Pool {
 public:
  // Runs run(context, part) for part in [0, parts): part 0 on the calling thread, the others
  // on the workers (or on the caller, if it gets to them first). False if the pool is busy.
  bool run(Index parts, detail::PartFunction run, void* context) {
    if (inside_part_) return false;  // a call from inside a part: the pool is this call's caller's
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    start_workers(parts - 1);
    bool sleepers;
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      run_ = run;
      context_ = context;
      parts_ = parts;
      claimed_ = 1;
      remaining_ = parts;
      generation_.fetch_add(1, std::memory_order_release);
      sleepers = sleeping_ > 0;
    }
    if (sleepers) wake_.notify_all();
    run_part(run, context, 0);
    std::unique_lock<std::mutex> lock(mutex_);
    finish_part(lock);
    while (claimed_ < parts_) {  // parts no worker has taken yet
      const Index part = claimed_++;
      lock.unlock();
      run_part(run, context, part);
      lock.lock();
      finish_part(lock);
    }
    if (remaining_.load(std::memory_order_relaxed) != 0) {  // a worker is still at its part
      lock.unlock();
      const bool done = spin_until([&] { return remaining_.load(std::memory_order_acquire) == 0; });
      lock.lock();
      if (!done) {
        caller_sleeping_ = true;
        done_.wait(lock, [&] { return remaining_.load(std::memory_order_relaxed) == 0; });
        caller_sleeping_ = false;
      }
    }
    return true;
  }

 private:
  static void run_part(detail::PartFunction run, void* context, Index part) {
    inside_part_ = true;
    run(context, part);
    inside_part_ = false;
  }

  // With mutex_ held: one part done; the last one wakes the caller if it sleeps.
  void finish_part(std::unique_lock<std::mutex>& lock) {
    if (remaining_.fetch_sub(1, std::memory_order_release) == 1 && caller_sleeping_) {
      lock.unlock();
      done_.notify_one();
      lock.lock();
    }
  }

  // Called by the pool's user before it starts a generation: a new worker waits for the next.
  void start_workers(Index wanted) {
    while (workers_ < wanted) {
      try {
        std::thread([this, seen = generation_.load()] { work(seen); }).detach();
      } catch (const std::system_error&) {
        return;  // no thread to be had: the caller runs the parts the workers cannot
      }
      ++workers_;
    }
  }

  // Polls ready() for up to kSpin, yielding the core now and then; true as soon as it holds,
  // false if it never did.
  template <typename Ready>
  static bool spin_until(Ready&& ready) {
    using Clock = std::chrono::steady_clock;
    const Clock::time_point deadline = Clock::now() + kSpin;
    for (;;) {
      for (int k = 0; k < 64; ++k) {
        if (ready()) return true;
#if defined(__x86_64__) || defined(_M_X64)
        _mm_pause();
#endif
      }
      if (Clock::now() >= deadline) return false;
      std::this_thread::yield();  // a thread that needs this core gets it
    }
  }

  void work(std::uint64_t seen) {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      if (generation_.load(std::memory_order_relaxed) == seen) {
        lock.unlock();
        const bool woke = spin_until([&] { return generation_.load(std::memory_order_acquire) != seen; });
        lock.lock();
        if (!woke) {
          ++sleeping_;  // under mutex_, so a caller that starts a generation sees it and notifies
          wake_.wait(lock, [&] { return generation_.load(std::memory_order_relaxed) != seen; });
          --sleeping_;
        }
      }
      seen = generation_.load(std::memory_order_relaxed);
      while (claimed_ < parts_) {
        const Index part = claimed_++;
        const detail::PartFunction run = run_;
        void* context = context_;
        lock.unlock();
        run_part(run, context, part);
        lock.lock();
        finish_part(lock);
      }
    }
  }

  std::mutex busy_;  // held by the call using the pool
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  static constexpr std::chrono::microseconds kSpin{500};
  std::atomic<std::uint64_t> generation_{0};  // written under mutex_; read without it while spinning
  int sleeping_ = 0;  // workers waiting on wake_
  detail::PartFunction run_ = nullptr;
  void* context_ = nullptr;
  Index parts_ = 0, claimed_ = 0;
  std::atomic<Index> remaining_{0};  // parts not yet finished; written under mutex_
  bool caller_sleeping_ = false;     // the caller waits on done_
  Index workers_ = 0;
  static thread_local bool inside_part_;
};

thread_local bool Pool::inside_part_ = false;

}  // namespace

void set_num_threads(int threads) { thread_count = std::max(1, threads); }

int num_threads() { return thread_count; }

namespace detail {

bool run_parts_on_pool(Index parts, PartFunction run, void* context) {
  return detail::per_process<Pool>().run(parts, run, context);
}

}  // namespace detail

}  // namespace rnnkit
