// @aws-sdk/client-bedrock-runtime against Outcrop's authentication, with
// the default request handler (HTTP/2 cleartext, which signs :authority)
// and with NodeHttpHandler (HTTP/1.1, which signs host).
//
// Usage: node auth_bedrock.mjs <endpoint> <modelId> <cases.json>
// cases.json maps a case name to {akid, secret} or {token} (a bearer API
// key) and an optional latency. Prints one JSON object mapping
// "<handler>/<case>" to {ok, code, status}; the Go test
// (internal/auth/interop_test.go) asserts on it.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import path from "node:path";

const base = process.env.OUTCROP_TEST_NODE_MODULES || path.dirname(new URL(import.meta.url).pathname);
const require = createRequire(path.join(base, "package.json"));
const { BedrockRuntimeClient, ConverseCommand } = require("@aws-sdk/client-bedrock-runtime");
const { NodeHttpHandler } = require("@smithy/node-http-handler");

const [endpoint, modelId, casesPath] = process.argv.slice(2);
const cases = JSON.parse(readFileSync(casesPath, "utf8"));

const results = {};
for (const handler of ["h2", "http1"]) {
  for (const [name, c] of Object.entries(cases)) {
    const opts = { region: "us-east-1", endpoint, maxAttempts: 1 };
    if (c.token) {
      opts.token = { token: c.token };
      opts.authSchemePreference = ["httpBearerAuth"];
      opts.credentials = { accessKeyId: "unused", secretAccessKey: "unused" };
    } else {
      opts.credentials = { accessKeyId: c.akid, secretAccessKey: c.secret };
    }
    if (handler === "http1") {
      opts.requestHandler = new NodeHttpHandler();
    }
    const client = new BedrockRuntimeClient(opts);
    const input = { modelId, messages: [{ role: "user", content: [{ text: "hello from js" }] }] };
    if (c.latency) input.performanceConfig = { latency: c.latency };
    try {
      await client.send(new ConverseCommand(input));
      results[`${handler}/${name}`] = { ok: true, code: "", status: 200 };
    } catch (e) {
      results[`${handler}/${name}`] = { ok: false, code: e.name, status: e.$metadata?.httpStatusCode ?? 0, msg: String(e.message).slice(0, 200) };
    }
    client.destroy();
  }
}
console.log(JSON.stringify(results));
