#!/usr/bin/env python3
"""Builds a HuggingFace hub cache offline, laid out as `hf download` leaves it, from local files.

A model directory becomes models--ORG--NAME and JSONL splits become datasets--ORG--NAME with
data/<split>-00000-of-00001.parquet (the hub's own layout for Parquet datasets): blobs named by
content hash, snapshots/<commit>/ of relative symlinks into blobs, refs/main naming the commit.
transformers, datasets and TRL then load both by name with HF_HUB_OFFLINE=1, and so does Tilt.

  python scripts/make_hub_cache.py --cache /tmp/hub \
      --model /tmp/llama-small --model-id tilt-demo/llama-small \
      --dataset train=recipes/data/pref-tiny.jsonl --dataset test=recipes/data/pref-tiny-eval.jsonl \
      --dataset-id tilt-demo/pref-tiny

Needs pyarrow for --dataset.
"""
import argparse
import hashlib
import io
import json
import os
import shutil


def put(repo, commit, rel, data):
    """Stores data as a blob and links snapshots/<commit>/<rel> to it, as huggingface_hub does."""
    digest = hashlib.sha256(data).hexdigest()
    blob = os.path.join(repo, "blobs", digest)
    os.makedirs(os.path.dirname(blob), exist_ok=True)
    if not os.path.exists(blob):
        with open(blob, "wb") as f:
            f.write(data)
    link = os.path.join(repo, "snapshots", commit, rel)
    os.makedirs(os.path.dirname(link), exist_ok=True)
    if os.path.lexists(link):
        os.remove(link)
    os.symlink(os.path.relpath(blob, os.path.dirname(link)), link)
    return digest


def finish(repo, commit, revision):
    os.makedirs(os.path.join(repo, "refs"), exist_ok=True)
    with open(os.path.join(repo, "refs", revision), "w") as f:
        f.write(commit)  # no newline, as huggingface_hub writes it


def commit_of(digests):
    return hashlib.sha1("".join(sorted(digests)).encode()).hexdigest()


def add_model(cache, src, repo_id, revision):
    repo = os.path.join(cache, "models--" + repo_id.replace("/", "--"))
    files = sorted(f for f in os.listdir(src) if os.path.isfile(os.path.join(src, f)))
    blobs = {f: open(os.path.join(src, f), "rb").read() for f in files}
    commit = commit_of(hashlib.sha256(b).hexdigest() for b in blobs.values())
    for f, b in blobs.items():
        put(repo, commit, f, b)
    finish(repo, commit, revision)
    return os.path.join(repo, "snapshots", commit)


def add_dataset(cache, splits, repo_id, revision):
    import pyarrow as pa
    import pyarrow.json as pj
    import pyarrow.parquet as pq

    repo = os.path.join(cache, "datasets--" + repo_id.replace("/", "--"))
    blobs = {}
    for split, path in splits:
        table = pj.read_json(path)
        buf = io.BytesIO()
        pq.write_table(table, buf, compression="snappy")
        blobs["data/%s-00000-of-00001.parquet" % split] = buf.getvalue()
    card = "---\nconfigs:\n- config_name: default\n  data_files:\n"
    for split, _ in splits:
        card += "  - split: %s\n    path: data/%s-*\n" % (split, split)
    blobs["README.md"] = (card + "---\n").encode()
    commit = commit_of(hashlib.sha256(b).hexdigest() for b in blobs.values())
    for rel, b in blobs.items():
        put(repo, commit, rel, b)
    finish(repo, commit, revision)
    return os.path.join(repo, "snapshots", commit)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", required=True, help="the hub cache directory (HF_HUB_CACHE)")
    ap.add_argument("--model", help="a local HF model directory")
    ap.add_argument("--model-id", help="its hub name, org/name")
    ap.add_argument("--dataset", action="append", default=[], help="SPLIT=FILE.jsonl, repeatable")
    ap.add_argument("--dataset-id", help="the dataset's hub name, org/name")
    ap.add_argument("--revision", default="main")
    a = ap.parse_args()
    os.makedirs(a.cache, exist_ok=True)
    if a.model:
        print(add_model(a.cache, a.model, a.model_id, a.revision))
    if a.dataset:
        splits = [tuple(s.split("=", 1)) for s in a.dataset]
        print(add_dataset(a.cache, splits, a.dataset_id, a.revision))


if __name__ == "__main__":
    main()
