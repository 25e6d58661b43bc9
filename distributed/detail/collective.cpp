// The body shared by the CPU backends: a checked collective run with a Comm's raw operations, the debug-mode
// fingerprint check, and the single-process backend.
#include <cstdlib>
#include <cstring>

#include <ds/core/detail/check.h>
#include <ds/core/half.h>

#include "../watchdog.h"
#include "backend.h"

namespace ds::dist::detail {

std::string_view op_kind_name(OpKind k) {
  switch (k) {
    case OpKind::kAllreduce: return "allreduce";
    case OpKind::kBroadcast: return "broadcast";
    case OpKind::kReduce: return "reduce";
    case OpKind::kAllgather: return "allgather";
    case OpKind::kAllgatherV: return "allgather_v";
    case OpKind::kReduceScatter: return "reduce_scatter";
    case OpKind::kReduceScatterV: return "reduce_scatter_v";
    case OpKind::kAllToAll: return "all_to_all";
    case OpKind::kSend: return "send";
    case OpKind::kRecv: return "recv";
    case OpKind::kBarrier: return "barrier";
    case OpKind::kSplit: return "split";
    case OpKind::kJob: return "job";
  }
  return "?";
}

void divide_in_place(void* buf, int64_t n, DType dtype, double d) {
  switch (dtype) {
    case DType::f32: {
      float* p = static_cast<float*>(buf);
      const float f = static_cast<float>(d);
      for (int64_t i = 0; i < n; ++i) p[i] /= f;
      return;
    }
    case DType::f64: {
      double* p = static_cast<double*>(buf);
      for (int64_t i = 0; i < n; ++i) p[i] /= d;
      return;
    }
    case DType::f16: {
      Half* p = static_cast<Half*>(buf);
      for (int64_t i = 0; i < n; ++i) p[i] = Half(static_cast<float>(p[i]) / static_cast<float>(d));
      return;
    }
    case DType::bf16: {
      BFloat16* p = static_cast<BFloat16*>(buf);
      for (int64_t i = 0; i < n; ++i) p[i] = BFloat16(static_cast<float>(p[i]) / static_cast<float>(d));
      return;
    }
    case DType::i64:
    case DType::i32:
    case DType::i8:
    case DType::u8:
    case DType::b8: DS_FAIL("dist", "avg needs a floating dtype, got {}", dtype_name(dtype));
  }
}

namespace {

bool debug_checks() {
  static const bool on = [] {
    const char* s = std::getenv("DS_DIST_DEBUG");
    return s && *s && std::strcmp(s, "0") != 0;
  }();
  return on;
}

// What every rank must agree on before a collective runs (DS_DIST_DEBUG=1).
struct Fingerprint {
  uint64_t seq;
  int64_t numel;
  int64_t dims[6];
  int32_t peer;
  uint8_t kind, op, dtype, ndim;

