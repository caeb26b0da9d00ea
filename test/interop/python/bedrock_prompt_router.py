"""Prompt routers through boto3: create a router on the bedrock control plane,
call converse and converse_stream with its ARN as modelId, and print which
model the trace names and which model answered. Run by
internal/httpapi TestPromptRouterBoto3 against a test server."""
import json
import os

import boto3

control = boto3.client("bedrock")
runtime = boto3.client("bedrock-runtime")

small, large = os.environ["SMALL_ARN"], os.environ["LARGE_ARN"]
arn = control.create_prompt_router(
    promptRouterName="boto3-router",
    models=[{"modelArn": small}, {"modelArn": large}],
    fallbackModel={"modelArn": large},
    routingCriteria={"responseQualityDifference": 25.0},
)["promptRouterArn"]

messages = [{"role": "user", "content": [{"text": "What is the capital of France?"}]}]
out = runtime.converse(modelId=arn, messages=messages)
converse = {
    "invoked": out.get("trace", {}).get("promptRouter", {}).get("invokedModelId", ""),
    "text": out["output"]["message"]["content"][0]["text"],
}

stream = {"invoked": "", "text": ""}
for ev in runtime.converse_stream(modelId=arn, messages=messages)["stream"]:
    if "contentBlockDelta" in ev:
        stream["text"] += ev["contentBlockDelta"]["delta"]["text"]
    if "metadata" in ev:
        stream["invoked"] = ev["metadata"].get("trace", {}).get("promptRouter", {}).get("invokedModelId", "")

listed = [s["promptRouterArn"] for s in control.list_prompt_routers()["promptRouterSummaries"]]
print(json.dumps({"router_arn": arn, "converse": converse, "stream": stream, "listed": listed}))
