// The recurrent product of every time step, h (N, K) times U (K, M), with U packed once per
// call (internal to the core).
//
// A BLAS gemm packs its right-hand side into a layout of its own on every call. In the time
// loop that side is the recurrent kernel, the same matrix at every step, and at batch slices
// of 8-64 rows the packing cost as much as the multiply-adds (each thread re-read all of U
// each step). PackedMatrix packs U once per call, in panels of kPanel columns stored K x kPanel
// contiguously (the last panel zero-padded); the micro-kernel keeps an R x kPanel tile of the
// result in registers while it streams one panel with aligned loads and broadcasts h. On one
// core of an AMD EPYC (Zen 4) it ran the step products (16-64 rows, K = 128-512, 4K columns)
// at 100-110 GFLOP/s in float32 where OpenBLAS's sgemm ran 60-80.
//
// Written with Eigen's packet functions (pset1, pload, pmadd), so each instruction-set build
// of the kernels (CMakeLists.txt) gets its own vector width from this one source: 4 floats
// with SSE, 8 with AVX2, 16 with AVX-512.
#pragma once

#include <algorithm>

#include "rnnkit/buffer.hpp"
#include "rnnkit/common.hpp"

namespace rnnkit::detail {

template <typename T>
class PackedMatrix {
 public:
  using Packet = typename Eigen::internal::packet_traits<T>::type;
  static constexpr Index kLanes = Eigen::internal::unpacket_traits<Packet>::size;
  // The register tile, kRows x kPackets packets of accumulators, with room left for the
  // panel's kPackets packets and a broadcast: 6 x 4 of AVX-512's 32 registers, 4 x 3 of the
  // 16 of AVX2 and SSE. On an AMD EPYC (Zen 4) at K = 512, 6 x 2 with AVX2 and 12 x 2 with
  // AVX-512 ran 15-40% slower.
  static constexpr bool kWide = EIGEN_ARCH_DEFAULT_NUMBER_OF_REGISTERS >= 32;
  static constexpr int kRows = kWide ? 6 : 4;
  static constexpr Index kPackets = kWide ? 4 : 3;
  static constexpr Index kPanel = kPackets * kLanes;  // columns per panel
  // Depth per pass over the panels, so that the slice of a panel one tile reads (64 KiB)
  // stays in L2 across the row blocks. On one core with AVX-512 at K = 512 two passes ran at
  // 110 GFLOP/s and one at 96; with both cores busy, blocks of 128, 256 and 512 were level.
  static constexpr Index kDepthBlock = std::max<Index>(64, 65536 / (kPanel * Index(sizeof(T))));

  PackedMatrix() = default;
  // Packs b (K, M), any Eigen expression with coefficient access (U, or a transpose or block of it).
  template <typename B>
  explicit PackedMatrix(const Eigen::MatrixBase<B>& b) { pack(b); }

  template <typename B>
  void pack(const Eigen::MatrixBase<B>& b) {
    depth_ = b.rows();
    cols_ = b.cols();
    const Index panels = (cols_ + kPanel - 1) / kPanel;
    data_ = Buffer<T>(panels * depth_ * kPanel);
    for (Index p = 0; p < panels; ++p) {
      const Index first = p * kPanel, width = std::min(kPanel, cols_ - first);
      T* panel = data_.data() + p * depth_ * kPanel;
      for (Index k = 0; k < depth_; ++k) {
        for (Index j = 0; j < width; ++j) panel[k * kPanel + j] = b.coeff(k, first + j);
        for (Index j = width; j < kPanel; ++j) panel[k * kPanel + j] = T(0);  // the last panel's padding
      }
    }
  }

  Index rows() const { return depth_; }
  Index cols() const { return cols_; }
  const T* panel(Index p) const { return data_.data() + p * depth_ * kPanel; }

