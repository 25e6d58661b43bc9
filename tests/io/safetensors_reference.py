"""The python side of tests/io/safetensors_test.cpp ("[safetensors][torch]").

  safetensors_reference.py write PATH   writes the reference tensors with the `safetensors` package
  safetensors_reference.py check PATH   reads a file written by ds and checks that it holds exactly the reference

The reference tensors are built from formulas that the C++ test evaluates too (every value exact in its dtype), so
both sides compare against values they computed themselves, not against each other's output.
"""
import sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

METADATA = {"format": "pt", "written_by": "safetensors_reference.py"}


def reference():
    i = torch.arange(24, dtype=torch.float64)
    return {
        "f32": (i / 8 - 1.5).to(torch.float32).reshape(2, 3, 4),
        "f64": (i / 3).reshape(4, 6),  # i/3 rounded once in float64: C++'s double division gives the same bits
        "f16": (i / 4 - 3).to(torch.float16).reshape(6, 4),
        "bf16": (i * 16 - 100).to(torch.bfloat16),
        "i64": torch.arange(5, dtype=torch.int64) * (1 << 40) - 3,
        "i32": torch.arange(6, dtype=torch.int32).reshape(3, 2) * -7,
        "i8": torch.arange(-128, 128, 51, dtype=torch.int8),
        "u8": torch.arange(0, 256, 37, dtype=torch.uint8),
        "bool": torch.arange(7) % 3 == 0,
        "empty": torch.zeros(0, 3, dtype=torch.float32),
        "scalar": torch.tensor(2.25, dtype=torch.float32),
    }


def main():
    mode, path = sys.argv[1], sys.argv[2]
    ref = reference()
    if mode == "write":
        save_file(ref, path, metadata=METADATA)
        return 0
    got = load_file(path)
    with safe_open(path, framework="pt") as f:
        metadata = f.metadata()
    problems = []
    if set(got) != set(ref):
        problems.append(f"names {sorted(got)} != {sorted(ref)}")
    for name, want in ref.items():
        have = got.get(name)
        if have is None:
            continue
        if have.dtype != want.dtype or have.shape != want.shape or not torch.equal(have, want):
            problems.append(f"{name}: got {have.dtype} {tuple(have.shape)} {have.flatten()[:8].tolist()}, "
                            f"want {want.dtype} {tuple(want.shape)} {want.flatten()[:8].tolist()}")
    if metadata != METADATA:
        problems.append(f"metadata {metadata} != {METADATA}")
    for p in problems:
        print("MISMATCH", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
