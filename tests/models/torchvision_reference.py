"""The python side of tests/models/vision_torchvision_test.cpp ("[models][torch]").

  torchvision_reference.py DIR...

Each DIR holds one model as ds built it:
  case.txt    "model NAME", "kwargs K=V ..." (python literals for torchvision's builder), "mode keys|train",
              "input N C H W"
  state.txt   one line per state_dict entry: "KEY D0 D1 ..." in ds's order
  state.bin   the entries' values as float32, concatenated (mode train only)
  input.bin   the input images as float64 (mode train only)
This script builds torchvision's model of that name with weights=None and the kwargs, and requires the same
state_dict keys with the same shapes. In mode train it loads ds's values, switches to float64, runs a forward pass in
training mode with every Dropout and StochasticDepth in eval mode (so batch norm uses batch statistics and nothing is
random), and writes the outputs (the logits, then any auxiliary logits) as float64 to DIR/output.bin. Mismatches are
written to DIR/errors.txt and the exit status is 1.
"""
import ast
import os
import sys
import warnings

import torch
import torchvision
from torchvision.ops import StochasticDepth

warnings.filterwarnings("ignore")


def read_case(d):
    case = {}
    with open(os.path.join(d, "case.txt")) as f:
        for line in f:
            key, _, rest = line.strip().partition(" ")
            case[key] = rest
    kwargs = {}
    for item in case.get("kwargs", "").split():
        k, _, v = item.partition("=")
        kwargs[k] = ast.literal_eval(v)
    entries = []
    with open(os.path.join(d, "state.txt")) as f:
        for line in f:
            parts = line.split()
            entries.append((parts[0], [int(s) for s in parts[1:]]))
    return case, kwargs, entries


def check_keys(model, entries):
    errors = []
    ref = {k: list(v.shape) for k, v in model.state_dict().items()}
    ours = dict(entries)
    for k in ref:
        if k not in ours:
            errors.append(f"missing in ds: {k} {ref[k]}")
        elif ours[k] != ref[k]:
            errors.append(f"shape of {k}: ds {ours[k]}, torchvision {ref[k]}")
    errors += [f"not in torchvision: {k} {v}" for k, v in entries if k not in ref]
    return errors


def run_train(d, model, entries, case):
    raw = open(os.path.join(d, "state.bin"), "rb").read()
    values = torch.frombuffer(bytearray(raw), dtype=torch.float32)
    state, offset = {}, 0
    for key, shape in entries:
        n = 1
        for s in shape:
            n *= s
        state[key] = values[offset:offset + n].reshape(shape)
        offset += n
    sd = model.state_dict()
    for key, t in sd.items():
        t.copy_(state[key].to(t.dtype))
    model = model.double()
    model.train()
    for m in model.modules():
        if isinstance(m, (torch.nn.Dropout, StochasticDepth)):
            m.eval()
    shape = [int(s) for s in case["input"].split()]
    x = torch.frombuffer(bytearray(open(os.path.join(d, "input.bin"), "rb").read()), dtype=torch.float64).reshape(shape)
    with torch.no_grad():
        out = model(x)
    outs = list(out) if isinstance(out, tuple) else [out]
    with open(os.path.join(d, "output.bin"), "wb") as f:
        for o in outs:
            f.write(o.contiguous().numpy().tobytes())


def main():
    status = 0
    for d in sys.argv[1:]:
        case, kwargs, entries = read_case(d)
        torch.manual_seed(0)
        model = getattr(torchvision.models, case["model"])(weights=None, **kwargs)
        errors = check_keys(model, entries)
        if not errors and case["mode"] == "train":
            run_train(d, model, entries, case)
        if errors:
            status = 1
            with open(os.path.join(d, "errors.txt"), "w") as f:
                f.write("\n".join(errors) + "\n")
    return status


if __name__ == "__main__":
    sys.exit(main())
