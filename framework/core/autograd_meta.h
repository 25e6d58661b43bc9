#pragma once
// What a tensor carries for autograd. The graph itself (nodes, the engine) lives in autograd/; core only holds the
// pointers so that a tensor can name its producer and its gradient.
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "hooks.h"
#include "intrusive_ptr.h"

namespace ds {

class TensorImpl;
class TensorBase;

// A tensor hook: called with the gradient of the tensor when it is computed; may return a replacement (or an
// undefined tensor to keep the gradient as it is).
using TensorHook = std::function<TensorBase(const TensorBase&)>;
using TensorHookList = HookList<TensorHook>;
// A post-accumulate-grad hook: called with a leaf once a backward has added its gradient into leaf.grad() (torch's
// register_post_accumulate_grad_hook); the leaf's .grad() is final for this backward when it runs.
using PostAccumulateGradHook = std::function<void(const TensorBase& leaf)>;

// The interface of a graph node that core needs: its name, for printing (grad_fn=<mul>), and the hooks of the
// non-leaf tensors it produced.
class GradNode {
 public:
  virtual ~GradNode() = default;
  virtual std::string_view name() const = 0;
  virtual RemovableHandle add_output_hook(uint32_t output_nr, TensorHook hook) = 0;
};

// Where a non-leaf tensor that retains its gradient receives it; shared with the hook that fills it, so the hook
// never outlives what it writes to.
struct GradSlot {
  IntrusivePtr<TensorImpl> grad;
};

struct AutogradMeta {
  std::shared_ptr<GradNode> grad_fn;            // producer, for a non-leaf
  uint32_t output_nr = 0;                      // which output of grad_fn this tensor is
  std::weak_ptr<GradNode> grad_accumulator;     // for a leaf that requires grad, created on first use
  IntrusivePtr<TensorImpl> grad;               // accumulated .grad of a leaf (or a non-leaf with retain_grad)
  std::shared_ptr<TensorHookList> hooks;       // hooks on a leaf; a non-leaf's hooks live on its grad_fn
  std::shared_ptr<HookList<PostAccumulateGradHook>> post_accumulate_hooks;  // a leaf's, after .grad is updated
  std::shared_ptr<GradSlot> retained;          // set by retain_grad() on a non-leaf
};

}  // namespace ds
