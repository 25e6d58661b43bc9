"""The python side of tests/models/hf_import_test.cpp ("[models][torch]").

  hf_reference.py make DIR     builds randomly initialised transformers models and writes, for each of
                               DIR/gpt2 (GPT2LMHeadModel) and DIR/bert (BertForPreTraining):
                                 config.json, model.safetensors   (save_pretrained)
                                 io.safetensors                   the inputs and the float32 logits of a forward pass
  hf_reference.py check DIR    loads DIR/ds_gpt2 and DIR/ds_bert (written by ds's save_hf_*) with from_pretrained,
                               requires no missing or unexpected keys and the same logits as DIR/*/io.safetensors

Every parameter is drawn at random (biases and LayerNorm parameters too, which transformers initialises to 0 and 1),
so a bias or a LayerNorm mapped to the wrong place changes the logits. Dropout is off (eval mode).
"""
import os
import sys
import warnings

import torch
from safetensors.torch import load_file, save_file
from transformers import BertConfig, BertForPreTraining, GPT2Config, GPT2LMHeadModel
from transformers.utils import logging

warnings.filterwarnings("ignore")
logging.set_verbosity_error()

SEED = 1234


def randomise(model, gen):
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen) * 0.1
            is_norm = ".ln_" in name or "LayerNorm" in name
            p.copy_(noise + 1 if is_norm and name.endswith("weight") else noise)


def gpt2_case(gen):
    config = GPT2Config(vocab_size=1000, n_positions=64, n_embd=64, n_layer=2, n_head=4, resid_pdrop=0.0,
                        embd_pdrop=0.0, attn_pdrop=0.0)
    model = GPT2LMHeadModel(config).eval()
    randomise(model, gen)
    input_ids = torch.randint(0, 1000, (2, 24), generator=gen)
    with torch.no_grad():
        logits = model(input_ids=input_ids).logits
    return model, {"input_ids": input_ids, "logits": logits.contiguous()}


def bert_case(gen):
    config = BertConfig(vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=256, max_position_embeddings=64, type_vocab_size=2,
                        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model = BertForPreTraining(config).eval()
    randomise(model, gen)
    B, T = 2, 16
    input_ids = torch.randint(1, 1000, (B, T), generator=gen)
    token_type_ids = torch.zeros(B, T, dtype=torch.int64)
    token_type_ids[:, T // 2:] = 1
    attention_mask = torch.ones(B, T, dtype=torch.int64)
    attention_mask[1, T - 5:] = 0  # the second sequence ends in 5 padding tokens
    input_ids[1, T - 5:] = config.pad_token_id
    with torch.no_grad():
        out = model(input_ids=input_ids, token_type_ids=token_type_ids, attention_mask=attention_mask)
    return model, {"input_ids": input_ids, "token_type_ids": token_type_ids, "attention_mask": attention_mask,
                   "prediction_logits": out.prediction_logits.contiguous(),
                   "seq_relationship_logits": out.seq_relationship_logits.contiguous()}


def make(root):
    gen = torch.Generator().manual_seed(SEED)
    for name, case in (("gpt2", gpt2_case), ("bert", bert_case)):
        model, io = case(gen)
        d = os.path.join(root, name)
        model.save_pretrained(d, safe_serialization=True)
        save_file(io, os.path.join(d, "io.safetensors"))
    return 0


def check(root):
    problems = []
    for name, cls in (("gpt2", GPT2LMHeadModel), ("bert", BertForPreTraining)):
        io = load_file(os.path.join(root, name, "io.safetensors"))
        model, info = cls.from_pretrained(os.path.join(root, "ds_" + name), output_loading_info=True)
        model.eval()
        for kind in ("missing_keys", "unexpected_keys", "mismatched_keys"):
            if info.get(kind):
                problems.append(f"{name}: {kind} {info[kind]}")
        with torch.no_grad():
            if name == "gpt2":
                got = {"logits": model(input_ids=io["input_ids"]).logits}
            else:
                out = model(input_ids=io["input_ids"], token_type_ids=io["token_type_ids"],
                            attention_mask=io["attention_mask"])
                got = {"prediction_logits": out.prediction_logits,
                       "seq_relationship_logits": out.seq_relationship_logits}
        for key, value in got.items():
            if not torch.equal(value, io[key]):
                err = (value - io[key]).abs().max().item()
                problems.append(f"{name}: {key} differ from the original model's by up to {err}")
    for p in problems:
        print("MISMATCH", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit({"make": make, "check": check}[sys.argv[1]](sys.argv[2]))
