#pragma once
// ds::data: datasets, transforms and the DataLoader (torch.utils.data), and the text pipeline (corpora, byte-level
// BPE, token windows, BERT masking). Include this one header.
#include <ds/data/bert_masking.h>
#include <ds/data/bpe_tokenizer.h>
#include <ds/data/byte_level.h>
#include <ds/data/dataloader.h>
#include <ds/data/dataset.h>
#include <ds/data/fashion_mnist.h>
#include <ds/data/generated.h>
#include <ds/data/random_stream.h>
#include <ds/data/tensor_dataset.h>
#include <ds/data/text_corpus.h>
#include <ds/data/token_dataset.h>
#include <ds/data/transforms.h>
