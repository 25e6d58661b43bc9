// The CPU interpreter of fused pointwise programs (ops/pointwise_program.h). Each thread takes a range of output
// elements that starts at a multiple of kChunk, as the elementwise kernels split their work (loops.h), and walks it
// in chunks of kFuseChunk consecutive elements; every step runs its op's math on the chunk. Inputs laid out like the
// output are read in place, broadcast or strided ones are gathered into the chunk's buffer, single elements are
// converted once; a step writes a buffer or, for an output slot, the output itself. Chunk boundaries are multiples
// of kFuseChunk, so in a group whose inputs are all read in place or constant (the only groups that hold formulas
// like exp), Eigen computes each element as the eager kernel did: in a packet, or in the range's scalar tail.
#include <ds/ops/pointwise_program.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include <ds/core/detail/check.h>

#include "loops.h"
#include "parallel.h"

namespace ds {
namespace {

constexpr int64_t kFuseChunk = 256;  // elements: a slot of f64 is 2 KiB, so a dozen live slots stay in L1
static_assert(cpu::kChunk % kFuseChunk == 0 && kFuseChunk % 16 == 0);

// How an input is read for a chunk of consecutive output elements: in place (contiguous like the output, same
// dtype), from a buffer filled once (a single element, converted to the slot's dtype), or gathered through its own
// walk (broadcast or strided: dimensions innermost first, merged where its strides allow).
struct InputWalk {
  enum Kind { Direct, Constant, Gather } kind = Direct;
  const char* base = nullptr;
  int64_t itemsize = 0;
  Shape sizes, strides;  // Gather: the walk, strides in elements
};

InputWalk walk_of(const Tensor& t, const Shape& out_sizes, DType slot) {
  InputWalk w;
  w.base = static_cast<const char*>(t.data());
  w.itemsize = static_cast<int64_t>(t.element_size());
  if (t.numel() == 1) {
    w.kind = InputWalk::Constant;
    return w;
  }
  const size_t nd = out_sizes.size(), off = nd - static_cast<size_t>(t.dim());
  for (size_t i = nd; i-- > 0;) {  // innermost first
    if (out_sizes[i] == 1) continue;
    const int64_t st = i < off || t.sizes()[i - off] == 1 ? 0 : t.strides()[i - off];
    if (!w.sizes.empty() && st == w.strides.back() * w.sizes.back()) {
      w.sizes.back() *= out_sizes[i];
      continue;
    }
    w.sizes.push_back(out_sizes[i]);
    w.strides.push_back(st);
  }
  w.kind = w.sizes.size() == 1 && w.strides[0] == 1 && t.dtype() == slot ? InputWalk::Direct : InputWalk::Gather;
  return w;
}

template <int64_t size> struct Bits;
template <> struct Bits<1> { using type = uint8_t; };
template <> struct Bits<4> { using type = uint32_t; };
template <> struct Bits<8> { using type = uint64_t; };

// Where a gathered input's walk stands: its index (innermost first) and the address it reads.
struct Cursor {
  SmallVec<int64_t, 6> idx;
  const char* p = nullptr;
};

Cursor cursor_at(const InputWalk& w, int64_t pos) {
  Cursor c{SmallVec<int64_t, 6>(w.sizes.size(), 0), w.base};
  for (size_t d = 0; d < w.sizes.size(); ++d) {
    c.idx[d] = pos % w.sizes[d];
    pos /= w.sizes[d];
    c.p += c.idx[d] * w.strides[d] * w.itemsize;
  }
  return c;
}

// The next m input elements of the walk, from c (which moves past them): in place when they lie in one contiguous
// run of the input, else copied into dst (plain loops over the elements' bits, which vectorise).
template <int64_t size>
const void* gather(const InputWalk& w, Cursor& c, int64_t m, char* dst) {
  using T = typename Bits<size>::type;
  const size_t nd = w.sizes.size();
  const void* result = w.strides[0] == 1 && w.sizes[0] - c.idx[0] >= m ? c.p : dst;
  T* out = reinterpret_cast<T*>(dst);
  while (m > 0) {
    const int64_t run = std::min(w.sizes[0] - c.idx[0], m);
    if (result == dst) {
      const T* src = reinterpret_cast<const T*>(c.p);
      if (w.strides[0] == 0) {
        const T v = *src;
        for (int64_t i = 0; i < run; ++i) out[i] = v;
      } else if (w.strides[0] == 1) {
        std::memcpy(out, src, static_cast<size_t>(run * size));
      } else {
        for (int64_t i = 0; i < run; ++i) out[i] = src[i * w.strides[0]];
      }
      out += run;
    }
    m -= run;
    c.p += run * w.strides[0] * size;
    c.idx[0] += run;
    for (size_t d = 0; d + 1 < nd && c.idx[d] == w.sizes[d]; ++d) {
      c.p += (w.strides[d + 1] - w.sizes[d] * w.strides[d]) * size;
      c.idx[d] = 0;
      ++c.idx[d + 1];
    }
  }
  return result;
}

// Fills n elements of dtype `to` at dst with the single element at src (dtype `from`), converted as a cast would.
void fill_converted(void* dst, DType to, const char* src, DType from, int64_t n) {
  visit_dtype(from, [&](auto s_tag) {
    using S = decltype(s_tag);
    visit_dtype(to, [&](auto d_tag) {
      using D = decltype(d_tag);
      if constexpr (std::is_same_v<D, float> || std::is_same_v<D, double> || std::is_same_v<D, bool>) {
        const D v = static_cast<D>(static_cast<cpu::compute_t<S>>(*reinterpret_cast<const S*>(src)));
        std::fill_n(static_cast<D*>(dst), n, v);
      }
    });
  });
}

}  // namespace

std::string PointwiseProgram::str() const {
  std::string s = fmt::format("{}{} in({})", dtype_name(dtype), shape_str(sizes), num_inputs);
  for (size_t k = 0; k < steps.size(); ++k) {
    s += fmt::format("{} s{} = {}(", k ? ";" : "", num_inputs + static_cast<int32_t>(k), op_name(steps[k].op));
    for (size_t i = 0; i < steps[k].in.size(); ++i) s += fmt::format("{}s{}", i ? ", " : "", steps[k].in[i]);
    s += ")";
  }
  s += " ->";
  for (int32_t o : outputs) s += fmt::format(" s{}", o);
  return s;
}

void run_pointwise_program(const PointwiseProgram& p, std::span<const Tensor> in, std::span<const Tensor> out) {
  const std::string_view op = "fused pointwise";
  DS_CHECK(p.dtype == kF32 || p.dtype == kF64, op, "computes in float32 or float64, not {}", dtype_name(p.dtype));
  DS_CHECK(static_cast<int32_t>(in.size()) == p.num_inputs && out.size() == p.outputs.size(), op,
           "expects {} inputs and {} outputs, got {} and {}", p.num_inputs, p.outputs.size(), in.size(), out.size());
  int64_t numel = 1;
  for (int64_t x : p.sizes) numel *= x;
  std::vector<char*> outs;
  for (size_t k = 0; k < out.size(); ++k) {
    const Tensor& t = out[k];
    const DType want = p.slot_dtypes[static_cast<size_t>(p.outputs[k])];
    DS_CHECK(t.is_cpu() && t.is_contiguous() && t.sizes() == p.sizes && t.dtype() == want, op,
             "output {} must be a contiguous CPU {} tensor of shape {}, got {} {}", k, dtype_name(want),
             shape_str(p.sizes), dtype_name(t.dtype()), shape_str(t.sizes()));
    outs.push_back(static_cast<char*>(t.data()));
  }
  std::vector<InputWalk> walks;
  for (size_t k = 0; k < in.size(); ++k) {
    const Tensor& t = in[k];
    DS_CHECK(t.is_cpu(), op, "input {} must be a CPU tensor, got one on {}", k, t.device().str());
    DS_CHECK(t.numel() == 1 || t.dtype() == p.slot_dtypes[k], op, "input {} must be {}, got {}", k,
             dtype_name(p.slot_dtypes[k]), dtype_name(t.dtype()));
    bool broadcasts = t.dim() <= static_cast<int64_t>(p.sizes.size());
    for (int64_t d = 0; d < t.dim() && broadcasts; ++d) {
      const int64_t size = t.sizes()[static_cast<size_t>(d)];
      broadcasts = size == 1 || size == p.sizes[p.sizes.size() - static_cast<size_t>(t.dim() - d)];
    }
    DS_CHECK(broadcasts, op, "input {} of shape {} does not broadcast to {}", k, shape_str(t.sizes()),
             shape_str(p.sizes));
    walks.push_back(walk_of(t, p.sizes, p.slot_dtypes[k]));
  }
  if (numel == 0) return;

  const size_t nslots = p.slot_dtypes.size();
  std::vector<int32_t> out_of_slot(nslots, -1);
  for (size_t k = 0; k < out.size(); ++k) out_of_slot[static_cast<size_t>(p.outputs[k])] = static_cast<int32_t>(k);
  std::vector<PointwiseMath::Fn> fns;
  for (const PointwiseProgram::Step& s : p.steps) {
    const PointwiseMath* math = op_def(s.op).pointwise;
    DS_CHECK(math, op, "{} has no pointwise math", op_name(s.op));
    fns.push_back(p.dtype == kF32 ? math->f32 : math->f64);
  }

  cpu::parallel_for_aligned(numel, cpu::kGrain, cpu::kChunk, [&](int64_t begin, int64_t end) {
    // One 64-byte aligned buffer of kFuseChunk elements per slot.
    constexpr size_t kSlotBytes = kFuseChunk * sizeof(double);
    std::unique_ptr<std::byte[]> raw(new std::byte[nslots * kSlotBytes + 64]);
    char* buf = reinterpret_cast<char*>(raw.get() + (64 - reinterpret_cast<uintptr_t>(raw.get()) % 64) % 64);
    std::vector<const void*> slot(nslots), args;
    for (int32_t i = 0; i < p.num_inputs; ++i) {  // single elements: converted once
      const InputWalk& w = walks[static_cast<size_t>(i)];
      if (w.kind != InputWalk::Constant) continue;
      char* dst = buf + static_cast<size_t>(i) * kSlotBytes;
      fill_converted(dst, p.slot_dtypes[static_cast<size_t>(i)], w.base, in[static_cast<size_t>(i)].dtype(),
                     kFuseChunk);
      slot[static_cast<size_t>(i)] = dst;
    }
    std::vector<Cursor> cursors(static_cast<size_t>(p.num_inputs));
    for (int32_t i = 0; i < p.num_inputs; ++i)
      if (walks[static_cast<size_t>(i)].kind == InputWalk::Gather)
        cursors[static_cast<size_t>(i)] = cursor_at(walks[static_cast<size_t>(i)], begin);
    // Chunks start at multiples of kFuseChunk (begin is a multiple of kChunk).
    for (int64_t pos = begin; pos < end; pos += kFuseChunk) {
      const int64_t m = std::min(kFuseChunk, end - pos);
      for (int32_t i = 0; i < p.num_inputs; ++i) {
        const InputWalk& w = walks[static_cast<size_t>(i)];
        if (w.kind == InputWalk::Direct) {
          slot[static_cast<size_t>(i)] = w.base + pos * w.itemsize;
        } else if (w.kind == InputWalk::Gather) {
          char* dst = buf + static_cast<size_t>(i) * kSlotBytes;
          Cursor& c = cursors[static_cast<size_t>(i)];
          slot[static_cast<size_t>(i)] = w.itemsize == 1   ? gather<1>(w, c, m, dst)
                                         : w.itemsize == 4 ? gather<4>(w, c, m, dst)
                                                           : gather<8>(w, c, m, dst);
        }
      }
      for (size_t k = 0; k < p.steps.size(); ++k) {
        const size_t dst_slot = static_cast<size_t>(p.num_inputs) + k;
        const int32_t o = out_of_slot[dst_slot];
        const int64_t itemsize = static_cast<int64_t>(ds::itemsize(p.slot_dtypes[dst_slot]));
        void* dst = o >= 0 ? static_cast<void*>(outs[static_cast<size_t>(o)] + pos * itemsize)
                           : static_cast<void*>(buf + dst_slot * kSlotBytes);
        args.clear();
        for (int32_t a : p.steps[k].in) args.push_back(slot[static_cast<size_t>(a)]);
        fns[k](m, dst, args.data(), p.steps[k].attrs);
        slot[dst_slot] = dst;
      }
    }
  });
}

}  // namespace ds
