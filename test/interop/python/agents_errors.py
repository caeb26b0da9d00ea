"""boto3 against Outcrop's agents: the bad-input table, and an inline agent.

Every case of the table is a request a client can get wrong (bedrock-agent
and bedrock-agent-runtime, as boto3 sends them) with the error code and
HTTP status Bedrock answers it with. Cases botocore refuses itself (below a
modelled minimum length or value, a missing required member) never reach a
server and are not listed. Then InvokeInlineAgent runs an agent defined in
the request with a RETURN_CONTROL action group: the returnControl event,
and the answer after the client returns the result.

Environment: OUTCROP_URL, MODEL_ID, the principal's AWS keys, and
OTHER_ACCESS_KEY_ID / OTHER_SECRET_ACCESS_KEY of a second principal.

Prints one JSON object: "cases" (name, want, got: code and status) and
"inline" (what the inline agent streamed); the Go test
(internal/agent/interop_test.go) asserts on it.
"""

import json
import os

import boto3
import botocore.exceptions

url = os.environ["OUTCROP_URL"]
model = os.environ["MODEL_ID"]
agent = boto3.client("bedrock-agent", region_name="us-east-1", endpoint_url=url)
runtime = boto3.client("bedrock-agent-runtime", region_name="us-east-1", endpoint_url=url)
other = boto3.client("bedrock-agent-runtime", region_name="us-east-1", endpoint_url=url,
                     aws_access_key_id=os.environ["OTHER_ACCESS_KEY_ID"],
                     aws_secret_access_key=os.environ["OTHER_SECRET_ACCESS_KEY"])

INSTRUCTION = ("You are a travel agent. Search flights and hotels, book them, and ask the user "
               "for any missing detail before booking.")
HOTELS = {
    "actionGroupName": "HotelActions",
    "actionGroupExecutor": {"customControl": "RETURN_CONTROL"},
    "functionSchema": {"functions": [{
        "name": "search_hotels", "description": "Search hotels in a city",
        "parameters": {"city": {"type": "string", "description": "city", "required": True}},
    }]},
}


def drain(resp):
    """Reads an event stream to the end; returns the text and returnControl."""
    text, rc = "", None
    for ev in resp["completion"]:
        if "chunk" in ev:
            text += ev["chunk"]["bytes"].decode()
        if "returnControl" in ev:
            rc = ev["returnControl"]
    return text, rc


# A prepared agent with an alias on version 1, and one never prepared.
ready = agent.create_agent(agentName="errors-ready", foundationModel=model, instruction=INSTRUCTION)["agent"]["agentId"]
agent.create_agent_action_group(agentId=ready, agentVersion="DRAFT", **HOTELS)
agent.prepare_agent(agentId=ready)
alias = agent.create_agent_alias(agentId=ready, agentAliasName="live")["agentAlias"]["agentAliasId"]
draft_only = agent.create_agent(agentName="errors-draft", foundationModel=model, instruction=INSTRUCTION)["agent"]["agentId"]
no_instruction = agent.create_agent(agentName="errors-bare", foundationModel=model)["agent"]["agentId"]
agent.create_agent_action_group(agentId=ready, agentVersion="DRAFT", actionGroupName="Ask1",
                                parentActionGroupSignature="AMAZON.UserInput")
# A session of this principal, for the other principal to try.
drain(runtime.invoke_agent(agentId=ready, agentAliasId=alias, sessionId="owned-session", inputText="hello"))


def group(**kw):
    args = {"agentId": ready, "agentVersion": "DRAFT", "actionGroupName": "Bad",
            "actionGroupExecutor": {"customControl": "RETURN_CONTROL"}}
    args.update(kw)
    return lambda: agent.create_agent_action_group(**args)


def invoke(client=runtime, **kw):
    args = {"agentId": ready, "agentAliasId": alias, "sessionId": "s-errors", "inputText": "hello"}
    args.update(kw)
    return lambda: drain(client.invoke_agent(**args))


def inline(**kw):
    args = {"sessionId": "inline-errors", "foundationModel": model, "instruction": INSTRUCTION, "inputText": "hello"}
    args.update(kw)
    return lambda: drain(runtime.invoke_inline_agent(**args))


