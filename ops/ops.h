#pragma once
// Every op's front function: include this (or <ds/ds.h>) to use ds's operators.
#include <ds/ops/dispatch.h>
#include <ds/ops/elementwise.h>
#include <ds/ops/factory.h>
#include <ds/ops/indexing.h>
#include <ds/ops/linalg.h>
#include <ds/ops/nn_functional.h>
#include <ds/ops/optimizer_ops.h>
#include <ds/ops/reduce.h>
#include <ds/ops/shape_ops.h>
#include <ds/ops/state_dict.h>
#include <ds/ops/tensor.h>
#include <ds/ops/threads.h>
#include <ds/ops/device_info.h>
