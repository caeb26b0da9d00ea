// The OpenAI JS SDK against Outcrop's API-key authentication.
//
// Usage: node auth_openai.mjs <baseURL> <model> <cases.json>
// cases.json maps a case name to {key}. Prints one JSON object mapping each
// case to {ok, code, status}; the Go test (internal/auth/interop_test.go)
// asserts on it.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import path from "node:path";

const base = process.env.OUTCROP_TEST_NODE_MODULES || path.dirname(new URL(import.meta.url).pathname);
const require = createRequire(path.join(base, "package.json"));
const OpenAI = require("openai");

const [baseURL, model, casesPath] = process.argv.slice(2);
const cases = JSON.parse(readFileSync(casesPath, "utf8"));
const results = {};
for (const [name, c] of Object.entries(cases)) {
  const client = new OpenAI({ baseURL, apiKey: c.key, maxRetries: 0 });
  try {
    await client.chat.completions.create({ model, messages: [{ role: "user", content: "hello from openai-node" }] });
    results[name] = { ok: true, code: "", status: 200 };
  } catch (e) {
    results[name] = { ok: false, code: e.constructor.name, status: e.status ?? 0, msg: String(e.message).slice(0, 200) };
  }
}
console.log(JSON.stringify(results));