fn = lambda name, typ: {"functions": [{"name": name, "parameters": {"p": {"type": typ}}}]}
cases = [
    # bedrock-agent
    ("agent name with spaces", lambda: agent.create_agent(agentName="my agent", foundationModel=model), "ValidationException", 400),
    ("instruction too long", lambda: agent.create_agent(agentName="long", instruction="x" * 4001), "ValidationException", 400),
    ("idle TTL over 5400", lambda: agent.create_agent(agentName="ttl", idleSessionTTLInSeconds=99999), "ValidationException", 400),
    ("unknown foundation model", lambda: agent.create_agent(agentName="nomodel", foundationModel="no-such-model"), "ValidationException", 400),
    ("custom orchestration", lambda: agent.create_agent(agentName="custom", orchestrationType="CUSTOM_ORCHESTRATION"), "ValidationException", 400),
    ("orchestration parser override", lambda: agent.create_agent(agentName="parser", promptOverrideConfiguration={
        "overrideLambda": "arn:aws:lambda:us-east-1:000000000000:function:p",
        "promptConfigurations": [{"promptType": "ORCHESTRATION", "parserMode": "OVERRIDDEN"}]}), "ValidationException", 400),
    ("duplicate agent name", lambda: agent.create_agent(agentName="errors-ready"), "ConflictException", 409),
    ("unknown agent", lambda: agent.get_agent(agentId="ZZZZZZZZZZ"), "ResourceNotFoundException", 404),
    ("malformed agent id", lambda: agent.get_agent(agentId="abc"), "ValidationException", 400),
    ("parameter type float128", group(functionSchema=fn("f", "float128")), "ValidationException", 400),
    ("function name with spaces", group(functionSchema=fn("my function", "string")), "ValidationException", 400),
    ("both schemas", group(functionSchema=fn("f", "string"), apiSchema={"payload": "{}"}), "ValidationException", 400),
    ("openapi not a document", group(apiSchema={"payload": "{not json"}), "ValidationException", 400),
    ("openapi in s3", group(apiSchema={"s3": {"s3BucketName": "travel-specs", "s3ObjectKey": "openapi.json"}}), "ValidationException", 400),
    ("action group on a version", group(agentVersion="10000", functionSchema=fn("f", "string")), "ValidationException", 400),
    ("second user input group", lambda: agent.create_agent_action_group(
        agentId=ready, agentVersion="DRAFT", actionGroupName="Ask2", parentActionGroupSignature="AMAZON.UserInput"),
        "ConflictException", 409),
    ("prepare without instruction", lambda: agent.prepare_agent(agentId=no_instruction), "ValidationException", 400),
    ("alias of an unprepared agent", lambda: agent.create_agent_alias(agentId=draft_only, agentAliasName="a"), "ValidationException", 400),
    ("alias at a missing version", lambda: agent.create_agent_alias(agentId=ready, agentAliasName="seven",
                                                                    routingConfiguration=[{"agentVersion": "7"}]), "ResourceNotFoundException", 404),
    ("unknown alias", lambda: agent.get_agent_alias(agentId=ready, agentAliasId="ZZZZZZZZZZ"), "ResourceNotFoundException", 404),
    ("unknown version", lambda: agent.get_agent_version(agentId=ready, agentVersion="9"), "ResourceNotFoundException", 404),
    ("delete the DRAFT version", lambda: agent.delete_agent_version(agentId=ready, agentVersion="DRAFT"), "ValidationException", 400),
    ("delete a version in use", lambda: agent.delete_agent_version(agentId=ready, agentVersion="1"), "ConflictException", 409),
    # bedrock-agent-runtime
    ("invoke unknown agent", invoke(agentId="ZZZZZZZZZZ", agentAliasId="TSTALIASID"), "ResourceNotFoundException", 404),
    ("invoke unknown alias", invoke(agentAliasId="ZZZZZZZZZZ"), "ResourceNotFoundException", 404),
    ("invoke unprepared agent", invoke(agentId=draft_only, agentAliasId="TSTALIASID"), "ConflictException", 409),
    ("invoke bad session id", invoke(sessionId="bad session!"), "ValidationException", 400),
    ("invoke empty input", invoke(inputText=""), "ValidationException", 400),
    ("invoke oversize input", invoke(inputText="a" * (2 << 20)), "ValidationException", 400),
    ("invoke with memoryId", invoke(memoryId="user-1"), "ValidationException", 400),
    ("results without a pending call", invoke(sessionId="fresh-session", inputText="", sessionState={
        "invocationId": "x", "returnControlInvocationResults": [{"functionResult": {
            "actionGroup": "HotelActions", "function": "search_hotels", "responseBody": {"TEXT": {"body": "[]"}}}}]}),
        "ValidationException", 400),
    ("another principal's session", invoke(client=other, sessionId="owned-session"), "AccessDeniedException", 403),
    ("inline instruction too long", inline(instruction="x" * 4001), "ValidationException", 400),
    ("inline unknown model", inline(foundationModel="no-such-model"), "ValidationException", 400),
    ("inline custom orchestration", inline(orchestrationType="CUSTOM_ORCHESTRATION"), "ValidationException", 400),
    ("inline agent name with spaces", inline(agentName="my agent"), "ValidationException", 400),
    ("inline knowledge bases", inline(knowledgeBases=[{"knowledgeBaseId": "KB12345678", "description": "docs"}]), "ValidationException", 400),
    ("inline bad function schema", inline(actionGroups=[{"actionGroupName": "G", "actionGroupExecutor": {"customControl": "RETURN_CONTROL"},
                                                        "functionSchema": fn("f", "float128")}]), "ValidationException", 400),
]

out = {"cases": []}
for name, call, code, status in cases:
    got = {"code": "", "status": 200}
    try:
        call()
    except botocore.exceptions.ClientError as e:
        got = {"code": e.response["Error"]["Code"], "status": e.response["ResponseMetadata"]["HTTPStatusCode"]}
    except botocore.exceptions.ParamValidationError:
        got = {"code": "ParamValidationError (refused by botocore, never sent)", "status": 0}
    out["cases"].append({"name": name, "want": {"code": code, "status": status}, "got": got})

# InvokeInlineAgent with a RETURN_CONTROL action group, round trip.
text, rc = drain(runtime.invoke_inline_agent(sessionId="inline-boto3", agentName="hotel-finder", foundationModel=model, instruction=INSTRUCTION,
                                             actionGroups=[HOTELS], inputText="Now find me a hotel there", enableTrace=True))
fi = rc["invocationInputs"][0]["functionInvocationInput"]
params = {p["name"]: p["value"] for p in fi["parameters"]}
answer, _ = drain(runtime.invoke_inline_agent(
    sessionId="inline-boto3", foundationModel=model, instruction=INSTRUCTION, actionGroups=[HOTELS],
    inlineSessionState={"invocationId": rc["invocationId"], "returnControlInvocationResults": [{"functionResult": {
        "actionGroup": fi["actionGroup"], "function": fi["function"],
        "responseBody": {"TEXT": {"body": json.dumps([{"name": "Hotel Lumiere", "price": "90 EUR"}])}}}}]}))
out["inline"] = {"function": fi["actionGroup"] + "." + fi["function"], "params": params, "answer": answer}
print(json.dumps(out))
