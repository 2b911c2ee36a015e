#!/usr/bin/env python3
"""Writes the Parquet and Arrow fixtures of DataFormatsTest under src/test/resources/data/.

Each data file gets a JSON Lines twin with the same rows (pyarrow's to_pylist, json.dumps), which
the test parses as the independent reference. Needs pyarrow and datasets:
    python3 -m venv /tmp/v && /tmp/v/bin/pip install pyarrow datasets
    /tmp/v/bin/python scripts/make_data_fixtures.py
"""
import json
import os
import shutil
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import datasets

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "test", "resources", "data")

MSG = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))


def chat(*turns):
    return [{"role": r, "content": c} for r, c in turns]


def jsonl(rows, name):
    with open(os.path.join(OUT, name), "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def parquet(table, name, **kw):
    pq.write_table(table, os.path.join(OUT, name), **kw)
    jsonl(table.to_pylist(), name.replace(".parquet", ".jsonl"))


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)

    # Preference pairs, standard, two row groups, with a struct column holding a list and a null.
    standard = pa.table(
        {
            "prompt": ["The sky is", "Water is", "Fire is", "Ice is"],
            "chosen": [" blue.", " wet.", " hot.", " cold."],
            "rejected": [" green.", " dry.", " cold.", " hot."],
            "meta": pa.array(
                [
                    {"source": "a", "tags": ["x", "y"], "score": 0.5},
                    {"source": None, "tags": [], "score": 1.25},
                    {"source": "c", "tags": None, "score": None},
                    {"source": "d", "tags": ["é"], "score": -2.0},
                ],
                pa.struct([("source", pa.string()), ("tags", pa.list_(pa.string())), ("score", pa.float64())]),
            ),
        }
    )
    parquet(standard, "pref_standard.parquet", row_group_size=2)

    conversational = pa.table(
        {
            "prompt": pa.array([chat(("user", "What color is the sky?")), chat(("user", "Is water wet?"))], MSG),
            "chosen": pa.array([chat(("assistant", "It is blue.")), chat(("assistant", "Yes."))], MSG),
            "rejected": pa.array([chat(("assistant", "It is green.")), chat(("assistant", "No."))], MSG),
        }
    )
    parquet(conversational, "pref_conversational.parquet")

    unpaired = pa.table(
        {
            "prompt": ["The sky is", "The sky is", "Water is"],
            "completion": [" blue.", " green.", " wet."],
            "label": [True, False, True],
        }
    )
    parquet(unpaired, "unpaired.parquet")

    prompts = pa.table({"prompt": ["1 + 1 =", "2 + 2 ="], "answer": ["2", "4"]})
    parquet(prompts, "prompts.parquet")
    prompts_chat = pa.table({"prompt": pa.array([chat(("user", "1 + 1 =")), chat(("user", "2 + 2 ="))], MSG)})
    parquet(prompts_chat, "prompts_chat.parquet")

    sft_pc = pa.table({"prompt": ["The sky is", "Water is"], "completion": [" blue.", " wet."]})
    parquet(sft_pc, "sft_prompt_completion.parquet", compression="zstd")
    sft_messages = pa.table(
        {
            "messages": pa.array(
                [
                    chat(("user", "Hi"), ("assistant", "Hello!")),
                    chat(("system", "Be brief."), ("user", "Sky?"), ("assistant", "Blue.")),
                ],
                MSG,
            )
        }
    )
    parquet(sft_messages, "sft_messages.parquet", compression="gzip")
    parquet(pa.table({"text": ["The sky is blue.", "Water is wet."]}), "lm_text.parquet", compression="none")

    # Other column names, mapped by data.columns {prompt: question, chosen: good, rejected: bad}.
    renamed = standard.select(["prompt", "chosen", "rejected"]).rename_columns(["question", "good", "bad"])
    parquet(renamed, "renamed.parquet")

    # A folder of two shards (read in name order) and its JSONL twin.
    os.makedirs(os.path.join(OUT, "shards"))
    pq.write_table(standard.slice(0, 3), os.path.join(OUT, "shards", "part-00000.parquet"))
    pq.write_table(standard.slice(3, 1), os.path.join(OUT, "shards", "part-00001.parquet"))
    jsonl(standard.to_pylist(), "shards.jsonl")

    # save_to_disk: a Dataset (Arrow stream files) and a DatasetDict with two splits.
    datasets.Dataset(conversational).save_to_disk(os.path.join(OUT, "saved_dataset"))
    dd = datasets.DatasetDict(
        {"train": datasets.Dataset(standard.slice(0, 3)), "test": datasets.Dataset(standard.slice(3, 1))}
    )
    dd.save_to_disk(os.path.join(OUT, "saved_dict"))
    jsonl(standard.slice(0, 3).to_pylist(), "saved_dict_train.jsonl")
    jsonl(standard.slice(3, 1).to_pylist(), "saved_dict_test.jsonl")

    # The paper's released preference sets (tilt data from-paper), as the hub stores them.
    paper = pa.table({
        "prompt": ["Name a fruit.", "Say hi."],
        "y_ref": ["x", "y"],
        "y_w": ["Apple.", "Hi."],
        "y_l": ["A fruit is apple.", "Hello there, friend."],
        "y_w_score": [-6.0, -3.0],
        "y_l_score": [-17.0, -20.0],
    })
    parquet(paper, "paper_pairs.parquet")

    # Bad files: a column of the wrong type, a missing column, a truncated footer, a damaged page.
    pq.write_table(pa.table({"prompt": ["a", "b"], "chosen": [1, 2], "rejected": ["x", "y"]}), os.path.join(OUT, "wrong_type.parquet"))
    pq.write_table(pa.table({"prompt": ["a"], "chosen": ["x"]}), os.path.join(OUT, "missing_column.parquet"))
    with open(os.path.join(OUT, "pref_standard.parquet"), "rb") as f:
        whole = f.read()
    with open(os.path.join(OUT, "truncated.parquet"), "wb") as f:
        f.write(whole[: len(whole) - 20])
    with open(os.path.join(OUT, "not_parquet.parquet"), "w") as f:
        f.write('{"prompt": "this is JSON"}\n')
    # the snappy data page of "chosen" in row group 1: its compressed bytes (after the page
    # header) overwritten, so the footer and page headers read and the page does not decode
    meta = pq.ParquetFile(os.path.join(OUT, "pref_standard.parquet")).metadata
    col = meta.row_group(1).column(1)
    assert col.path_in_schema == "chosen"
    start = col.dictionary_page_offset if col.has_dictionary_page else col.data_page_offset
    end = start + col.total_compressed_size
    damaged = bytearray(whole)
    for i in range(end - 6, end):
        damaged[i] = 0xFF
    with open(os.path.join(OUT, "damaged_page.parquet"), "wb") as f:
        f.write(damaged)
    print("wrote", OUT, file=sys.stderr)


if __name__ == "__main__":
    main()
