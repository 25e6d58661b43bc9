#pragma once
// Autograd: backward, grad, grad mode guards, anomaly mode, gradcheck and activation checkpointing.
#include <ds/autograd/anomaly.h>
#include <ds/autograd/checkpoint.h>
#include <ds/autograd/engine.h>
#include <ds/autograd/gradcheck.h>
#include <ds/core/grad_mode.h>
