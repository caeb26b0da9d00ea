"""The OpenAI Python SDK against Outcrop's API-key authentication.

Usage: python auth_openai.py BASE_URL MODEL CASES.json
CASES.json maps a case name to {"key": API key}. Prints one JSON object
mapping each case to {"ok": bool, "code": exception class, "status": int};
the Go test (internal/auth/interop_test.go) asserts on it.
"""

import json
import sys

import openai

base_url, model, cases_path = sys.argv[1:4]
with open(cases_path) as f:
    cases = json.load(f)

results = {}
for name, c in cases.items():
    client = openai.OpenAI(base_url=base_url, api_key=c["key"], max_retries=0)
    try:
        client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "hello from openai-python"}]
        )
        results[name] = {"ok": True, "code": "", "status": 200}
    except openai.APIStatusError as e:
        results[name] = {"ok": False, "code": type(e).__name__, "status": e.status_code, "msg": str(e)[:200]}

print(json.dumps(results))
