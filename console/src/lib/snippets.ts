// "Show code": the playground's current request as SDK code, so what a user
// tries in the console runs unchanged from boto3, the AWS SDKs and OpenAI's.
import { converseBody, type ChatRequest } from '../api/converse';

/** Snippet is one language's code. */
export interface Snippet {
  id: string;
  label: string;
  code: string;
}

function pyLiteral(v: unknown, indent = 0): string {
  const pad = '    '.repeat(indent + 1);
  const end = '    '.repeat(indent);
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    return `[\n${v.map((x) => pad + pyLiteral(x, indent + 1)).join(',\n')},\n${end}]`;
  }
  const entries = Object.entries(v as Record<string, unknown>);
  if (entries.length === 0) return '{}';
  return `{\n${entries.map(([k, x]) => `${pad}${JSON.stringify(k)}: ${pyLiteral(x, indent + 1)}`).join(',\n')},\n${end}}`;
}

function jsLiteral(v: unknown, indent = 0): string {
  return JSON.stringify(v, null, 2)
    .split('\n')
    .map((l, i) => (i === 0 ? l : '  '.repeat(indent) + l))
    .join('\n')
    .replace(/"([A-Za-z_][A-Za-z0-9_]*)":/g, '$1:');
}

function goString(s: string): string {
  return JSON.stringify(s);
}

function boto3(req: ChatRequest, endpoint: string): string {
  const body = converseBody(req);
  const args = Object.entries(body)
    .map(([k, v]) => `    ${k}=${pyLiteral(v, 1)},`)
    .join('\n');
  return `import boto3

client = boto3.client(
    "bedrock-runtime",
    endpoint_url=${JSON.stringify(endpoint)},
    region_name="us-east-1",
)
stream = client.converse_stream(
    modelId=${JSON.stringify(req.modelId)},
${args}
)
for event in stream["stream"]:
    if "contentBlockDelta" in event:
        print(event["contentBlockDelta"]["delta"].get("text", ""), end="", flush=True)
    elif "metadata" in event:
        print()
        print(event["metadata"]["usage"])
`;
}

function goSDK(req: ChatRequest, endpoint: string): string {
  const msgs = req.messages
    .map(
      (m) => `\t\t{
\t\t\tRole:    types.ConversationRole${m.role === 'user' ? 'User' : 'Assistant'},
\t\t\tContent: []types.ContentBlock{&types.ContentBlockMemberText{Value: ${goString(m.text)}}},
\t\t},`,
    )
    .join('\n');
  const lines: string[] = [];
  lines.push(`\tModelId: aws.String(${goString(req.modelId)}),`);
  lines.push(`\tMessages: []types.Message{\n${msgs}\n\t},`);
  if (req.system) lines.push(`\tSystem: []types.SystemContentBlock{&types.SystemContentBlockMemberText{Value: ${goString(req.system)}}},`);
  const ic: string[] = [];
  if (req.inference.maxTokens !== undefined) ic.push(`MaxTokens: aws.Int32(${req.inference.maxTokens})`);
  if (req.inference.temperature !== undefined) ic.push(`Temperature: aws.Float32(${req.inference.temperature})`);
  if (req.inference.topP !== undefined) ic.push(`TopP: aws.Float32(${req.inference.topP})`);
  if (ic.length) lines.push(`\tInferenceConfig: &types.InferenceConfiguration{${ic.join(', ')}},`);
  if (req.latency === 'optimized') lines.push(`\tPerformanceConfig: &types.PerformanceConfiguration{Latency: types.PerformanceConfigLatencyOptimized},`);
  if (req.guardrail?.id) {
    lines.push(
      `\tGuardrailConfig: &types.GuardrailStreamConfiguration{GuardrailIdentifier: aws.String(${goString(req.guardrail.id)}), GuardrailVersion: aws.String(${goString(req.guardrail.version || 'DRAFT')})},`,
    );
  }
  return `package main

import (
\t"context"
\t"fmt"
\t"log"

\t"github.com/aws/aws-sdk-go-v2/aws"
\t"github.com/aws/aws-sdk-go-v2/config"
\t"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
\t"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
)

func main() {
\tctx := context.Background()
\tcfg, err := config.LoadDefaultConfig(ctx, config.WithRegion("us-east-1"))
\tif err != nil {
\t\tlog.Fatal(err)
\t}
\tclient := bedrockruntime.NewFromConfig(cfg, func(o *bedrockruntime.Options) {
\t\to.BaseEndpoint = aws.String(${goString(endpoint)})
\t})
\tout, err := client.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{
${lines.join('\n')}
\t})
\tif err != nil {
\t\tlog.Fatal(err)
\t}
\tstream := out.GetStream()
\tdefer stream.Close()
\tfor ev := range stream.Events() {
\t\tswitch e := ev.(type) {
\t\tcase *types.ConverseStreamOutputMemberContentBlockDelta:
\t\t\tif t, ok := e.Value.Delta.(*types.ContentBlockDeltaMemberText); ok {
\t\t\t\tfmt.Print(t.Value)
\t\t\t}
\t\tcase *types.ConverseStreamOutputMemberMetadata:
\t\t\tfmt.Printf("\\n%d output tokens\\n", aws.ToInt32(e.Value.Usage.OutputTokens))
\t\t}
\t}
\tif err := stream.Err(); err != nil {
\t\tlog.Fatal(err)
\t}
}
`;
}