  static Fingerprint of(const Collective& c) {
    Fingerprint f{};
    f.seq = c.seq;
    f.kind = static_cast<uint8_t>(c.kind);
    f.op = static_cast<uint8_t>(c.op);
    f.peer = (c.kind == OpKind::kBroadcast || c.kind == OpKind::kReduce) ? c.peer : -1;
    const Tensor& t = c.in.defined() ? c.in : c.out;
    if (t.defined()) {
      f.dtype = static_cast<uint8_t>(t.dtype());
      f.numel = t.numel();
      f.ndim = static_cast<uint8_t>(std::min<int64_t>(t.dim(), 6));
      for (int d = 0; d < f.ndim; ++d) f.dims[d] = t.size(d);
    } else {
      f.dtype = 255;
    }
    return f;
  }
  bool same(const Fingerprint& o) const {
    return seq == o.seq && kind == o.kind && op == o.op && peer == o.peer && dtype == o.dtype && numel == o.numel &&
           ndim == o.ndim && std::memcmp(dims, o.dims, sizeof dims) == 0;
  }
  std::string str() const {
    std::string s = fmt::format("{} #{}", op_kind_name(static_cast<OpKind>(kind)), seq);
    if (dtype != 255) {
      std::vector<int64_t> shape(dims, dims + ndim);
      s += fmt::format(" {} {}", dtype_name(static_cast<DType>(dtype)), shape_str(shape));
    }
    if (kind == static_cast<uint8_t>(OpKind::kAllreduce) || kind == static_cast<uint8_t>(OpKind::kReduce) ||
        kind == static_cast<uint8_t>(OpKind::kReduceScatter))
      s += fmt::format(" {}", reduce_op_name(static_cast<ReduceOp>(op)));
    if (peer >= 0) s += fmt::format(" root {}", peer);
    return s;
  }
};
static_assert(sizeof(Fingerprint) % 8 == 0);

}  // namespace

void check_matching(Comm& comm, const Collective& c) {
  if (!debug_checks() || c.kind == OpKind::kSend || c.kind == OpKind::kRecv || c.kind == OpKind::kSplit) return;
  const Fingerprint mine = Fingerprint::of(c);
  std::vector<Fingerprint> all(static_cast<size_t>(comm.size()));
  const std::vector<int64_t> counts(all.size(), static_cast<int64_t>(sizeof(Fingerprint)));
  std::atomic<uint64_t>* bytes = comm.bytes;
  comm.bytes = nullptr;  // the check's traffic is not the program's
  comm.allgather_v(&mine, all.data(), counts, kU8);
  comm.bytes = bytes;
  for (size_t r = 0; r < all.size(); ++r) {
    if (all[r].same(mine)) continue;
    Watchdog::instance().fault(fmt::format(
        "collective mismatch (DS_DIST_DEBUG): this rank (group rank {}) calls {}, but group rank {} calls {}; "
        "every member must call the same collectives in the same order with the same shapes",
        comm.rank(), mine.str(), r, all[r].str()));
  }
}

void run_collective(Comm& comm, const Collective& c) {
  const int n = comm.size();
  const ReduceOp op = c.op == ReduceOp::kAvg ? ReduceOp::kSum : c.op;
  switch (c.kind) {
    case OpKind::kAllreduce:
      comm.allreduce(c.out.data(), c.out.numel(), c.out.dtype(), op);
      if (c.op == ReduceOp::kAvg) divide_in_place(c.out.data(), c.out.numel(), c.out.dtype(), n);
      return;
    case OpKind::kBroadcast: comm.broadcast(c.out.data(), c.out.numel(), c.out.dtype(), c.peer); return;
    case OpKind::kReduce:
      comm.reduce(c.out.data(), c.out.numel(), c.out.dtype(), op, c.peer);
      if (c.op == ReduceOp::kAvg && comm.rank() == c.peer)
        divide_in_place(c.out.data(), c.out.numel(), c.out.dtype(), n);
      return;
    case OpKind::kAllgather:
    case OpKind::kAllgatherV: comm.allgather_v(c.in.data(), c.out.data(), c.counts, c.in.dtype()); return;
    case OpKind::kReduceScatter:
    case OpKind::kReduceScatterV:
      comm.reduce_scatter_v(c.in.data(), c.out.data(), c.counts, c.in.dtype(), op);
      if (c.op == ReduceOp::kAvg) divide_in_place(c.out.data(), c.out.numel(), c.out.dtype(), n);
      return;
    case OpKind::kAllToAll: comm.all_to_all(c.in.data(), c.out.data(), c.in.numel() / n, c.in.dtype()); return;
    case OpKind::kSend: comm.send(c.in.data(), c.in.numel(), c.in.dtype(), c.peer, c.tag); return;
    case OpKind::kRecv: comm.recv(c.out.data(), c.out.numel(), c.out.dtype(), c.peer, c.tag); return;
    case OpKind::kBarrier: comm.barrier(); return;
    case OpKind::kSplit:
    case OpKind::kJob: DS_FAIL("dist", "{} is not a collective", op_kind_name(c.kind));
  }
}

}  // namespace ds::dist::detail
