"""OpenAI Python SDK and boto3 against Outcrop's embedding routes.

Driven by internal/embed/llamaembed/http_test.go. Reads OUTCROP_URL and
OUTCROP_MODEL and prints one JSON object with what the test checks:
  openai_default  - client.embeddings.create with the SDK's default encoding
                    (the SDK asks for base64 and decodes it)
  openai_float    - encoding_format="float", two inputs, dimensions=128
  openai_missing  - the status code of an unknown model
  titan           - boto3 invoke_model with the Titan v2 body
  titan_bad       - the error code boto3 raises for dimensions out of range
"""
import json
import os

import boto3
import botocore
import openai
from openai import OpenAI

url = os.environ["OUTCROP_URL"]
model = os.environ["OUTCROP_MODEL"]
client = OpenAI(base_url=url + "/v1", api_key="sk-outcrop-test", max_retries=0)
out = {}

r = client.embeddings.create(model=model, input="How do I reset my password?")
out["openai_default"] = {"embedding": list(map(float, r.data[0].embedding)), "prompt_tokens": r.usage.prompt_tokens, "model": r.model}

r = client.embeddings.create(model=model, input=["first text", "second text"], encoding_format="float", dimensions=128)
out["openai_float"] = {"lengths": [len(d.embedding) for d in r.data], "indexes": [d.index for d in r.data]}

try:
    client.embeddings.create(model="no-such-model", input="x")
    out["openai_missing"] = 200
except openai.APIStatusError as e:
    out["openai_missing"] = e.status_code

br = boto3.client(
    "bedrock-runtime",
    endpoint_url=url,
    region_name="us-east-1",
    aws_access_key_id="AKIDEXAMPLE",
    aws_secret_access_key="SECRET",
    config=botocore.config.Config(retries={"max_attempts": 1}),
)
resp = br.invoke_model(modelId=model, body=json.dumps({"inputText": "How do I reset my password?", "dimensions": 256, "normalize": True}))
body = json.loads(resp["body"].read())
out["titan"] = {"length": len(body["embedding"]), "tokens": body["inputTextTokenCount"], "embedding": body["embedding"]}

try:
    br.invoke_model(modelId=model, body=json.dumps({"inputText": "x", "dimensions": 100000}))
    out["titan_bad"] = "no error"
except botocore.exceptions.ClientError as e:
    out["titan_bad"] = e.response["Error"]["Code"]

print(json.dumps(out))
