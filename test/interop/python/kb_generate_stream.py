"""boto3 (bedrock-agent-runtime) RetrieveAndGenerateStream against Outcrop.

Driven by internal/kb/generate_test.go, which creates and ingests the
knowledge base and serves a chat model. Reads OUTCROP_URL, KB_ID and MODEL;
asks one question, then a follow-up in the same session, and prints one JSON
object: for each turn the session id, the event types in order, the
concatenated output text and the citations (text, span); then the error code
of a stream on an unknown knowledge base.
"""
import json
import os

import boto3
import botocore

url = os.environ["OUTCROP_URL"]
kw = dict(endpoint_url=url, region_name="us-east-1", aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="SECRET",
          config=botocore.config.Config(retries={"max_attempts": 1}))
rt = boto3.client("bedrock-agent-runtime", **kw)


def ask(question, kb_id, session=None):
    args = dict(
        input={"text": question},
        retrieveAndGenerateConfiguration={"type": "KNOWLEDGE_BASE", "knowledgeBaseConfiguration": {
            "knowledgeBaseId": kb_id, "modelArn": os.environ["MODEL"],
            "generationConfiguration": {
                "promptTemplate": {"textPromptTemplate": "Answer from these notes, repeating their words.\n$search_results$\nQuestion: $query$"},
                "inferenceConfig": {"textInferenceConfig": {"maxTokens": 60, "temperature": 0}}}}},
    )
    if session:
        args["sessionId"] = session
    resp = rt.retrieve_and_generate_stream(**args)
    turn = {"sessionId": resp["sessionId"], "events": [], "text": "", "citations": []}
    for ev in resp["stream"]:
        (kind, body), = ev.items()
        turn["events"].append(kind)
        if kind == "output":
            turn["text"] += body["text"]
        elif kind == "citation":
            part = body["generatedResponsePart"]["textResponsePart"]
            turn["citations"].append({"text": part["text"], "start": part["span"]["start"], "end": part["span"]["end"],
                                      "refs": [r["content"]["text"] for r in body["retrievedReferences"]]})
    return turn


out = {"first": ask("When does the office open and close?", os.environ["KB_ID"])}
out["followUp"] = ask("And where can employees park?", os.environ["KB_ID"], out["first"]["sessionId"])
try:
    ask("x", "NOSUCHKB01")
    out["missing"] = "no error"
except botocore.exceptions.ClientError as e:
    out["missing"] = e.response["Error"]["Code"]
print(json.dumps(out))
