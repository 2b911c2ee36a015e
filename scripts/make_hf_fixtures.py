"""Reference outputs from HuggingFace transformers for model variants that shared/fixtures lacks.

Dev-time only (needs torch + transformers, e.g. the venv of shared/anchor/setup.sh); the outputs
are committed under src/test/resources/fixtures/hf-extra/ and the tests never run Python.

    $VENV/bin/python scripts/make_hf_fixtures.py src/test/resources/fixtures/hf-extra

Each variant: a tiny random model made by the transformers class itself (then every bias and norm
weight randomised, so a mis-keyed one changes the numbers), saved with save_pretrained, plus
input.jsonl / expected.jsonl in the same format as shared/fixtures/hf-tiny (fp32, eager attention):
completion_logprobs, greedy_ids (16 tokens, KV cache, EOS never stops), greedy_margins, last_logits.
"""
import json
import os
import sys

import torch
import transformers as tf

VARIANTS = {
    # sliding window much shorter than the sequences, GQA
    "mistral_window": lambda: tf.MistralConfig(
        vocab_size=320, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, sliding_window=5, max_position_embeddings=128,
        rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=False),
    # q/k norms, head_dim != hidden/heads, GQA
    "qwen3": lambda: tf.Qwen3Config(
        vocab_size=352, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, head_dim=24, max_position_embeddings=128,
        rms_norm_eps=1e-6, rope_theta=1000000.0, tie_word_embeddings=False, attention_bias=False),
    # llama3 rope scaling with a short original context (so it matters), MQA, biases, tied head
    "llama3_mqa_tied": lambda: tf.LlamaConfig(
        vocab_size=300, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=1, max_position_embeddings=128,
        rms_norm_eps=1e-5, tie_word_embeddings=True, attention_bias=True, mlp_bias=True,
        rope_theta=10000.0,
        rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                      "high_freq_factor": 4.0, "original_max_position_embeddings": 32}),
    # sequential residual, half the head dims rotate
    "neox_sequential": lambda: tf.GPTNeoXConfig(
        vocab_size=288, hidden_size=64, intermediate_size=192, num_hidden_layers=2,
        num_attention_heads=4, rotary_pct=0.5, use_parallel_residual=False,
        max_position_embeddings=128, tie_word_embeddings=False),
}

CLASSES = {"mistral_window": tf.MistralForCausalLM, "qwen3": tf.Qwen3ForCausalLM,
           "llama3_mqa_tied": tf.LlamaForCausalLM, "neox_sequential": tf.GPTNeoXForCausalLM}


def main(out_root):
    for name, make in VARIANTS.items():
        torch.manual_seed(1234)
        config = make()
        config.initializer_range = 0.2
        config._attn_implementation = "eager"
        model = CLASSES[name](config).eval()
        with torch.no_grad():
            for pname, p in model.named_parameters():
                if pname.endswith("bias") or "norm" in pname:
                    p.copy_(torch.randn_like(p) * 0.5 + (1.0 if "norm" in pname and pname.endswith("weight") else 0.0))
        out = os.path.join(out_root, name)
        os.makedirs(out, exist_ok=True)
        model.save_pretrained(out, safe_serialization=True)
        for extra in ("generation_config.json",):
            p = os.path.join(out, extra)
            if os.path.exists(p):
                os.remove(p)
        g = torch.Generator().manual_seed(99)
        lines_in, lines_out = [], []
        for i in range(8):
            plen = [1, 2, 5, 9, 14, 20, 27, 33][i]
            clen = [6, 1, 4, 7, 3, 9, 5, 8][i]
            ids = torch.randint(0, config.vocab_size, (plen + clen,), generator=g).tolist()
            prompt, completion = ids[:plen], ids[plen:]
            with torch.no_grad():
                x = torch.tensor([ids])
                logits = model(x).logits[0].float()
                logp = torch.log_softmax(logits, -1)
                comp = [logp[plen - 1 + j, completion[j]].item() for j in range(clen)]
                last = logits[plen - 1].tolist()
                gen = model.generate(torch.tensor([prompt]), attention_mask=torch.ones(1, len(prompt), dtype=torch.long), max_new_tokens=16, do_sample=False,
                                     min_new_tokens=16, eos_token_id=None, pad_token_id=0,
                                     # an explicit mask: generate would otherwise treat prompt tokens equal to pad_token_id as padding
                                     output_scores=True, return_dict_in_generate=True, use_cache=True)
                greedy = gen.sequences[0, plen:].tolist()
                margins = []
                for s in gen.scores:
                    top = torch.topk(s[0], 2).values
                    margins.append((top[0] - top[1]).item())
            lines_in.append({"prompt_ids": prompt, "completion_ids": completion})
            lines_out.append({"prompt_ids": prompt, "completion_ids": completion,
                              "completion_logprobs": comp, "greedy_ids": greedy,
                              "greedy_margins": margins, "last_logits": last})
        with open(os.path.join(out, "input.jsonl"), "w") as f:
            f.writelines(json.dumps(l) + "\n" for l in lines_in)
        with open(os.path.join(out, "expected.jsonl"), "w") as f:
            f.writelines(json.dumps(l) + "\n" for l in lines_out)
        with open(os.path.join(out, "ref_info.json"), "w") as f:
            json.dump({"transformers_version": tf.__version__, "torch_version": torch.__version__,
                       "attn_implementation": "eager", "dtype": "float32",
                       "min_greedy_margin": min(min(l["greedy_margins"]) for l in lines_out)}, f, indent=2)
        print(name, "min margin", min(min(l["greedy_margins"]) for l in lines_out))




def reward_model_fixture(out_root):
    """A LlamaForSequenceClassification with one label: expected.jsonl holds each input's score."""
    torch.manual_seed(77)
    config = tf.LlamaConfig(vocab_size=256, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                            num_labels=1, pad_token_id=0, tie_word_embeddings=False)
    config.initializer_range = 0.2
    config._attn_implementation = "eager"
    model = tf.LlamaForSequenceClassification(config).eval()
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if "norm" in pname:
                p.copy_(torch.randn_like(p) * 0.5 + 1.0)
    out = os.path.join(out_root, "llama_rm")
    os.makedirs(out, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    g = torch.Generator().manual_seed(5)
    with open(os.path.join(out, "input.jsonl"), "w") as fi, open(os.path.join(out, "expected.jsonl"), "w") as fe:
        for n in [1, 3, 7, 12, 20]:
            ids = torch.randint(1, 256, (n,), generator=g).tolist()  # no pad id 0 inside
            with torch.no_grad():
                score = model(torch.tensor([ids])).logits[0, 0].item()
            fi.write(json.dumps({"ids": ids}) + "\n")
            fe.write(json.dumps({"ids": ids, "score": score}) + "\n")
    print("llama_rm written")


if __name__ == "__main__":
    if "--rm-only" not in sys.argv:
        main(sys.argv[1])
    reward_model_fixture(sys.argv[1])
