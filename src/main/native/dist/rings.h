// Ring collectives over c10d's send/recv, for Gloo (libtilt_dist.so, tilt_dist.cc): torch's Gloo
// backend has no reduce-scatter of its own (it all-reduces) and no all-gather promised to work in
// place. Included once, by tilt_dist.cc.
#pragma once

#include <ATen/ATen.h>
#include <torch/csrc/distributed/c10d/Backend.hpp>

#include <algorithm>
#include <cstdlib>
#include <vector>

namespace {

int Mod(int x, int w) { return ((x % w) + w) % w; }

// Gloo's _reduce_scatter_base all-reduces a clone of the whole input and keeps this rank's slice
// (torch's ProcessGroupGloo.cpp), so ZeRO-1 on Gloo moved twice what DDP does. A ring over
// send/recv moves (W - 1) / W of the input per rank, as NCCL's reduce-scatter does: at step s rank
// r sends its partial sum of slice (r - s - 1) mod W to r + 1 and adds what r - 1 sends into slice
// (r - s - 2) mod W, which after W - 1 steps is slice r, summed over every rank. The slices go
// round in pieces of at most PieceBytes(), so the receive and partial-sum buffers stay that small
// (whole slices took a slice of memory each at the step's end: 32 MB a worker at llama-small). out
// may be in's slice r (ZeRO-1 reduces its flat gradients in place): slice r is read only at the
// last step, by the addition that writes it. TILT_RING_PIECE_BYTES sets the piece (default 4 MiB;
// the tests make it small so that every slice goes round in several pieces and a shorter last;
// every worker must have the same, or their pieces and tags do not match and the ring hangs).
int64_t PieceBytes() {
  static const int64_t bytes = [] {
    const char* v = std::getenv("TILT_RING_PIECE_BYTES");
    return v != nullptr && std::atoll(v) > 0 ? static_cast<int64_t>(std::atoll(v))
                                             : static_cast<int64_t>(4) << 20;
  }();
  return bytes;
}

void RingReduceScatter(c10::intrusive_ptr<c10d::Backend>& g, at::Tensor& out, const at::Tensor& in) {
  const int w = g->getSize();
  const int r = g->getRank();
  TORCH_CHECK(in.numel() == w * out.numel(), "reduce-scatter: the input has ", in.numel(),
              " elements, not ", w, " x the output's ", out.numel());
  std::vector<at::Tensor> slices = in.contiguous().view(-1).chunk(w);
  at::Tensor flat = out.view(-1);
  if (w == 1) {
    flat.copy_(slices[0]);
    return;
  }
  const int64_t n = flat.numel();
  const int64_t piece = std::max<int64_t>(1, PieceBytes() / flat.element_size());
  at::Tensor recv = at::empty({std::min(n, piece)}, flat.options());
  at::Tensor sum = w > 2 ? at::empty_like(recv) : at::Tensor();
  auto slice = [&](int k, int64_t off, int64_t len) {
    return slices[Mod(k, w)].narrow(0, off, len);
  };
  int tag = 0;
  for (int64_t off = 0; off < n; off += piece) {
    const int64_t len = std::min(piece, n - off);
    at::Tensor got = recv.narrow(0, 0, len);
    at::Tensor send = slice(r - 1, off, len);
    for (int s = 0; s < w - 1; s++, tag++) {
      std::vector<at::Tensor> sent{send};
      std::vector<at::Tensor> into_recv{got};
      auto receiving = g->recv(into_recv, (r - 1 + w) % w, tag);
      auto sending = g->send(sent, (r + 1) % w, tag);
      receiving->wait();
      sending->wait();
      at::Tensor into = s == w - 2 ? flat.narrow(0, off, len) : sum.narrow(0, 0, len);
      at::add_out(into, slice(r - s - 2, off, len), got);
      send = into;  // sent next step; sum is rewritten only after that send completes
    }
  }
}

// out (W n) gets every rank's in (n), rank by rank, over send/recv as RingReduceScatter: at step s
// rank r sends slice (r - s) mod W to r + 1 and receives slice (r - s - 1) mod W from r - 1 into
// its place. in may be out's own slice r (ZeRO-1 gathers the weights in place), which Gloo's
// _allgather_base does not promise to allow.
void RingAllGather(c10::intrusive_ptr<c10d::Backend>& g, at::Tensor& out, const at::Tensor& in) {
  const int w = g->getSize();
  const int r = g->getRank();
  TORCH_CHECK(out.numel() == w * in.numel(), "all-gather: the output has ", out.numel(),
              " elements, not ", w, " x the input's ", in.numel());
  TORCH_CHECK(out.is_contiguous(), "all-gather: the output is not contiguous");
  std::vector<at::Tensor> slices = out.view(-1).chunk(w);
  if (slices[r].data_ptr() != in.data_ptr()) slices[r].copy_(in.reshape(-1));
  for (int s = 0; s < w - 1; s++) {
    std::vector<at::Tensor> sent{slices[Mod(r - s, w)]};
    std::vector<at::Tensor> got{slices[Mod(r - s - 1, w)]};
    auto receiving = g->recv(got, (r - 1 + w) % w, s);
    auto sending = g->send(sent, (r + 1) % w, s);
    receiving->wait();
    sending->wait();
  }
}

}  // namespace
