"""boto3 against Outcrop's authentication (SigV4 and bearer API keys).

Usage: python auth_bedrock.py ENDPOINT MODEL_ID CASES.json
CASES.json maps a case name to {"akid", "secret"} or {"token"} (an API key
sent as AWS_BEARER_TOKEN_BEDROCK, which boto3 uses when no credentials are
passed in code) and an optional "latency". Prints one JSON object mapping
each case to {"ok": bool, "code": str, "status": int}; the Go test
(internal/auth/interop_test.go) asserts on it.
"""

import json
import os
import sys

import boto3
import botocore.config
import botocore.exceptions

endpoint, model_id, cases_path = sys.argv[1:4]
with open(cases_path) as f:
    cases = json.load(f)

cfg = botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"})
results = {}
for name, c in cases.items():
    env_token = os.environ.pop("AWS_BEARER_TOKEN_BEDROCK", None)
    if "token" in c:
        os.environ["AWS_BEARER_TOKEN_BEDROCK"] = c["token"]
        session = boto3.session.Session(region_name="us-east-1")
        client = session.client("bedrock-runtime", endpoint_url=endpoint, config=cfg)
    else:
        client = boto3.client(
            "bedrock-runtime",
            region_name="us-east-1",
            endpoint_url=endpoint,
            aws_access_key_id=c["akid"],
            aws_secret_access_key=c["secret"],
            config=cfg,
        )
    kwargs = {}
    if c.get("latency"):
        kwargs["performanceConfig"] = {"latency": c["latency"]}
    try:
        client.converse(
            modelId=model_id,
            messages=[{"role": "user", "content": [{"text": "hello from boto3"}]}],
            **kwargs,
        )
        results[name] = {"ok": True, "code": "", "status": 200}
    except botocore.exceptions.ClientError as e:
        results[name] = {
            "ok": False,
            "code": e.response["Error"]["Code"],
            "status": e.response["ResponseMetadata"]["HTTPStatusCode"],
            "msg": str(e)[:200],
        }
    finally:
        os.environ.pop("AWS_BEARER_TOKEN_BEDROCK", None)
        if env_token is not None:
            os.environ["AWS_BEARER_TOKEN_BEDROCK"] = env_token

print(json.dumps(results))
