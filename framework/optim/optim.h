#pragma once
// ds::optim: optimizers (SGD, Adam, AdamW, LAMB, Lion), learning-rate schedulers, gradient clipping, gradient
// accumulation and loss scaling. Include this header for all of them.
#include <ds/optim/adam.h>
#include <ds/optim/clip_grad.h>
#include <ds/optim/grad_accumulation.h>
#include <ds/optim/grad_scaler.h>
#include <ds/optim/lamb.h>
#include <ds/optim/lion.h>
#include <ds/optim/lr_scheduler.h>
#include <ds/optim/optimizer.h>
#include <ds/optim/sgd.h>
