"""Drives a running `tilt serve` with the official `openai` Python client, as a new user would.

    $VENV/bin/python scripts/check_openai.py URL [--api-key KEY] [--model NAME]

URL is the server's root (http://127.0.0.1:8000); the model needs tokenizer.json and a chat template
(chat_template in tokenizer_config.json). Each check prints one line, `ok` or `FAIL` with what was
wrong; exits 1 when any failed. Covered: completions with a text prompt, token ids, a list of prompts
and stream=True; chat completions plain and streamed; max_tokens 0, a string max_tokens and a negative
temperature answered 400 naming the field; with --api-key, a client without the key answered 401.
Needs only `pip install openai`.
"""
import argparse
import json
import sys
import urllib.error
import urllib.request

import openai


failures = []


def check(name, fn):
    try:
        detail = fn()
        print(f"ok    {name}" + (f": {detail}" if detail else ""))
    except Exception as e:  # a check's failure is reported, the others still run
        failures.append(name)
        print(f"FAIL  {name}: {type(e).__name__}: {e}")


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def refused(fn, status, param):
    """Runs fn, which must fail with an HTTP error of this status naming this field."""
    try:
        fn()
    except openai.APIStatusError as e:
        body = e.body if isinstance(e.body, dict) else {}
        expect(e.status_code == status, f"status {e.status_code}, expected {status}: {e.body}")
        got = body.get("param")
        expect(got == param, f"param {got!r}, expected {param!r}: {e.body}")
        return f"{e.status_code} param={got!r} message={body.get('message')!r}"
    raise AssertionError(f"no error: expected {status} naming {param!r}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--api-key", default=None)
    ap.add_argument("--model", default=None, help="default: the first of GET /v1/models")
    a = ap.parse_args()
    client = openai.OpenAI(base_url=a.url.rstrip("/") + "/v1", api_key=a.api_key or "none",
                           max_retries=0, timeout=120)
    model = a.model or client.models.list().data[0].id
    print(f"server {a.url}, model {model}, openai {openai.__version__}")

    def text_prompt():
        r = client.completions.create(model=model, prompt="Once upon a time", max_tokens=8, seed=1)
        expect(len(r.choices) == 1 and r.choices[0].finish_reason in ("stop", "length"), r)
        expect(r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens, r.usage)
        return f"{r.choices[0].text!r}, usage {r.usage.prompt_tokens}+{r.usage.completion_tokens}"

    def id_prompt():
        r = client.completions.create(model=model, prompt=[5, 6, 7], max_tokens=4, seed=1,
                                      logprobs=1)
        expect(r.usage.prompt_tokens == 3, r.usage)
        expect(len(r.choices[0].logprobs.tokens) == r.usage.completion_tokens, r.choices[0])
        return f"{r.choices[0].text!r}, logprobs {r.choices[0].logprobs.token_logprobs}"

    def prompt_list():
        r = client.completions.create(model=model, prompt=["The cat", "The dog", "A bird"],
                                      max_tokens=5, n=2, seed=2)
        expect([c.index for c in r.choices] == list(range(6)), [c.index for c in r.choices])
        return f"{len(r.choices)} choices, indices {[c.index for c in r.choices]}"

    def streamed():
        whole = client.completions.create(model=model, prompt="Hello", max_tokens=10, seed=4)
        chunks = list(client.completions.create(model=model, prompt="Hello", max_tokens=10, seed=4,
                                                stream=True))
        text = "".join(c.choices[0].text for c in chunks if c.choices)
        expect(len(chunks) > 1, f"{len(chunks)} chunks")
        expect(text == whole.choices[0].text, f"streamed {text!r} != {whole.choices[0].text!r}")
        expect(chunks[-1].choices[0].finish_reason == whole.choices[0].finish_reason, chunks[-1])
        return f"{len(chunks)} chunks, the same text as unstreamed"

    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi!"}]

    def chat():
        r = client.chat.completions.create(model=model, messages=messages, max_tokens=8, seed=3,
                                           n=2, logprobs=True, top_logprobs=2)
        expect(r.object == "chat.completion" and len(r.choices) == 2, r)
        expect(r.choices[0].message.role == "assistant", r.choices[0])
        expect(len(r.choices[0].logprobs.content[0].top_logprobs) == 2, r.choices[0].logprobs)
        return f"{r.choices[0].message.content!r}"

    def chat_stream():
        whole = client.chat.completions.create(model=model, messages=messages, max_tokens=8, seed=3)
        chunks = list(client.chat.completions.create(model=model, messages=messages, max_tokens=8,
                                                     seed=3, stream=True,
                                                     stream_options={"include_usage": True}))
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        expect(text == whole.choices[0].message.content, f"{text!r} != {whole.choices[0].message}")
        expect(chunks[0].choices[0].delta.role == "assistant", chunks[0])
        expect(chunks[-1].usage.completion_tokens == whole.usage.completion_tokens, chunks[-1])
        return f"{len(chunks)} chunks, the same text as unstreamed, usage in the last"

    check("completions: a text prompt", text_prompt)
    check("completions: token ids", id_prompt)
    check("completions: a list of prompts, n=2", prompt_list)
    check("completions: stream=True", streamed)
    check("chat: plain, n=2, logprobs", chat)
    check("chat: stream=True", chat_stream)
    check("max_tokens=0 is refused", lambda: refused(
        lambda: client.completions.create(model=model, prompt="x", max_tokens=0), 400,
        "max_tokens"))
    check("max_tokens='lots' is refused", lambda: refused(
        lambda: client.completions.create(model=model, prompt="x", extra_body={"max_tokens": "lots"}),
        400, "max_tokens"))
    check("temperature=-1 is refused", lambda: refused(
        lambda: client.chat.completions.create(model=model, messages=messages, temperature=-1),
        400, "temperature"))
    check("an unknown field is refused", lambda: refused(
        lambda: client.completions.create(model=model, prompt="x", extra_body={"max_token": 3}),
        400, "max_token"))
    if a.api_key:
        keyless = openai.OpenAI(base_url=a.url.rstrip("/") + "/v1", api_key="wrong-key",
                                max_retries=0)
        check("a wrong key gets 401", lambda: refused(
            lambda: keyless.completions.create(model=model, prompt="x", max_tokens=2), 401, None))

        def no_key():  # the openai client always sends a key: a bare request sends none
            req = urllib.request.Request(a.url.rstrip("/") + "/v1/completions",
                                         data=json.dumps({"prompt": "x"}).encode(),
                                         headers={"Content-Type": "application/json"})
            try:
                urllib.request.urlopen(req, timeout=30)
            except urllib.error.HTTPError as e:
                body = json.loads(e.read())
                expect(e.code == 401, f"status {e.code}: {body}")
                return f"401 {body['error']['message']!r}"
            raise AssertionError("no error without a key")

        check("no key gets 401", no_key)
    print(f"{len(failures)} failed" if failures else "all passed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
