#pragma once
// ds::data: datasets, transforms and the DataLoader (torch.utils.data). Include this one header.
#include <ds/data/dataloader.h>
#include <ds/data/dataset.h>
#include <ds/data/fashion_mnist.h>
#include <ds/data/generated.h>
#include <ds/data/random_stream.h>
#include <ds/data/tensor_dataset.h>
#include <ds/data/transforms.h>
