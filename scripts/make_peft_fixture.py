"""Makes the PEFT fixtures under src/test/resources/fixtures/peft/: adapters written by PEFT itself on
the hf-tiny base models, with what PEFT computes for them, so the Java tests check that Tilt reads
PEFT's files and computes PEFT's function without Python in CI. Dev-time only; the output is
committed (a few hundred KB).

    $VENV/bin/python scripts/make_peft_fixture.py src/test/resources/fixtures

For each case: adapter_config.json + adapter_model.safetensors (PEFT's save_pretrained), and
expected.jsonl with, per input line of the base fixture, the completion log-probs with the adapter
on, with it disabled (the base), and after merge_and_unload(). lora_B is set to random values (PEFT
starts it at zero, which would make the adapter a no-op and the test blind).
"""
import json
import os
import shutil
import sys

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM

CASES = {
    # name: (base fixture, LoraConfig kwargs)
    "llama_qv": ("hf-tiny/llama_gqa", dict(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"])),
    "llama_all_rslora": ("hf-tiny/llama_gqa", dict(r=8, lora_alpha=4, target_modules="all-linear", use_rslora=True)),
    "gpt2_all": ("hf-tiny/gpt2", dict(r=4, lora_alpha=16, target_modules="all-linear")),
    "neox_qkv": ("hf-tiny/gpt_neox", dict(r=2, lora_alpha=2, target_modules=["query_key_value", "dense_4h_to_h"])),
}


def logprobs(model, prompt, completion):
    ids = torch.tensor([prompt + completion])
    with torch.no_grad():
        logits = model(ids).logits.float()
    lp = torch.log_softmax(logits[0, :-1], -1)
    targets = ids[0, 1:]
    out = lp.gather(-1, targets[:, None])[:, 0]
    return out[len(prompt) - 1:].tolist()


def main(root):
    for name, (base, kwargs) in CASES.items():
        base_dir = os.path.join(root, base)
        out = os.path.join(root, "peft", name)
        shutil.rmtree(out, ignore_errors=True)
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_pretrained(base_dir, torch_dtype=torch.float32, attn_implementation="eager")
        model.eval()
        config = LoraConfig(task_type="CAUSAL_LM", lora_dropout=0.0, **kwargs)
        peft = get_peft_model(model, config)
        g = torch.Generator().manual_seed(1)
        with torch.no_grad():
            for n, p in peft.named_parameters():
                if "lora_B" in n:
                    p.copy_(torch.randn(p.shape, generator=g) * 0.3)
        peft.eval()
        peft.save_pretrained(out)
        lines = [json.loads(l) for l in open(os.path.join(base_dir, "input.jsonl"))]
        rows = []
        for line in lines:
            p, c = line["prompt_ids"], line["completion_ids"]
            on = logprobs(peft, p, c)
            with peft.disable_adapter():
                off = logprobs(peft, p, c)
            rows.append({"adapted": on, "base": off})
        merged = peft.merge_and_unload()
        for row, line in zip(rows, lines):
            row["merged"] = logprobs(merged, line["prompt_ids"], line["completion_ids"])
        with open(os.path.join(out, "expected.jsonl"), "w") as f:
            for row in rows:
                f.write(json.dumps(row) + "\n")
        with open(os.path.join(out, "fixture.json"), "w") as f:
            json.dump({"base": base, "lora": {k: v for k, v in kwargs.items()},
                       "torch": torch.__version__, "peft": __import__("peft").__version__,
                       "transformers": __import__("transformers").__version__}, f, indent=1)
        print("wrote", out)


if __name__ == "__main__":
    main(sys.argv[1])
