#pragma once
// LeNet-5 (LeCun et al., 1998) with ReLU and max pooling, as the usual PyTorch versions:
//   x: (N, 1, 28, 28) -> conv 5x5 (6, padding 2) -> pool -> conv 5x5 (16) -> pool -> 400 -> 120 -> 84 -> classes.
// 61,706 parameters for 10 classes.
#include <ds/nn/container.h>

namespace ds::models {

std::shared_ptr<nn::Sequential> lenet5(int64_t num_classes = 10, int64_t in_channels = 1);

// A multilayer perceptron: Flatten, then Linear + ReLU for each hidden size, then Linear to num_classes.
std::shared_ptr<nn::Sequential> mlp(int64_t in_features, std::vector<int64_t> hidden, int64_t num_classes);

}  // namespace ds::models
