"""boto3 reading a ConverseStream that ends with an in-stream exception.

Prints {"events": [...], "error_code": "..."}: botocore raises EventStreamError
whose code is the raw :exception-type value.
"""

import json
import sys

import boto3
import botocore.exceptions

client = boto3.client("bedrock-runtime")
response = client.converse_stream(
    modelId="acme.chat-v1",
    messages=[{"role": "user", "content": [{"text": "hi"}]}],
)
events, code, message = [], None, None
try:
    for event in response["stream"]:
        events.extend(event.keys())
except botocore.exceptions.EventStreamError as e:
    code = e.response["Error"]["Code"]
    message = e.response["Error"]["Message"]
json.dump({"events": events, "error_code": code, "message": message}, sys.stdout)
