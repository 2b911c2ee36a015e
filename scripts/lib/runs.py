"""What the launcher checks (check-torchrun.sh, check-slurm.sh, check-pods.sh) compare: runs under
one work folder, by their losses in metrics.jsonl and a checkpoint's weights, bitwise."""
import filecmp
import json


def losses(work, run):
    """train/loss by step, from WORK/RUN/metrics.jsonl."""
    with open(f"{work}/{run}/metrics.jsonl") as f:
        return {j["step"]: j["train/loss"] for j in map(json.loads, f) if "train/loss" in j}


def same(work, run, ref, step):
    """Whether RUN has REF's losses and, byte for byte, its weights at STEP (false when either run
    or its checkpoint is missing: the check still prints its JSON line)."""
    w = f"/step-{step:06d}/model.safetensors"
    try:
        return losses(work, run) == losses(work, ref) and filecmp.cmp(
            f"{work}/{run}{w}", f"{work}/{ref}{w}", shallow=False)
    except FileNotFoundError:
        return False