 private:
  Index depth_ = 0, cols_ = 0;
  Buffer<T> data_;
};

// c[0:R, 0:width] (+)= a[0:R, 0:depth] * panel, for R <= kRows rows of a (row stride
// a_stride) and one packed panel; width <= kPanel columns of c (row stride c_stride) are written.
template <int R, typename T>
void packed_tile(Index depth, const T* a, Index a_stride, const T* panel, T* c, Index c_stride,
                 Index width, bool accumulate) {
  using Packed = PackedMatrix<T>;
  using Packet = typename Packed::Packet;
  namespace ei = Eigen::internal;
  constexpr Index P = Packed::kPackets, L = Packed::kLanes;
  Packet acc[R][P];
  for (int r = 0; r < R; ++r) {
    for (Index q = 0; q < P; ++q) acc[r][q] = ei::pset1<Packet>(T(0));
  }
  for (Index k = 0; k < depth; ++k, panel += Packed::kPanel) {
    Packet b[P];
    for (Index q = 0; q < P; ++q) b[q] = ei::pload<Packet>(panel + q * L);
    for (int r = 0; r < R; ++r) {
      const Packet a_rk = ei::pset1<Packet>(a[r * a_stride + k]);
      for (Index q = 0; q < P; ++q) acc[r][q] = ei::pmadd(a_rk, b[q], acc[r][q]);
    }
  }
  if (width == Packed::kPanel) {
    for (int r = 0; r < R; ++r) {
      T* row = c + r * c_stride;
      for (Index q = 0; q < P; ++q) {
        Packet out = acc[r][q];
        if (accumulate) out = ei::padd(out, ei::ploadu<Packet>(row + q * L));
        ei::pstoreu(row + q * L, out);
      }
    }
    return;
  }
  alignas(64) T tile[Packed::kPanel];  // the last, narrower panel: through a buffer
  for (int r = 0; r < R; ++r) {
    for (Index q = 0; q < P; ++q) ei::pstore(tile + q * L, acc[r][q]);
    T* row = c + r * c_stride;
    for (Index j = 0; j < width; ++j) row[j] = accumulate ? row[j] + tile[j] : tile[j];
  }
}

// packed_tile for the last rows of a product, fewer than kRows: rows <= R.
template <int R, typename T>
void packed_tail(Index rows, Index depth, const T* a, Index a_stride, const T* panel, T* c,
                 Index c_stride, Index width, bool accumulate) {
  if constexpr (R > 1) {
    if (rows < R) {
      packed_tail<R - 1>(rows, depth, a, a_stride, panel, c, c_stride, width, accumulate);
      return;
    }
  }
  packed_tile<R>(depth, a, a_stride, panel, c, c_stride, width, accumulate);
}

// dst (+)= lhs * rhs, rhs packed; dst and lhs are row-major with unit inner stride (a
// step's rows of a batch-major buffer, or a state matrix).
template <typename Dst, typename Lhs, typename T>
void matmul(const Eigen::MatrixBase<Dst>& result, const Eigen::MatrixBase<Lhs>& lhs,
            const PackedMatrix<T>& rhs, bool accumulate = false) {
  static_assert(Dst::IsRowMajor && Lhs::IsRowMajor, "packed products take row-major operands");
  using Packed = PackedMatrix<T>;
  auto& dst = const_cast<Eigen::MatrixBase<Dst>&>(result).derived();
  const auto& a = lhs.derived();
  const Index rows = dst.rows(), cols = rhs.cols(), depth = rhs.rows();
  const Index a_stride = a.outerStride(), c_stride = dst.outerStride();
  for (Index k0 = 0; k0 < depth; k0 += Packed::kDepthBlock) {
    const Index kc = std::min(Packed::kDepthBlock, depth - k0);
    const bool add = accumulate || k0 > 0;
    for (Index first = 0; first < cols; first += Packed::kPanel) {
      const T* panel = rhs.panel(first / Packed::kPanel) + k0 * Packed::kPanel;
      const Index width = std::min(Packed::kPanel, cols - first);
      const T* a_block = a.data() + k0;
      T* c = dst.data() + first;
      Index r = 0;
      for (; r + Packed::kRows <= rows; r += Packed::kRows) {
        packed_tile<Packed::kRows>(kc, a_block + r * a_stride, a_stride, panel, c + r * c_stride,
                                   c_stride, width, add);
      }
      if (r < rows) {
        packed_tail<Packed::kRows - 1>(rows - r, kc, a_block + r * a_stride, a_stride, panel,
                                       c + r * c_stride, c_stride, width, add);
      }
    }
  }
}

}  // namespace rnnkit::detail
