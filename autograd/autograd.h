#pragma once
// Autograd: backward, grad, grad mode guards, anomaly mode, gradcheck, activation checkpointing and autocast.
#include <ds/autograd/anomaly.h>
#include <ds/autograd/autocast.h>
#include <ds/autograd/checkpoint.h>
#include <ds/autograd/engine.h>
#include <ds/autograd/function.h>
#include <ds/autograd/gradcheck.h>
#include <ds/core/grad_mode.h>
