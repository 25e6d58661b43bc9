// ds-ops: prints the op table from its rows (name, primitive or composite, CPU, CUDA, differentiable, gradchecked)
// and a summary line: ops=N primitives=P differentiable=D gradchecked=G cuda=C (C: primitives with a CUDA kernel).
#include <cstdio>
#include <string>

#include <ds/ds.h>
#include <ds/ops/op_def.h>

using namespace ds;

namespace {

// An op is gradchecked when its row has a float64 case with an input the op-table test perturbs.
bool gradchecked(const OpDef& d) {
  if (!d.differentiable() || !d.test.cases) return false;
  for (const OpCase& c : d.test.cases(kF64))
    for (size_t i = 0; i < c.inputs.size(); ++i)
      if (((c.grad_inputs >> i) & 1u) && c.inputs[i].defined() && is_floating(c.inputs[i].dtype())) return true;
  return false;
}

}  // namespace

int main() {
  int ops = 0, prims = 0, diff = 0, checked = 0, cuda = 0;
  std::printf("%-18s %-10s %-5s %-9s %-15s %s\n", "op", "kind", "cpu", "cuda", "differentiable", "gradchecked");
  auto row = [&](const OpDef& d, int prim_index) {
    const char* kind = d.kind == OpKind::Composite ? "composite" : d.kind == OpKind::View ? "view" : "primitive";
    std::string cpu = "yes", gpu;
    if (d.kind == OpKind::View) {
      gpu = "any";  // a view computes strides only: it runs on every device
    } else if (d.kind == OpKind::Composite) {
      gpu = "via ops";  // runs wherever the primitives it is made of run
    } else {
      const bool has = has_cuda_kernel(static_cast<OpId>(prim_index));
      gpu = has ? "yes" : "no";
      cuda += has;
    }
    const bool g = gradchecked(d);
    std::printf("%-18.*s %-10s %-5s %-9s %-15s %s\n", static_cast<int>(d.name.size()), d.name.data(), kind, cpu.c_str(),
                gpu.c_str(), d.differentiable() ? "yes" : "no", g ? "yes" : (d.differentiable() ? "NO" : "-"));
    ++ops;
    diff += d.differentiable();
    checked += g;
  };
  int i = 0;
  for (const OpDef* d : primitive_defs()) {
    row(*d, i++);
    ++prims;
  }
  for (const OpDef* d : composite_defs()) row(*d, -1);
  std::printf("ops=%d primitives=%d differentiable=%d gradchecked=%d cuda=%d\n", ops, prims, diff, checked, cuda);
  return diff == checked ? 0 : 1;
}
