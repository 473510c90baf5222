"""The official `openai` client against `fin-r1 serve`, as an analyst's notebook would use it.
usage: openai_client_check.py BASE_URL API_KEY MODEL
Prints one JSON object with what it saw; exits non-zero on any failed expectation."""
import json, sys

import openai

base, key, model = sys.argv[1:4]
client = openai.OpenAI(base_url=base, api_key=key)
question = [{"role": "user", "content": "What is the present value of $1,000 in 2 years at 5%?"}]

models = [m.id for m in client.models.list().data]
assert models == [model], models

r = client.chat.completions.create(model=model, messages=question, temperature=0, max_tokens=200)
msg = r.choices[0].message
reasoning = (msg.model_extra or {}).get("reasoning_content")
# vLLM 0.16 and later name it `reasoning`: both are sent, the same text.
assert (msg.model_extra or {}).get("reasoning") == reasoning, msg.model_extra
assert r.choices[0].finish_reason == "stop", r.choices[0].finish_reason
assert r.usage.completion_tokens_details.reasoning_tokens > 0, r.usage

stream = client.chat.completions.create(model=model, messages=question, temperature=0, max_tokens=200,
                                        stream=True, stream_options={"include_usage": True})
s_reasoning, s_content, finish, usage = "", "", None, None
for chunk in stream:
    if chunk.usage:
        usage = chunk.usage
    for c in chunk.choices:
        extra = c.delta.model_extra or {}
        s_reasoning += extra.get("reasoning_content") or ""
        assert extra.get("reasoning") == extra.get("reasoning_content"), extra
        s_content += c.delta.content or ""
        finish = c.finish_reason or finish

try:
    openai.OpenAI(base_url=base, api_key="wrong-key").models.list()
    bad_key = "accepted"
except openai.AuthenticationError as e:
    bad_key = e.status_code

try:
    client.chat.completions.create(model=model, messages=question, n=2)
    n2 = "accepted"
except openai.BadRequestError as e:
    n2 = e.status_code

print(json.dumps({
    "models": models, "content": msg.content, "reasoning_content": reasoning,
    "stream_content": s_content, "stream_reasoning": s_reasoning, "stream_finish": finish,
    "stream_usage_completion": usage.completion_tokens if usage else None,
    "bad_key": bad_key, "n2": n2,
}))
