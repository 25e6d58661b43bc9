#pragma once
// ds::nn: modules, layers, losses and initialisers (torch.nn).
#include <ds/nn/activation.h>
#include <ds/nn/attention.h>
#include <ds/nn/checkpoint.h>
#include <ds/nn/container.h>
#include <ds/nn/conv.h>
#include <ds/nn/init.h>
#include <ds/nn/linear.h>
#include <ds/nn/loss.h>
#include <ds/nn/memory_profiler.h>
#include <ds/nn/module.h>
#include <ds/nn/normalization.h>
#include <ds/nn/pooling.h>
