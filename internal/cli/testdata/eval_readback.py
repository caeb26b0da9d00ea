"""Reads back, with MLflow's own Python client, what `outcrop eval` logged:
runs, params, metrics, dataset inputs and artifacts, simple and nested.
argv: tracking URI, simple experiment, nested experiment. Prints JSON."""
import json
import sys

import mlflow
from mlflow import MlflowClient

uri, simple_exp, nested_exp = sys.argv[1:4]
mlflow.set_tracking_uri(uri)
client = MlflowClient(uri)
out = {"simple": {}, "nested": {}}

df = mlflow.search_runs(experiment_names=[simple_exp])
for _, row in df.iterrows():
    run = client.get_run(row["run_id"])
    name = run.info.run_name
    out["simple"][name] = {
        "status": run.info.status,
        "params": dict(run.data.params),
        "metrics": dict(run.data.metrics),
        "inputs": sorted(
            (d.dataset.name, d.dataset.digest, d.dataset.source_type,
             [t.value for t in d.tags if t.key == "mlflow.data.context"][0])
            for d in run.inputs.dataset_inputs
        ),
        "artifacts": sorted(a.path for a in client.list_artifacts(run.info.run_id)),
        "sub_artifacts": sorted(
            a.path
            for d in client.list_artifacts(run.info.run_id)
            if d.is_dir
            for a in client.list_artifacts(run.info.run_id, d.path)
        ),
    }

parents = mlflow.search_runs(experiment_names=[nested_exp], filter_string="tags.`mlflow.source.name` = 'outcrop eval'")
for _, row in parents.iterrows():
    if isinstance(row.get("tags.mlflow.parentRunId"), str):
        continue
    parent = client.get_run(row["run_id"])
    children = mlflow.search_runs(
        experiment_names=[nested_exp],
        filter_string="tags.mlflow.parentRunId = '%s'" % parent.info.run_id,
    )
    kids = {}
    for _, c in children.iterrows():
        run = client.get_run(c["run_id"])
        kids[run.info.run_name] = {
            "metrics": dict(run.data.metrics),
            "params": dict(run.data.params),
            "inputs": [d.dataset.name for d in run.inputs.dataset_inputs],
            "artifacts": sorted(a.path for a in client.list_artifacts(run.info.run_id)),
        }
    png = client.download_artifacts(parent.info.run_id, "radar_higher_is_better.png")
    with open(png, "rb") as f:
        head = f.read(8)
    out["nested"][parent.info.run_name] = {
        "children": kids,
        "artifacts": sorted(a.path for a in client.list_artifacts(parent.info.run_id)),
        "radar_png_magic": head.hex(),
    }
json.dump(out, sys.stdout)
