// Splitting independent work across the core's threads (internal to the core).
#pragma once

#include <algorithm>
#include <exception>
#include <system_error>
#include <thread>
#include <vector>

#include "matmul.hpp"
#include "rnnkit/common.hpp"
#include "rnnkit/interrupt.hpp"
#include "rnnkit/threads.hpp"

namespace rnnkit::detail {

using PartFunction = void (*)(void* context, Index part);

// Runs run(context, part) for every part in [0, parts) on the core's persistent workers,
// part 0 on the calling thread; false (nothing run) if the workers are busy with another
// call (threads.cpp).
bool run_parts_on_pool(Index parts, PartFunction run, void* context);

// Runs fn(begin, end) over contiguous ranges covering [0, count), one per thread, each at
// least `grain` long; the calling thread takes the first range. Returns when all are done
// and rethrows the first exception any of them threw.
template <typename Fn>
void parallel_ranges(Index count, Index grain, Fn&& fn) {
  const Index parts = std::min<Index>(num_threads(), count / std::max<Index>(grain, 1));
  if (parts <= 1) {
    fn(Index(0), count);
    return;
  }
  std::vector<std::exception_ptr> errors(parts);
  const std::atomic<bool>* interrupt_flag = current_interrupt_flag();
  auto run = [&](Index part) {
    ScopedInterruptFlag inherited(interrupt_flag);
    try {
      fn(part * count / parts, (part + 1) * count / parts);
    } catch (...) {
      errors[part] = std::current_exception();
    }
  };
  auto rethrow_first = [&] {
    for (auto& error : errors) {
      if (error) std::rethrow_exception(error);
    }
  };
  if (run_parts_on_pool(parts, [](void* context, Index part) { (*static_cast<decltype(run)*>(context))(part); },
                        &run)) {
    rethrow_first();
    return;
  }
  std::vector<std::thread> workers;  // the pool is busy: threads of this call's own
  workers.reserve(parts - 1);
  for (Index part = 1; part < parts; ++part) {
    try {
      workers.emplace_back(run, part);
    } catch (const std::system_error&) {  // no thread to be had: do it here
      run(part);
    }
  }
  run(0);
  for (auto& worker : workers) worker.join();
  rethrow_first();
}

// A product worth splitting: about 2^22 multiply-adds or more per thread.
inline Index product_grain(Index other_rows, Index depth) {
  return std::max<Index>(1, (Index(1) << 22) / std::max<Index>(1, other_rows * depth));
}

// dst (+)= lhs * rhs with the result split by rows (or, when it has fewer rows than
// columns, by columns) across the threads; each piece is one single-threaded product.
template <typename Dst, typename Lhs, typename Rhs>
void parallel_matmul(const Eigen::MatrixBase<Dst>& result, const Eigen::MatrixBase<Lhs>& lhs,
                     const Eigen::MatrixBase<Rhs>& rhs) {
  auto& dst = const_cast<Eigen::MatrixBase<Dst>&>(result);
  const Index m = dst.rows(), n = dst.cols(), k = lhs.cols();
  if (m >= n) {
    parallel_ranges(m, product_grain(n, k), [&](Index begin, Index end) {
      matmul(dst.middleRows(begin, end - begin), lhs.middleRows(begin, end - begin), rhs);
    });
  } else {
    parallel_ranges(n, product_grain(m, k), [&](Index begin, Index end) {
      matmul(dst.middleCols(begin, end - begin), lhs, rhs.middleCols(begin, end - begin));
    });
  }
}

}  // namespace rnnkit::detail
