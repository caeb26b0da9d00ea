"""boto3 against Outcrop's Bedrock Runtime API.

Runs the two snippets of the seed article ("Latency-optimized inference: A
deep dive") as written there, with performanceConfig={'latency':
'optimized'}, plus FMEval's BedrockModelRunner pattern (content_template +
JMESPath content[0].text) and error mapping. The endpoint comes from
AWS_ENDPOINT_URL_BEDROCK_RUNTIME, the region from AWS_DEFAULT_REGION.

Prints one JSON object with what each step observed; the Go test
(internal/httpapi/interop_bedrock_test.go) asserts on it.
"""

import json
import os
import string
import sys

import boto3
import botocore.config
import botocore.exceptions
import jmespath

results = {"endpoint": os.environ["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"]}

# Only the read timeout differs from the defaults: a 135M model on a CPU
# shared with the rest of the test run can take longer than botocore's 60 s
# to finish a story, and a retry would only queue behind it.
bedrock_runtime = boto3.client(
    "bedrock-runtime",
    config=botocore.config.Config(read_timeout=600, retries={"max_attempts": 1}),
)

# Using converse api without streaming (seed snippet 1)
response = bedrock_runtime.converse(
    modelId='us.anthropic.claude-3-5-haiku-20241022-v1:0',
    messages=[{
        'role': 'user',
        'content': [{
            'text': 'Write a story about music generating AI models'
        }]
    }],
    performanceConfig={'latency': 'optimized'}
)
results["converse"] = {
    "text": response["output"]["message"]["content"][0]["text"],
    "stopReason": response["stopReason"],
    "usage": response["usage"],
    "latencyMs": response["metrics"]["latencyMs"],
    "performanceConfig": response.get("performanceConfig"),
    "requestId": response["ResponseMetadata"]["RequestId"],
    "deployment": response["ResponseMetadata"]["HTTPHeaders"].get("x-outcrop-deployment"),
}

# using converse API with streaming (seed snippet 2)
response = bedrock_runtime.converse_stream(
    modelId='us.anthropic.claude-3-5-haiku-20241022-v1:0',
    messages=[{
        'role': 'user',
        'content': [{
            'text': 'Write a story about music generating AI models'
        }]
    }],
    performanceConfig={'latency': 'optimized'}
)
events, text, metadata, stop = [], [], None, None
for event in response['stream']:
    (kind,) = event.keys()
    if not events or events[-1] != kind:
        events.append(kind)
    if kind == 'contentBlockDelta':
        text.append(event[kind]['delta']['text'])
    elif kind == 'messageStop':
        stop = event[kind]['stopReason']
    elif kind == 'metadata':
        metadata = event[kind]
results["converse_stream"] = {
    "events": events,
    "text": "".join(text),
    "stopReason": stop,
    "metadata": metadata,
}

# FMEval's BedrockModelRunner: the prompt goes into content_template as a
# JSON string, InvokeModel returns the native body, and the output is the
# JMESPath content[0].text.
content_template = '{"anthropic_version":"bedrock-2023-05-31","max_tokens":16,"messages":[{"role":"user","content":[{"type":"text","text":$prompt}]}]}'
body = string.Template(content_template).substitute(prompt=json.dumps("What is the capital of France?"))
response = bedrock_runtime.invoke_model(
    body=body, modelId='us.anthropic.claude-3-5-haiku-20241022-v1:0',
    accept="application/json", contentType="application/json")
model_output = json.loads(response.get("body").read())
results["fmeval"] = {
    "output": jmespath.search("content[0].text", model_output),
    "input_tokens": jmespath.search("usage.input_tokens", model_output),
    "contentType": response["contentType"],
}

response = bedrock_runtime.invoke_model_with_response_stream(
    body=body, modelId='us.anthropic.claude-3-5-haiku-20241022-v1:0', contentType="application/json")
kinds, text = [], []
for event in response["body"]:
    chunk = json.loads(event["chunk"]["bytes"])
    if not kinds or kinds[-1] != chunk["type"]:
        kinds.append(chunk["type"])
    if chunk["type"] == "content_block_delta":
        text.append(chunk["delta"]["text"])
results["invoke_stream"] = {"events": kinds, "text": "".join(text)}

count = bedrock_runtime.count_tokens(
    modelId='us.anthropic.claude-3-5-haiku-20241022-v1:0',
    input={'converse': {'messages': [{'role': 'user', 'content': [{'text': 'How many tokens is this?'}]}]}})
results["count_tokens"] = count["inputTokens"]

errors = {}
for name, call in [
    ("unknown_model", lambda: bedrock_runtime.converse(
        modelId='acme.missing-v1', messages=[{'role': 'user', 'content': [{'text': 'hi'}]}])),
    ("wrong_role_order", lambda: bedrock_runtime.converse(
        modelId='us.anthropic.claude-3-5-haiku-20241022-v1:0',
        messages=[{'role': 'assistant', 'content': [{'text': 'hi'}]}])),
]:
    try:
        call()
        errors[name] = None
    except botocore.exceptions.ClientError as e:
        errors[name] = {"code": e.response["Error"]["Code"], "status": e.response["ResponseMetadata"]["HTTPStatusCode"]}
results["errors"] = errors

json.dump(results, sys.stdout)
