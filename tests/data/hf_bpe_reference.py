#!/usr/bin/env python3
"""The Hugging Face side of the byte-level BPE parity test (tests/data/bpe_tokenizer_test.cpp, tag [torch]).

usage: hf_bpe_reference.py CORPUS OUT_DIR VOCAB_SIZE MIN_FREQUENCY SPECIAL_TOKEN [PRETOKENIZE_JSON]

Trains tokenizers' ByteLevelBPETokenizer on the file CORPUS (as ByteLevelBPETokenizer.train([file]) does: the file
is read line by line), then writes into OUT_DIR:
  vocab.json, merges.txt   save_model()'s files (GPT-2's format)
  ids.bin                  the ids of the whole corpus text, encoded in one call, as little-endian uint32
  pretokens.json           for each string of the JSON list in PRETOKENIZE_JSON (when given), the pieces of the
                           ByteLevel pre-tokenizer (add_prefix_space=False), spelled in byte-level characters
  timings.json             {"train_s": ..., "encode_s": ...}
"""
import json
import os
import struct
import sys
import time

from tokenizers import ByteLevelBPETokenizer, pre_tokenizers


def main():
    corpus, out_dir, vocab_size, min_frequency, special = sys.argv[1:6]
    os.makedirs(out_dir, exist_ok=True)
    tok = ByteLevelBPETokenizer()
    t0 = time.perf_counter()
    tok.train(files=[corpus], vocab_size=int(vocab_size), min_frequency=int(min_frequency),
              special_tokens=[special], show_progress=False)
    train_s = time.perf_counter() - t0
    tok.save_model(out_dir)

    with open(corpus, encoding="utf-8", newline="") as f:
        text = f.read()
    t0 = time.perf_counter()
    ids = tok.encode(text).ids
    encode_s = time.perf_counter() - t0
    with open(os.path.join(out_dir, "ids.bin"), "wb") as f:
        f.write(struct.pack(f"<{len(ids)}I", *ids))

    if len(sys.argv) > 6:
        with open(sys.argv[6], encoding="utf-8") as f:
            strings = json.load(f)
        pre = pre_tokenizers.ByteLevel(add_prefix_space=False)
        pieces = [[p for p, _ in pre.pre_tokenize_str(s)] for s in strings]
        with open(os.path.join(out_dir, "pretokens.json"), "w", encoding="utf-8") as f:
            json.dump(pieces, f, ensure_ascii=False, separators=(",", ":"))

    with open(os.path.join(out_dir, "timings.json"), "w") as f:
        json.dump({"train_s": train_s, "encode_s": encode_s}, f)


if __name__ == "__main__":
    main()
