"""boto3 (bedrock-agent, bedrock-agent-runtime) against Outcrop's knowledge bases.

Driven by internal/kb/interop_test.go, which writes the documents of the S3
bucket "pydocs" (a folder) before running this. Reads OUTCROP_URL and prints
one JSON object: the ingestion job's status and statistics, the URIs of an
unfiltered Retrieve and of one filtered on dept = "finance", and the error
code of a Retrieve on an unknown knowledge base.
"""
import json
import os
import time

import boto3
import botocore

url = os.environ["OUTCROP_URL"]
kw = dict(endpoint_url=url, region_name="us-east-1", aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="SECRET",
          config=botocore.config.Config(retries={"max_attempts": 1}))
agent = boto3.client("bedrock-agent", **kw)
rt = boto3.client("bedrock-agent-runtime", **kw)
out = {}

kb = agent.create_knowledge_base(
    name="pykb",
    roleArn="arn:aws:iam::000000000000:role/kb",
    knowledgeBaseConfiguration={"type": "VECTOR", "vectorKnowledgeBaseConfiguration": {
        "embeddingModelArn": "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0"}},
    storageConfiguration={"type": "RDS", "rdsConfiguration": {
        "resourceArn": "arn:aws:rds:us-east-1:000000000000:cluster:x", "credentialsSecretArn": "arn:aws:secretsmanager:us-east-1:000000000000:secret:x",
        "databaseName": "x", "tableName": "x", "fieldMapping": {"primaryKeyField": "id", "vectorField": "v", "textField": "t", "metadataField": "m"}}},
)["knowledgeBase"]
kb_id = kb["knowledgeBaseId"]
ds = agent.create_data_source(
    knowledgeBaseId=kb_id, name="pydocs",
    dataSourceConfiguration={"type": "S3", "s3Configuration": {"bucketArn": "arn:aws:s3:::pydocs"}},
    vectorIngestionConfiguration={"chunkingConfiguration": {"chunkingStrategy": "HIERARCHICAL", "hierarchicalChunkingConfiguration": {
        "levelConfigurations": [{"maxTokens": 80}, {"maxTokens": 20}], "overlapTokens": 4}}},
)["dataSource"]
job = agent.start_ingestion_job(knowledgeBaseId=kb_id, dataSourceId=ds["dataSourceId"])["ingestionJob"]
deadline = time.time() + 180
while time.time() < deadline:
    job = agent.get_ingestion_job(knowledgeBaseId=kb_id, dataSourceId=ds["dataSourceId"], ingestionJobId=job["ingestionJobId"])["ingestionJob"]
    if job["status"] in ("COMPLETE", "FAILED"):
        break
    time.sleep(0.2)
out["job"] = {"status": job["status"], "statistics": job["statistics"]}


def uris(**cfg):
    r = rt.retrieve(knowledgeBaseId=kb_id, retrievalQuery={"text": "How are expenses reimbursed?"},
                    retrievalConfiguration={"vectorSearchConfiguration": dict(numberOfResults=3, **cfg)})
    return [(x["location"]["s3Location"]["uri"], x["content"]["text"]) for x in r["retrievalResults"]]


out["all"] = uris()
out["finance"] = uris(filter={"equals": {"key": "dept", "value": "finance"}})
out["hybrid"] = uris(overrideSearchType="HYBRID")
try:
    rt.retrieve(knowledgeBaseId="ABCDEFGHIJ", retrievalQuery={"text": "x"})
    out["missing"] = "no error"
except botocore.exceptions.ClientError as e:
    out["missing"] = e.response["Error"]["Code"]
print(json.dumps(out))
