// matmul through cuBLASLt (gemm.h). ds's matrices are row-major and cuBLASLt's column-major, so C = A @ B is asked
// for as C^T = B^T A^T: each row-major operand M (R x C) is handed over as the column-major M^T, read with op N when
// its columns are adjacent (col stride 1, leading dim = its row stride) or as M itself with op T when its rows are.
// The algorithm cuBLASLt's heuristic picks is cached per problem (shapes, layouts, dtype, alignment, TF32) and per
// device; descriptors are cheap host objects made per call. Workspaces come from the caching allocator, on the
// stream, so they are reused without synchronising.
#include <array>
#include <map>
#include <mutex>
#include <tuple>

#include <cublasLt.h>

#include <ds/core/detail/check.h>
#include <ds/core/tensor_base.h>

#include "check.h"
#include "gemm.h"
#include "stream.h"

namespace ds::cuda {
namespace {

constexpr size_t kWorkspaceBytes = size_t{32} << 20;  // what cuBLAS recommends on Hopper

void check_lt(cublasStatus_t status, const char* call, std::string_view op) {
  DS_CHECK(status == CUBLAS_STATUS_SUCCESS, op, "cuBLASLt {} failed: {} ({})", call,
           cublasLtGetStatusString(status), static_cast<int>(status));
}
#define DS_LT_CHECK(call, op) check_lt((call), #call, op)

// One handle per thread and device, never destroyed: a handle freed at exit can outlive the CUDA context (PyTorch
// leaks its handles for the same reason).
cublasLtHandle_t handle(int device, std::string_view op) {
  thread_local std::array<cublasLtHandle_t, kMaxDevices> handles{};
  if (handles[device] == nullptr) DS_LT_CHECK(cublasLtCreate(&handles[device]), op);
  return handles[device];
}

// How a row-major R x C operand with strides (rs, cs) is handed to cuBLASLt as the column-major C x R matrix.
struct LtOperand {
  cublasOperation_t trans = CUBLAS_OP_N;
  uint64_t rows = 0, cols = 0;  // of the stored matrix
  int64_t ld = 0;
  bool ok = false;
};

LtOperand lt_operand(int64_t R, int64_t C, int64_t rs, int64_t cs) {
  if (cs == 1 || C == 1) {
    const int64_t ld = R == 1 ? C : rs;
    if (ld >= C && ld > 0) return {CUBLAS_OP_N, static_cast<uint64_t>(C), static_cast<uint64_t>(R), ld, true};
  }
  if (rs == 1 || R == 1) {
    const int64_t ld = C == 1 ? R : cs;
    if (ld >= R && ld > 0) return {CUBLAS_OP_T, static_cast<uint64_t>(R), static_cast<uint64_t>(C), ld, true};
  }
  return {};
}

uint32_t alignment(const void* p, int64_t ld, int64_t batch_stride, size_t elem) {
  uint32_t a = 256;
  const auto addr = reinterpret_cast<uintptr_t>(p);
  while (a > 1 && (addr % a != 0 || (ld * elem) % a != 0 || (batch_stride * elem) % a != 0)) a /= 2;
  return a;
}

cudaDataType_t lt_type(DType t) {
  switch (t) {
    case DType::f32: return CUDA_R_32F;
    case DType::f64: return CUDA_R_64F;
    case DType::f16: return CUDA_R_16F;
    case DType::bf16: return CUDA_R_16BF;
    default: return CUDA_R_32F;
  }
}

// The heuristic's choice for one problem, by everything that decides it.
using AlgoKey = std::tuple<int, int, int64_t, int64_t, int64_t, int64_t, int, int, int64_t, int64_t, int64_t, int64_t,
                           uint32_t, uint32_t, uint32_t, bool>;
struct AlgoCache {
  std::mutex mu;
  std::map<AlgoKey, std::pair<bool, cublasLtMatmulAlgo_t>> algos;  // false: cuBLASLt has none
};
AlgoCache& algo_cache() {
  static AlgoCache* cache = new AlgoCache;  // never destroyed: ops may run during static destruction
  return *cache;
}

// RAII for the descriptors of one call.
struct Descs {
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulPreference_t pref = nullptr;
  ~Descs() {
    if (pref) cublasLtMatmulPreferenceDestroy(pref);
    if (c) cublasLtMatrixLayoutDestroy(c);
    if (b) cublasLtMatrixLayoutDestroy(b);
    if (a) cublasLtMatrixLayoutDestroy(a);
    if (op) cublasLtMatmulDescDestroy(op);
  }
};

void set_batch(cublasLtMatrixLayout_t layout, int32_t count, int64_t stride, std::string_view op) {
  DS_LT_CHECK(cublasLtMatrixLayoutSetAttribute(layout, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count, sizeof(count)), op);
  DS_LT_CHECK(cublasLtMatrixLayoutSetAttribute(layout, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride,
                                               sizeof(stride)), op);
}

}  // namespace

bool gemm_cublaslt(const GemmArgs& g, std::string_view op) {
  // cuBLASLt's A is our B^T (n x k) and its B our A^T (k x m); its D = C^T (n x m) has leading dim n.
  const LtOperand la = lt_operand(g.k, g.n, g.b.row_stride, g.b.col_stride);
  const LtOperand lb = lt_operand(g.m, g.k, g.a.row_stride, g.a.col_stride);
  if (!la.ok || !lb.ok) return false;
  DS_CHECK(g.batch <= INT32_MAX, op, "batch of {} matrices exceeds cuBLASLt's limit", g.batch);
  const size_t elem = itemsize(g.dtype);
  const uint32_t align_a = alignment(g.b.data, la.ld, g.b.batch_stride, elem);
  const uint32_t align_b = alignment(g.a.data, lb.ld, g.a.batch_stride, elem);
  const uint32_t align_c = alignment(g.c, g.n, g.m * g.n, elem);
  const bool tf32 = g.dtype == kF32 && g.allow_tf32;
  const cudaDataType_t type = lt_type(g.dtype);
  const cublasComputeType_t compute =
      g.dtype == kF64 ? CUBLAS_COMPUTE_64F : tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  const cudaDataType_t scale = g.dtype == kF64 ? CUDA_R_64F : CUDA_R_32F;

  Descs d;
  DS_LT_CHECK(cublasLtMatmulDescCreate(&d.op, compute, scale), op);
  DS_LT_CHECK(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_TRANSA, &la.trans, sizeof(la.trans)), op);
  DS_LT_CHECK(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_TRANSB, &lb.trans, sizeof(lb.trans)), op);
  DS_LT_CHECK(cublasLtMatrixLayoutCreate(&d.a, type, la.rows, la.cols, la.ld), op);
  DS_LT_CHECK(cublasLtMatrixLayoutCreate(&d.b, type, lb.rows, lb.cols, lb.ld), op);
  DS_LT_CHECK(cublasLtMatrixLayoutCreate(&d.c, type, static_cast<uint64_t>(g.n), static_cast<uint64_t>(g.m), g.n), op);
  if (g.batch > 1) {
    const auto count = static_cast<int32_t>(g.batch);
    set_batch(d.a, count, g.b.batch_stride, op);
    set_batch(d.b, count, g.a.batch_stride, op);
    set_batch(d.c, count, g.m * g.n, op);
  }

  const AlgoKey key{g.device, static_cast<int>(g.dtype), g.m, g.n, g.k, g.batch, static_cast<int>(la.trans),
                    static_cast<int>(lb.trans), la.ld, lb.ld, g.b.batch_stride, g.a.batch_stride, align_a, align_b,
                    align_c, tf32};
  const cublasLtHandle_t lt = handle(g.device, op);
  std::pair<bool, cublasLtMatmulAlgo_t> algo{};
  {
    AlgoCache& cache = algo_cache();
    std::lock_guard lock(cache.mu);
    auto it = cache.algos.find(key);
    if (it == cache.algos.end()) {
      DS_LT_CHECK(cublasLtMatmulPreferenceCreate(&d.pref), op);
      const uint64_t ws = kWorkspaceBytes;
      DS_LT_CHECK(cublasLtMatmulPreferenceSetAttribute(d.pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws,
                                                       sizeof(ws)), op);
      const std::array<std::pair<cublasLtMatmulPreferenceAttributes_t, uint32_t>, 4> aligns{{
          {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, align_a}, {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, align_b},
          {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, align_c}, {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, align_c}}};
      for (const auto& [attr, value] : aligns)
        DS_LT_CHECK(cublasLtMatmulPreferenceSetAttribute(d.pref, attr, &value, sizeof(value)), op);
      cublasLtMatmulHeuristicResult_t result{};
      int found = 0;
      const cublasStatus_t st =
          cublasLtMatmulAlgoGetHeuristic(lt, d.op, d.a, d.b, d.c, d.c, d.pref, 1, &result, &found);
      if (st != CUBLAS_STATUS_NOT_SUPPORTED) check_lt(st, "cublasLtMatmulAlgoGetHeuristic", op);
      it = cache.algos.emplace(key, std::pair{st == CUBLAS_STATUS_SUCCESS && found > 0, result.algo}).first;
    }
    algo = it->second;
  }
  if (!algo.first) return false;

  const TensorBase workspace = empty_base({static_cast<int64_t>(kWorkspaceBytes)}, kU8, Device(DeviceType::CUDA, g.device));
  const double one_d = 1, zero_d = 0;
  const float one_f = 1, zero_f = 0;
  const void* alpha = g.dtype == kF64 ? static_cast<const void*>(&one_d) : &one_f;
  const void* beta = g.dtype == kF64 ? static_cast<const void*>(&zero_d) : &zero_f;
  DS_LT_CHECK(cublasLtMatmul(lt, d.op, alpha, g.b.data, d.a, g.a.data, d.b, beta, g.c, d.c, g.c, d.c, &algo.second,
                             workspace.data(), kWorkspaceBytes, g.stream), op);
  return true;
}

}  // namespace ds::cuda
