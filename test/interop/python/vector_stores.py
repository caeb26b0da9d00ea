"""OpenAI Python SDK against Outcrop's files and vector-store API.

Driven by internal/kb/interop_test.go. Reads OUTCROP_URL and the directory
DOCS holding the files to upload; prints one JSON object with what the test
checks.
"""
import json
import os

import openai
from openai import OpenAI

client = OpenAI(base_url=os.environ["OUTCROP_URL"] + "/v1", api_key="sk-outcrop-test", max_retries=0)
docs = os.environ["DOCS"]
out = {}

ids = {}
for name in sorted(os.listdir(docs)):
    with open(os.path.join(docs, name), "rb") as f:
        ids[name] = client.files.create(file=f, purpose="assistants").id
out["files"] = sorted(f.filename for f in client.files.list().data)

vs = client.vector_stores.create(name="handbook")
attrs = {"expenses.md": {"dept": "finance", "year": 2024}, "laptops.txt": {"dept": "it", "year": 2022}, "notes.docx": {"dept": "it"}}
statuses = {}
for name, fid in ids.items():
    vf = client.vector_stores.files.create(vector_store_id=vs.id, file_id=fid, attributes=attrs[name])
    statuses[name] = vf.status
out["statuses"] = statuses
out["counts"] = client.vector_stores.retrieve(vs.id).file_counts.model_dump()
out["listed"] = len(client.vector_stores.files.list(vector_store_id=vs.id).data)


def search(**kw):
    page = client.vector_stores.search(vector_store_id=vs.id, query="How are expenses reimbursed?", **kw)
    return [(r.filename, r.attributes, r.content[0].text) for r in page.data]


out["plain"] = search(max_num_results=3)
out["it_only"] = search(filters={"type": "eq", "key": "dept", "value": "it"})
out["compound"] = search(filters={"type": "and", "filters": [{"type": "gte", "key": "year", "value": 2023}, {"type": "ne", "key": "dept", "value": "it"}]})
try:
    client.vector_stores.search(vector_store_id="vs_missing", query="x")
    out["missing"] = 200
except openai.APIStatusError as e:
    out["missing"] = e.status_code
try:
    client.vector_stores.search(vector_store_id=vs.id, query="x", filters={"type": "bogus", "key": "k", "value": 1})
    out["bad_filter"] = 200
except openai.APIStatusError as e:
    out["bad_filter"] = e.status_code
client.vector_stores.delete(vs.id)
print(json.dumps(out))
