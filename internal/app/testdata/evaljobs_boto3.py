"""Drives Outcrop's Bedrock evaluation-job API with boto3 (argv[1] is the
server URL): create, idempotent create, get until Completed, list with
filters, stop, batch delete, and error codes as botocore parses them."""
import sys
import time

import boto3
from botocore.exceptions import ClientError

url = sys.argv[1]
c = boto3.client("bedrock", endpoint_url=url, region_name="us-east-1")


def job(name, uri, metrics):
    return dict(
        jobName=name,
        roleArn="arn:aws:iam::000000000000:role/eval",
        clientRequestToken=name + "-token",
        evaluationConfig={"automated": {"datasetMetricConfigs": [{
            "taskType": "QuestionAndAnswer",
            "dataset": {"name": "qa", "datasetLocation": {"s3Uri": uri}},
            "metricNames": metrics,
        }]}},
        inferenceConfig={"models": [{"bedrockModel": {
            "modelIdentifier": "smollm2",
            "inferenceParams": '{"inferenceConfig":{"maxTokens":8,"temperature":0}}',
        }}]},
        outputDataConfig={"s3Uri": "s3://evals/out/boto3"},
    )


def expect(code, status, fn, **kw):
    try:
        fn(**kw)
    except ClientError as e:
        got = e.response["Error"]["Code"]
        st = e.response["ResponseMetadata"]["HTTPStatusCode"]
        assert got == code and st == status, (fn.__name__, got, st, e)
        return
    raise AssertionError("%s: no error, want %s" % (fn.__name__, code))


arn = c.create_evaluation_job(**job("boto3-qa", "s3://evals/data/qa.jsonl", ["Builtin.Accuracy", "Builtin.Toxicity"]))["jobArn"]
assert c.create_evaluation_job(**job("boto3-qa", "s3://evals/data/qa.jsonl", ["Builtin.Accuracy", "Builtin.Toxicity"]))["jobArn"] == arn

deadline = time.time() + 360
while True:
    g = c.get_evaluation_job(jobIdentifier=arn)
    if g["status"] == "Completed":
        break
    assert g["status"] == "InProgress", g
    assert time.time() < deadline, "not completed in time"
    time.sleep(0.3)
assert g["jobType"] == "Automated" and g["applicationType"] == "ModelEvaluation", g
assert g["evaluationConfig"]["automated"]["datasetMetricConfigs"][0]["metricNames"] == ["Builtin.Accuracy", "Builtin.Toxicity"], g
assert g["inferenceConfig"]["models"][0]["bedrockModel"]["modelIdentifier"] == "smollm2", g
assert g["creationTime"] <= g["lastModifiedTime"], g

l = c.list_evaluation_jobs(statusEquals="Completed", sortOrder="Ascending")
assert [s["jobArn"] for s in l["jobSummaries"]] == [arn], l
assert l["jobSummaries"][0]["evaluationTaskTypes"] == ["QuestionAndAnswer"], l
assert c.list_evaluation_jobs(statusEquals="Failed")["jobSummaries"] == []

# Pagination: two more jobs, one per page.
more = [c.create_evaluation_job(**job("boto3-p%d" % i, "s3://evals/data/big.jsonl", ["Builtin.Accuracy"]))["jobArn"] for i in range(2)]
for a in more:
    c.stop_evaluation_job(jobIdentifier=a)
seen = []
kw = {"maxResults": 1}
while True:
    page = c.list_evaluation_jobs(**kw)
    assert len(page["jobSummaries"]) <= 1, page
    seen += [s["jobArn"] for s in page["jobSummaries"]]
    if "nextToken" not in page:
        break
    kw["nextToken"] = page["nextToken"]
assert sorted(seen) == sorted([arn] + more), seen
assert seen[0] in more, "newest first by default"

expect("ConflictException", 400, c.stop_evaluation_job, jobIdentifier=arn)
expect("ValidationException", 400, c.create_evaluation_job, **job("Bad Name", "s3://evals/data/qa.jsonl", ["Builtin.Accuracy"]))
expect("ValidationException", 400, c.create_evaluation_job, **job("boto3-bad", "s3://evals/data/qa.jsonl", ["Builtin.Nothing"]))
expect("ResourceNotFoundException", 404, c.get_evaluation_job, jobIdentifier="arn:aws:bedrock:us-east-1:000000000000:evaluation-job/zzzzzzzzzzzz")

for a in more:
    deadline = time.time() + 60
    while c.get_evaluation_job(jobIdentifier=a)["status"] != "Stopped":
        assert time.time() < deadline, "not stopped"
        time.sleep(0.2)
r = c.batch_delete_evaluation_job(jobIdentifiers=[arn] + more)
assert r["errors"] == [] and [i["jobStatus"] for i in r["evaluationJobs"]] == ["Deleting"] * 3, r
assert c.list_evaluation_jobs()["jobSummaries"] == []
print("OK")
