"""Dev-time check that models written by `tilt init-model` load in HF transformers and score alike.

    for a in llama mistral qwen2 qwen3 gpt_neox gpt2; do
      ./tilt init-model --arch $a --preset tiny --out /tmp/init-$a
      ./tilt logprobs --model /tmp/init-$a --input IN.jsonl --output /tmp/out-$a.jsonl
    done
    $VENV/bin/python scripts/check_hf_load.py IN.jsonl /tmp/init-{llama,...} (pairs with /tmp/out-*.jsonl)

For each model directory: AutoModelForCausalLM must load with no missing or unexpected keys,
AutoTokenizer must load the tokenizer files, the ids of every line must equal Tilt's, and the
per-token log-probs must agree within 1e-4.
"""
import json
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer


def main(inp, dirs):
    lines = [json.loads(l) for l in open(inp)]
    worst_all = 0.0
    for d in dirs:
        arch = d.rstrip("/").split("init-")[-1]
        model, info = AutoModelForCausalLM.from_pretrained(d, output_loading_info=True, attn_implementation="eager")
        model.eval()
        bad = {k: v for k, v in info.items() if v and k != "mismatched_keys" or (k == "mismatched_keys" and v)}
        assert not bad, (d, bad)
        tok = AutoTokenizer.from_pretrained(d)
        outs = [json.loads(l) for l in open(f"/tmp/out-{arch}.jsonl")]
        worst = 0.0
        for l, o in zip(lines, outs):
            if "prompt_ids" in l:
                p, c = l["prompt_ids"], l["completion_ids"]
            elif "messages" in l:
                text = tok.apply_chat_template(l["messages"], add_generation_prompt=True, tokenize=False)
                p = tok(text, add_special_tokens=False)["input_ids"]
                c = tok(l["completion"], add_special_tokens=False)["input_ids"]
            else:
                p = tok(l["prompt"], add_special_tokens=False)["input_ids"]
                if tok.bos_token_id is not None and getattr(tok, "add_bos_token", False) or (
                        tok(" ")["input_ids"][:1] == [tok.bos_token_id]):
                    p = [tok.bos_token_id] + p
                c = tok(l["completion"], add_special_tokens=False)["input_ids"]
            assert c == o["completion_ids"], (d, l, c, o["completion_ids"])
            with torch.no_grad():
                logits = model(torch.tensor([p + c])).logits[0]
            logp = torch.log_softmax(logits.float(), -1)
            ref = [logp[len(p) - 1 + j, c[j]].item() for j in range(len(c))]
            worst = max(worst, max(abs(a - b) for a, b in zip(ref, o["logprobs"])))
        print(f"{arch}: loads cleanly, ids equal, max |logprob diff| {worst:.2e}")
        worst_all = max(worst_all, worst)
    assert worst_all < 1e-4, worst_all


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
