// @aws-sdk/client-bedrock-runtime against Outcrop's Bedrock Runtime API,
// with the client's default request handler (NodeHttp2Handler: cleartext
// HTTP/2 with prior knowledge for an http:// endpoint).
//
// Usage: node bedrock_runtime.mjs <endpoint> <modelId>
// Prints one JSON object with what each call observed; the Go test
// (internal/httpapi/interop_bedrock_test.go) asserts on it.
import { createRequire } from "node:module";
import path from "node:path";

// Load the SDK from OUTCROP_TEST_NODE_MODULES (the directory holding
// node_modules) so the script runs from any working directory.
const base = process.env.OUTCROP_TEST_NODE_MODULES || path.dirname(new URL(import.meta.url).pathname);
const require = createRequire(path.join(base, "package.json"));
const {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  CountTokensCommand,
  InvokeModelCommand,
  InvokeModelWithResponseStreamCommand,
} = require("@aws-sdk/client-bedrock-runtime");

const [endpoint, modelId] = process.argv.slice(2);
const client = new BedrockRuntimeClient({
  region: "us-east-1",
  endpoint,
  credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "SECRET" },
  maxAttempts: 1,
});

const results = { handler: client.config.requestHandler?.constructor?.name };
const messages = [{ role: "user", content: [{ text: "Name three colours." }] }];

const conv = await client.send(new ConverseCommand({
  modelId,
  messages,
  inferenceConfig: { maxTokens: 24 },
  performanceConfig: { latency: "optimized" },
}));
results.converse = {
  text: conv.output.message.content[0].text,
  stopReason: conv.stopReason,
  usage: conv.usage,
  latencyMs: conv.metrics.latencyMs,
  performanceConfig: conv.performanceConfig,
  requestId: conv.$metadata.requestId,
};

const stream = await client.send(new ConverseStreamCommand({
  modelId,
  messages,
  inferenceConfig: { maxTokens: 24 },
  performanceConfig: { latency: "optimized" },
}));
const events = [];
let text = "";
let metadata = null;
for await (const ev of stream.stream) {
  const kind = Object.keys(ev).find((k) => ev[k] !== undefined && k !== "$unknown");
  if (events[events.length - 1] !== kind) events.push(kind);
  if (kind === "contentBlockDelta") text += ev.contentBlockDelta.delta.text ?? "";
  if (kind === "metadata") metadata = ev.metadata;
}
results.converse_stream = { events, text, metadata };

const count = await client.send(new CountTokensCommand({
  modelId,
  input: { converse: { messages } },
}));
results.count_tokens = count.inputTokens;

const body = JSON.stringify({
  anthropic_version: "bedrock-2023-05-31",
  max_tokens: 24,
  messages: [{ role: "user", content: [{ type: "text", text: "Say hi." }] }],
});
const inv = await client.send(new InvokeModelCommand({ modelId, body, contentType: "application/json", accept: "application/json" }));
const invBody = JSON.parse(new TextDecoder().decode(inv.body));
results.invoke = { text: invBody.content[0].text, stop_reason: invBody.stop_reason };

const invStream = await client.send(new InvokeModelWithResponseStreamCommand({ modelId, body, contentType: "application/json" }));
const chunks = [];
for await (const ev of invStream.body) {
  const c = JSON.parse(new TextDecoder().decode(ev.chunk.bytes));
  if (chunks[chunks.length - 1] !== c.type) chunks.push(c.type);
}
results.invoke_stream = chunks;

try {
  await client.send(new ConverseCommand({ modelId: "acme.missing-v1", messages }));
  results.unknown_model = null;
} catch (e) {
  results.unknown_model = { name: e.name, status: e.$metadata?.httpStatusCode };
}
try {
  await client.send(new ConverseCommand({ modelId, messages: [{ role: "assistant", content: [{ text: "hi" }] }] }));
  results.wrong_role_order = null;
} catch (e) {
  results.wrong_role_order = { name: e.name, status: e.$metadata?.httpStatusCode };
}

process.stdout.write(JSON.stringify(results));
