#pragma once
// ds: the one header a user program includes: tensors, ops, autograd, nn, optim, data and checkpoints (models are
// under <ds/models/...>). No heavy third-party headers.
#include <ds/autograd/autograd.h>
#include <ds/core/allocator.h>
#include <ds/core/deterministic.h>
#include <ds/core/grad_mode.h>
#include <ds/core/logging.h>
#include <ds/core/rng.h>
#include <ds/ops/ops.h>
#include <ds/data/data.h>
#include <ds/io/checkpoint.h>
#include <ds/nn/nn.h>
#include <ds/optim/optim.h>
