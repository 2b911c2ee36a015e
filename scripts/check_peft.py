"""Checks that PEFT loads a Tilt LoRA checkpoint unchanged and computes what Tilt computes with it.

    $VENV/bin/python scripts/check_peft.py CHECKPOINT IN.jsonl TILT_LOGPROBS.jsonl

CHECKPOINT is a `tilt train` checkpoint of a recipe with `model.lora` (adapter_config.json +
adapter_model.safetensors, base_model_name_or_path naming the base). IN.jsonl holds lines with
prompt_ids/completion_ids; TILT_LOGPROBS.jsonl is what
`tilt logprobs --model CHECKPOINT --input IN.jsonl --output TILT_LOGPROBS.jsonl` wrote for them. Prints one JSON line with the largest difference; exits 1 above
1e-4. Dev-time only (needs torch, transformers and peft: ../shared/anchor/setup.sh builds them).
"""
import json
import sys

import torch
from peft import PeftConfig, PeftModel
from transformers import AutoModelForCausalLM


def main(ckpt, in_file, tilt_file):
    cfg = PeftConfig.from_pretrained(ckpt)
    base = AutoModelForCausalLM.from_pretrained(cfg.base_model_name_or_path, torch_dtype=torch.float32,
                                                attn_implementation="eager")
    model = PeftModel.from_pretrained(base, ckpt)  # unchanged: PEFT's own loader
    model.eval()
    worst = 0.0
    n = 0
    for line, out in zip(open(in_file), open(tilt_file)):
        row, tilt = json.loads(line), json.loads(out)
        p, c = row["prompt_ids"], row["completion_ids"]
        ids = torch.tensor([p + c])
        with torch.no_grad():
            logits = model(ids).logits.float()
        lp = torch.log_softmax(logits[0, :-1], -1).gather(-1, ids[0, 1:, None])[:, 0][len(p) - 1:]
        got = torch.tensor(tilt["logprobs"])
        worst = max(worst, (lp - got).abs().max().item())
        n += 1
    print(json.dumps({"checkpoint": ckpt, "lines": n, "max_abs_diff": worst,
                      "adapted_modules": len(cfg.target_modules)}))
    sys.exit(0 if worst <= 1e-4 else 1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
