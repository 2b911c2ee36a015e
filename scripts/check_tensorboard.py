"""Checks a Tilt run's TensorBoard event files with TensorBoard's own reader.

    $VENV/bin/python scripts/check_tensorboard.py RUN_DIR

RUN_DIR is a `tilt train` run directory of a recipe with `log.report_to: [jsonl, tensorboard]`.
Loads RUN_DIR/tensorboard with tensorboard's EventAccumulator (which checks each record's CRCs),
prints every tag with its number of steps, and compares the curves with RUN_DIR/metrics.jsonl:
every metric there must be a tag here (under the names of TensorBoardLog.tag), at the same steps,
each step once, with the same values as float32; the resolved recipe must be a text summary under
hparams/recipe. Exits 1 naming what is missing or different. Dev-time only (needs the tensorboard
wheel: python3 -m venv /tmp/tbvenv && /tmp/tbvenv/bin/pip install tensorboard).
"""
import json
import math
import os
import struct
import sys

import tensorboard
from tensorboard.backend.event_processing import event_accumulator as ea


def tag(metric):
    """TensorBoardLog.tag: what HF's rewrite_logs makes of TRL's log keys."""
    if metric.startswith("train/") or metric.startswith("eval/"):
        return metric
    return "train/" + ("learning_rate" if metric == "lr" else metric)


def f32(v):
    return struct.unpack("<f", struct.pack("<f", v))[0]


def same(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == b


def expected_curves(metrics_file):
    """tag -> {step: float32 value} from metrics.jsonl (NaN and infinities are strings there)."""
    curves = {}
    with open(metrics_file) as f:
        for line in f:
            row = json.loads(line)
            step = row.pop("step")
            for k, v in row.items():
                if v is None:
                    continue
                curves.setdefault(tag(k), {})[step] = f32(float(v))
    return curves


def main(run_dir):
    logdir = os.path.join(run_dir, "tensorboard")
    files = sorted(f for f in os.listdir(logdir) if "tfevents" in f)
    acc = ea.EventAccumulator(logdir, size_guidance={ea.SCALARS: 0, ea.TENSORS: 0})
    acc.Reload()
    tags = acc.Tags()
    print(f"tensorboard {tensorboard.__version__}: {len(files)} event files in {logdir}")
    problems = []
    for t in sorted(tags["scalars"]):
        steps = [e.step for e in acc.Scalars(t)]
        print(f"  scalar {t:36s} {len(steps):5d} steps ({steps[0]}..{steps[-1]})")
    for t in sorted(tags["tensors"]):
        events = acc.Tensors(t)
        print(f"  text   {t:36s} {len(events):5d} at steps {[e.step for e in events]}")
    recipes = acc.Tensors("hparams/recipe") if "hparams/recipe" in tags["tensors"] else []
    if not recipes or b"name:" not in recipes[0].tensor_proto.string_val[0]:
        problems.append("no resolved recipe under the text tag hparams/recipe")
    for t, want in sorted(expected_curves(os.path.join(run_dir, "metrics.jsonl")).items()):
        if t not in tags["scalars"]:
            problems.append(f"{t}: in metrics.jsonl, not in TensorBoard")
            continue
        got = [(e.step, e.value) for e in acc.Scalars(t)]
        steps = [s for s, _ in got]
        if len(set(steps)) != len(steps):
            problems.append(f"{t}: a step appears twice ({steps})")
        if sorted(set(steps)) != sorted(want):
            problems.append(f"{t}: steps {sorted(set(steps))} but metrics.jsonl has {sorted(want)}")
        bad = [(s, v, want[s]) for s, v in got if s in want and not same(v, want[s])]
        if bad:
            problems.append(f"{t}: values differ from metrics.jsonl at (step, tb, jsonl) {bad[:3]}")
    extra = sorted(set(tags["scalars"]) - set(expected_curves(os.path.join(run_dir, "metrics.jsonl"))))
    if extra:
        problems.append(f"in TensorBoard, not in metrics.jsonl: {extra}")
    for p in problems:
        print("MISSING/DIFFERENT: " + p)
    print("ok" if not problems else f"{len(problems)} problems")
    sys.exit(0 if not problems else 1)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
