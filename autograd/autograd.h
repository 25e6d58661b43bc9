#pragma once
// Autograd: backward, grad, grad mode guards, anomaly mode and gradcheck.
#include <ds/autograd/anomaly.h>
#include <ds/autograd/engine.h>
#include <ds/autograd/gradcheck.h>
#include <ds/core/grad_mode.h>
