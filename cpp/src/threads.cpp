#include "rnnkit/threads.hpp"

#include <unistd.h>

#include <Eigen/Core>
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>
#ifdef RNNKIT_USE_OPENBLAS
#include <cblas.h>
#endif

#include "parallel.hpp"

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
// so the workers are started once and wait on a condition variable between calls. One call
// uses the pool at a time; a call that finds it busy (another thread's call, or a call made
// from inside a part) starts threads of its own, as before.
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
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      run_ = run;
      context_ = context;
      parts_ = parts;
      claimed_ = 1;
      remaining_ = parts;
      ++generation_;
    }
    wake_.notify_all();
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
    done_.wait(lock, [&] { return remaining_ == 0; });
    return true;
  }

  static Pool& instance() {
    static std::atomic<Pool*> pool{nullptr};
    static std::mutex creating;
    Pool* current = pool.load();
    if (current == nullptr || current->pid_ != getpid()) {
      const std::lock_guard<std::mutex> lock(creating);
      current = pool.load();
      if (current == nullptr || current->pid_ != getpid()) {
        current = new Pool();  // a forked child's: the parent's pool stays, unused
        pool.store(current);
      }
    }
    return *current;
  }

 private:
  Pool() : pid_(getpid()) {}

  static void run_part(detail::PartFunction run, void* context, Index part) {
    inside_part_ = true;
    run(context, part);
    inside_part_ = false;
  }

  // With mutex_ held: one part done; the last one wakes the caller.
  void finish_part(std::unique_lock<std::mutex>& lock) {
    if (--remaining_ == 0) {
      lock.unlock();
      done_.notify_one();
      lock.lock();
    }
  }

  // Called by the pool's user before it starts a generation: a new worker waits for the next.
  void start_workers(Index wanted) {
    while (workers_ < wanted) {
      try {
        std::thread([this, seen = generation_] { work(seen); }).detach();
      } catch (const std::system_error&) {
        return;  // no thread to be had: the caller runs the parts the workers cannot
      }
      ++workers_;
    }
  }

  void work(std::uint64_t seen) {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_.wait(lock, [&] { return generation_ != seen; });
      seen = generation_;
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

  const pid_t pid_;
  std::mutex busy_;  // held by the call using the pool
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::uint64_t generation_ = 0;
  detail::PartFunction run_ = nullptr;
  void* context_ = nullptr;
  Index parts_ = 0, claimed_ = 0, remaining_ = 0;
  Index workers_ = 0;
  static thread_local bool inside_part_;
};

thread_local bool Pool::inside_part_ = false;

}  // namespace

void set_num_threads(int threads) { thread_count = std::max(1, threads); }

int num_threads() { return thread_count; }

namespace detail {

bool run_parts_on_pool(Index parts, PartFunction run, void* context) {
  return Pool::instance().run(parts, run, context);
}

}  // namespace detail

}  // namespace rnnkit
