"""OpenAI Python SDK against Outcrop's /v1/chat/completions.

Driven by internal/httpapi/chat_interop_test.go. Reads OUTCROP_URL (the
server root) and OUTCROP_MODEL, runs the scenario named by argv[1], and
prints one JSON object with what the test checks.

Scenarios:
  chat   - a plain completion, a streamed one with include_usage, the model
           list, and an unknown model (NotFoundError)
  tools  - tool calls, streamed and not, and the tool-result round trip
  tools_live - the same against a real model that may answer in prose: it
           reports what came back, and when no call came it sends the
           tool-result turn a client would have sent after one
  stream_error - a stream that fails after its first chunk (APIError)
"""
import json
import os
import sys

import openai
from openai import OpenAI

client = OpenAI(base_url=os.environ["OUTCROP_URL"] + "/v1", api_key="sk-outcrop-test", max_retries=0)
MODEL = os.environ["OUTCROP_MODEL"]


def chat():
    out = {}
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL,
        messages=[{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Say hello."}],
        max_tokens=8,
        temperature=0,
        seed=1,
    )
    r = raw.parse()
    out["completion"] = {
        "content": r.choices[0].message.content,
        "finish_reason": r.choices[0].finish_reason,
        "prompt_tokens": r.usage.prompt_tokens,
        "completion_tokens": r.usage.completion_tokens,
        "deployment": raw.headers.get("x-outcrop-deployment"),
        "request_id": raw.headers.get("x-request-id"),
    }
    text, chunks, usage, finish = "", 0, None, None
    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Say hello."}],
        max_tokens=8,
        stream=True,
        stream_options={"include_usage": True},
        extra_body={"performance_config": {"latency": "optimized"}},
    )
    for chunk in stream:
        chunks += 1
        if chunk.usage is not None:
            usage = chunk.usage.total_tokens
        for c in chunk.choices:
            text += c.delta.content or ""
            finish = c.finish_reason or finish
    out["stream"] = {"text": text, "chunks": chunks, "total_tokens": usage, "finish_reason": finish}
    out["models"] = [m.id for m in client.models.list()]
    try:
        client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "hi"}])
        out["not_found"] = None
    except openai.NotFoundError as e:
        out["not_found"] = e.status_code
    try:
        client.chat.completions.create(model=MODEL, n=2, messages=[{"role": "user", "content": "hi"}])
        out["bad_request"] = None
    except openai.BadRequestError as e:
        out["bad_request"] = e.status_code
    return out


TOOLS = [{
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}]


def tools():
    out = {}
    msgs = [{"role": "user", "content": "Weather in Paris and Oslo?"}]
    r = client.chat.completions.create(model=MODEL, messages=msgs, tools=TOOLS, tool_choice="required")
    m = r.choices[0].message
    out["completion"] = {
        "finish_reason": r.choices[0].finish_reason,
        "calls": [[c.id, c.function.name, json.loads(c.function.arguments)] for c in m.tool_calls],
        "cached_tokens": r.usage.prompt_tokens_details.cached_tokens,
    }
    calls, finish = {}, None
    for chunk in client.chat.completions.create(model=MODEL, messages=msgs, tools=TOOLS, stream=True):
        for c in chunk.choices:
            finish = c.finish_reason or finish
            for tc in c.delta.tool_calls or []:
                cur = calls.setdefault(tc.index, {"id": None, "name": None, "arguments": ""})
                if tc.id:
                    cur["id"] = tc.id
                if tc.function and tc.function.name:
                    cur["name"] = tc.function.name
                if tc.function and tc.function.arguments:
                    cur["arguments"] += tc.function.arguments
    out["stream"] = {
        "finish_reason": finish,
        "calls": [[v["id"], v["name"], json.loads(v["arguments"])] for _, v in sorted(calls.items())],
    }
    msgs.append(m.model_dump(exclude_none=True))
    for c in m.tool_calls:
        msgs.append({"role": "tool", "tool_call_id": c.id, "content": json.dumps({"temp_c": 20})})
    final = client.chat.completions.create(model=MODEL, messages=msgs, tools=TOOLS)
    out["final"] = {
        "content": final.choices[0].message.content,
        "reasoning_content": getattr(final.choices[0].message, "reasoning_content", None),
    }
    return out


def tools_live():
    out = {}
    msgs = [{"role": "user", "content": "What is the weather in Paris? Use the get_weather tool."}]
    kw = dict(model=MODEL, tools=TOOLS, max_tokens=48, temperature=0, seed=1)
    r = client.chat.completions.create(messages=msgs, **kw)
    m = r.choices[0].message
    out["completion"] = {
        "finish_reason": r.choices[0].finish_reason,
        "content": m.content,
        "calls": [[c.id, c.function.name, json.loads(c.function.arguments)] for c in m.tool_calls or []],
        "prompt_tokens": r.usage.prompt_tokens,
    }
    text, calls, finish = "", {}, None
    for chunk in client.chat.completions.create(messages=msgs, stream=True, **kw):
        for c in chunk.choices:
            finish = c.finish_reason or finish
            text += c.delta.content or ""
            for tc in c.delta.tool_calls or []:
                cur = calls.setdefault(tc.index, {"name": None, "arguments": ""})
                if tc.function and tc.function.name:
                    cur["name"] = tc.function.name
                if tc.function and tc.function.arguments:
                    cur["arguments"] += tc.function.arguments
    out["stream"] = {"finish_reason": finish, "text": text, "calls": [[v["name"], v["arguments"]] for _, v in sorted(calls.items())]}
    if m.tool_calls:
        msgs.append(m.model_dump(exclude_none=True))
        call_id = m.tool_calls[0].id
    else:
        call_id = "call_1"
        msgs.append({"role": "assistant", "content": None, "tool_calls": [
            {"id": call_id, "type": "function", "function": {"name": "get_weather", "arguments": json.dumps({"city": "Paris"})}}]})
    msgs.append({"role": "tool", "tool_call_id": call_id, "content": json.dumps({"temp_c": 21})})
    final = client.chat.completions.create(messages=msgs, **kw)
    out["final"] = {
        "content": final.choices[0].message.content,
        "finish_reason": final.choices[0].finish_reason,
        "prompt_tokens": final.usage.prompt_tokens,
    }
    return out


def stream_error():
    text = ""
    try:
        for chunk in client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True):
            for c in chunk.choices:
                text += c.delta.content or ""
        return {"text": text, "error": None}
    except openai.APIError as e:
        return {"text": text, "error": type(e).__name__}


print(json.dumps({"chat": chat, "tools": tools, "tools_live": tools_live, "stream_error": stream_error}[sys.argv[1]]()))
