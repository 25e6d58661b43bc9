#pragma once
// ds: the one header a user program includes. Tensors, ops and autograd; no heavy third-party headers.
#include <ds/autograd/autograd.h>
#include <ds/core/allocator.h>
#include <ds/core/grad_mode.h>
#include <ds/core/logging.h>
#include <ds/core/rng.h>
#include <ds/ops/ops.h>
