"""The seed's travel agent on Outcrop, through boto3, unchanged apart from
the endpoint.

Creates the agent (flights through a Lambda action group served over HTTP
by travel_actions.go, hotels under return of control, user input enabled),
prepares it, creates an alias and books a trip in one session:

    OUTCROP_URL=http://127.0.0.1:8080 MODEL_ID=<an Outcrop model id> \
    LAMBDA_ARN=arn:aws:lambda:us-east-1:000000000000:function:travel-actions \
    python travel.py

The user's turns are read from stdin, one per line; the hotel search is
answered by this script (return of control) with a fixed list.
"""

import json
import os
import sys

import boto3

url = os.environ.get("OUTCROP_URL", "http://127.0.0.1:8080")
model = os.environ.get("MODEL_ID", "default")
lambda_arn = os.environ.get("LAMBDA_ARN", "arn:aws:lambda:us-east-1:000000000000:function:travel-actions")
name = os.environ.get("AGENT_NAME", "travel-agent")

agent = boto3.client("bedrock-agent", region_name="us-east-1", endpoint_url=url)
runtime = boto3.client("bedrock-agent-runtime", region_name="us-east-1", endpoint_url=url)


def string(desc, required=True):
    return {"type": "string", "description": desc, "required": required}


created = agent.create_agent(
    agentName=name,
    foundationModel=model,
    instruction="You are a travel agent. Search flights and hotels, book them, and ask the user "
    "for any missing detail before booking.",
    idleSessionTTLInSeconds=600,
)
agent_id = created["agent"]["agentId"]
agent.create_agent_action_group(
    agentId=agent_id, agentVersion="DRAFT", actionGroupName="TravelActions",
    actionGroupExecutor={"lambda": lambda_arn},
    functionSchema={"functions": [
        {"name": "search_flights", "description": "Search available flights",
         "parameters": {"origin": string("departure city"), "destination": string("arrival city"),
                        "date": string("date, YYYY-MM-DD")}},
        {"name": "book_flight", "description": "Book a flight found by search_flights",
         "parameters": {"flightId": string("flight id"), "passenger": string("passenger name", False)}},
    ]},
)
agent.create_agent_action_group(
    agentId=agent_id, agentVersion="DRAFT", actionGroupName="HotelActions",
    actionGroupExecutor={"customControl": "RETURN_CONTROL"},
    functionSchema={"functions": [
        {"name": "search_hotels", "description": "Search hotels in a city",
         "parameters": {"city": string("city")}},
    ]},
)
agent.create_agent_action_group(
    agentId=agent_id, agentVersion="DRAFT", actionGroupName="UserInputAction",
    parentActionGroupSignature="AMAZON.UserInput",
)
status = agent.prepare_agent(agentId=agent_id)["agentStatus"]
alias = agent.create_agent_alias(agentId=agent_id, agentAliasName="live")["agentAlias"]
alias_id = alias["agentAliasId"]
print(f"agent {agent_id} {status}, alias {alias_id} -> version {alias['routingConfiguration'][0]['agentVersion']}")


def invoke(session, text=None, state=None):
    """One InvokeAgent call: returns (answer text, returnControl payload)."""
    kwargs = {"agentId": agent_id, "agentAliasId": alias_id, "sessionId": session, "enableTrace": True}
    if text is not None:
        kwargs["inputText"] = text
    if state is not None:
        kwargs["sessionState"] = state
    resp = runtime.invoke_agent(**kwargs)
    answer, rc, traces = "", None, 0
    for event in resp["completion"]:
        if "chunk" in event:
            answer += event["chunk"]["bytes"].decode()
        elif "returnControl" in event:
            rc = event["returnControl"]
        elif "trace" in event:
            traces += 1
    return answer, rc, traces


session = "travel-session-1"
for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    print(f"user: {line}")
    answer, rc, traces = invoke(session, line)
    while rc is not None:
        call = rc["invocationInputs"][0]["functionInvocationInput"]
        params = {p["name"]: p["value"] for p in call["parameters"]}
        print(f"returnControl: {call['actionGroup']}.{call['function']}({json.dumps(params, sort_keys=True)})")
        hotels = [{"name": "Hotel Lumiere", "city": params.get("city", ""), "price": "90 EUR"}]
        answer, rc, traces = invoke(session, state={
            "invocationId": rc["invocationId"],
            "returnControlInvocationResults": [{"functionResult": {
                "actionGroup": call["actionGroup"], "function": call["function"],
                "responseBody": {"TEXT": {"body": json.dumps(hotels)}}}}],
        })
    print(f"agent: {answer} ({traces} traces)")