function jsSDK(req: ChatRequest, endpoint: string): string {
  const body = { modelId: req.modelId, ...converseBody(req) };
  return `import { BedrockRuntimeClient, ConverseStreamCommand } from "@aws-sdk/client-bedrock-runtime";

const client = new BedrockRuntimeClient({ region: "us-east-1", endpoint: ${JSON.stringify(endpoint)} });
const out = await client.send(new ConverseStreamCommand(${jsLiteral(body)}));
for await (const event of out.stream) {
  if (event.contentBlockDelta?.delta?.text) process.stdout.write(event.contentBlockDelta.delta.text);
  if (event.metadata) console.log("\\n", event.metadata.usage);
}
`;
}

function openaiPy(req: ChatRequest, endpoint: string): string {
  const messages: { role: string; content: string }[] = [];
  if (req.system) messages.push({ role: 'system', content: req.system });
  for (const m of req.messages) messages.push({ role: m.role, content: m.text });
  const extra: string[] = [];
  if (req.inference.maxTokens !== undefined) extra.push(`    max_tokens=${req.inference.maxTokens},`);
  if (req.inference.temperature !== undefined) extra.push(`    temperature=${req.inference.temperature},`);
  if (req.inference.topP !== undefined) extra.push(`    top_p=${req.inference.topP},`);
  if (req.inference.stopSequences?.length) extra.push(`    stop=${pyLiteral(req.inference.stopSequences, 1)},`);
  return `from openai import OpenAI

client = OpenAI(base_url=${JSON.stringify(endpoint.replace(/\/$/, '') + '/v1')}, api_key="YOUR_OUTCROP_API_KEY")
stream = client.chat.completions.create(
    model=${JSON.stringify(req.modelId)},
    messages=${pyLiteral(messages, 1)},
    stream=True,
    stream_options={"include_usage": True},
${extra.join('\n')}${extra.length ? '\n' : ''})
for chunk in stream:
    if chunk.choices and chunk.choices[0].delta.content:
        print(chunk.choices[0].delta.content, end="", flush=True)
    if chunk.usage:
        print()
        print(chunk.usage)
`;
}

/** snippets returns the request as boto3, AWS SDK for Go v2, AWS SDK for JS v3 and OpenAI Python code. */
export function snippets(req: ChatRequest, endpoint: string): Snippet[] {
  return [
    { id: 'boto3', label: 'Python (boto3)', code: boto3(req, endpoint) },
    { id: 'go', label: 'Go (aws-sdk-go-v2)', code: goSDK(req, endpoint) },
    { id: 'js', label: 'JavaScript (AWS SDK v3)', code: jsSDK(req, endpoint) },
    { id: 'openai', label: 'Python (OpenAI SDK)', code: openaiPy(req, endpoint) },
  ];
}
