// Buffers for the core's large arrays: outputs and caches (made by the Python binding) and
// the scratch arrays of a call.
//
// glibc serves a request of 128 KiB or more with a fresh mapping and unmaps it on free, so a
// call that makes a 1.6 MiB output faults it in afresh, 4 KiB at a time, zeroed by the
// kernel, every time: more than half of a SimpleRNN forward at batch 32, 100 steps, 128
// units. Buffers this large are therefore kept when freed (up to kBufferCacheBytes in all,
// the longest unused given back first) and handed out again to a request of the same size;
// under AddressSanitizer nothing is kept, so that a use after free is still caught.
//
// Transparent huge pages (madvise) for buffers of 2 MiB and more were tried as well: with the
// cache they gained at most 3%, and where memory was fragmented the first touch of a large
// buffer stalled for half a second and more while the kernel compacted memory for them.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <iterator>
#include <list>
#include <memory>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "rnnkit/per_process.hpp"

namespace rnnkit {

namespace detail {

#if defined(__SANITIZE_ADDRESS__)
#define RNNKIT_ADDRESS_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RNNKIT_ADDRESS_SANITIZER 1
#endif
#endif

constexpr std::size_t kBufferAlignment = 64;
constexpr std::size_t kCachedFrom = std::size_t(1) << 17;  // glibc's mmap threshold
#ifdef RNNKIT_ADDRESS_SANITIZER
constexpr std::size_t kBufferCacheBytes = 0;  // every buffer back to the allocator, which sees a use after free
#else
constexpr std::size_t kBufferCacheBytes = std::size_t(256) << 20;  // free buffers kept, at most
#endif

// The size a request of `bytes` is rounded to: 64 bytes below kCachedFrom, 64 KiB above (so
// that requests of nearly the same size share kept buffers).
inline std::size_t buffer_size(std::size_t bytes) {
  const std::size_t step = bytes < kCachedFrom ? kBufferAlignment : std::size_t(1) << 16;
  return bytes == 0 ? step : (bytes + step - 1) / step * step;
}

inline void* allocate_fresh(std::size_t size) { return std::aligned_alloc(kBufferAlignment, size); }

// Use per_process<BufferCache>(): a child made by fork() has a cache of its own, and a buffer it
// does not know is simply freed.
class BufferCache {
 public:
  // A buffer of `size` bytes (a buffer_size), kept or new; nullptr if none can be had.
  void* take(std::size_t size) {
    void* data = nullptr;
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      auto same = by_size_.find(size);
      if (same != by_size_.end() && !same->second.empty()) {
        data = same->second.back();
        forget(data);
      }
    }
    if (data == nullptr) data = allocate_fresh(size);
    if (data == nullptr) {  // out of memory: give back what is kept, and try once more
      release_all();
      data = allocate_fresh(size);
      if (data == nullptr) return nullptr;
    }
    const std::lock_guard<std::mutex> lock(mutex_);
    live_[data] = size;
    return data;
  }

  // Keeps `data` for reuse if it came from take; false if it did not (the caller frees it).
  bool give(void* data) {
    std::vector<void*> freed;
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      const auto found = live_.find(data);
      if (found == live_.end()) return false;
      const std::size_t size = found->second;
      live_.erase(found);
      if (size > kBufferCacheBytes) {
        freed.push_back(data);
      } else {
        order_.push_back(data);
        kept_[data] = {size, std::prev(order_.end())};
        by_size_[size].push_back(data);
        held_ += size;
        evict_down_to(kBufferCacheBytes, freed);
      }
    }
    for (void* p : freed) std::free(p);
    return true;
  }

 private:
  struct Kept {
    std::size_t size;
    std::list<void*>::iterator position;  // in order_
  };

  // With mutex_ held: `data` is no longer kept.
  void forget(void* data) {
    const auto found = kept_.find(data);
    const std::size_t size = found->second.size;
    order_.erase(found->second.position);
    kept_.erase(found);
    auto& same = by_size_[size];
    same.erase(std::find(same.begin(), same.end(), data));
    held_ -= size;
  }

  // With mutex_ held: the longest-kept buffers leave the cache, into `freed`, until at most
  // `limit` bytes are kept.
  void evict_down_to(std::size_t limit, std::vector<void*>& freed) {
    while (held_ > limit) {
      void* oldest = order_.front();
      forget(oldest);
      freed.push_back(oldest);
    }
  }

  void release_all() {
    std::vector<void*> freed;
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      evict_down_to(0, freed);
    }
    for (void* p : freed) std::free(p);
  }

  std::mutex mutex_;
  std::unordered_map<void*, std::size_t> live_;               // handed out: size
  std::unordered_map<void*, Kept> kept_;                      // kept for reuse
  std::unordered_map<std::size_t, std::vector<void*>> by_size_;  // kept, by size
  std::list<void*> order_;                                    // kept, longest first
  std::size_t held_ = 0;                                      // bytes kept
};

}  // namespace detail

// Memory for `bytes` bytes on a 64-byte boundary; throws
// std::bad_alloc. Give it back with release_buffer.
inline void* allocate_buffer(std::size_t bytes) {
  const std::size_t size = detail::buffer_size(bytes);
  void* data = size < detail::kCachedFrom || detail::kBufferCacheBytes == 0
                   ? detail::allocate_fresh(size)
                   : detail::per_process<detail::BufferCache>().take(size);
  if (data == nullptr) throw std::bad_alloc();
  return data;
}

inline void release_buffer(void* data) {
  if (data == nullptr) return;
  if (detail::kBufferCacheBytes == 0 || !detail::per_process<detail::BufferCache>().give(data)) std::free(data);
}

// An uninitialised array of `size` T's from allocate_buffer.
template <typename T>
class Buffer {
 public:
  Buffer() = default;
  explicit Buffer(Eigen::Index size)
      : data_(static_cast<T*>(allocate_buffer(static_cast<std::size_t>(size) * sizeof(T)))) {}
  T* data() const { return data_.get(); }

 private:
  struct Release {
    void operator()(T* p) const { release_buffer(p); }
  };
  std::unique_ptr<T, Release> data_;
};

}  // namespace rnnkit
