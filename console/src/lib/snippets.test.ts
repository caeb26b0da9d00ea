import { describe, expect, it } from 'vitest';
import type { ChatRequest } from '../api/converse';
import { snippets } from './snippets';

const req: ChatRequest = {
  modelId: 'smollm2-135m',
  messages: [{ role: 'user', text: 'Say "hi"\nplease' }],
  system: 'terse',
  inference: { maxTokens: 32, temperature: 0.5 },
  latency: 'optimized',
  guardrail: { id: 'gr-1', version: 'DRAFT' },
};

describe('snippets', () => {
  const s = Object.fromEntries(snippets(req, 'http://127.0.0.1:8080').map((x) => [x.id, x.code]));

  it('gives the four SDKs', () => {
    expect(Object.keys(s)).toEqual(['boto3', 'go', 'js', 'openai']);
  });

  it('boto3 uses converse_stream with the same body', () => {
    expect(s.boto3).toContain('endpoint_url="http://127.0.0.1:8080"');
    expect(s.boto3).toContain('modelId="smollm2-135m"');
    expect(s.boto3).toContain('"text": "Say \\"hi\\"\\nplease"');
    expect(s.boto3).toContain('performanceConfig={');
    expect(s.boto3).toContain('"latency": "optimized"');
    expect(s.boto3).toContain('"guardrailIdentifier": "gr-1"');
    expect(s.boto3).toContain('"maxTokens": 32');
  });

  it('Go sets the endpoint, inference config and performance config', () => {
    expect(s.go).toContain('o.BaseEndpoint = aws.String("http://127.0.0.1:8080")');
    expect(s.go).toContain('ModelId: aws.String("smollm2-135m")');
    expect(s.go).toContain('MaxTokens: aws.Int32(32)');
    expect(s.go).toContain('Temperature: aws.Float32(0.5)');
    expect(s.go).toContain('types.PerformanceConfigLatencyOptimized');
    expect(s.go).toContain('&types.ContentBlockMemberText{Value: "Say \\"hi\\"\\nplease"}');
  });

  it('JS sends a ConverseStreamCommand', () => {
    expect(s.js).toContain('new ConverseStreamCommand(');
    expect(s.js).toContain('modelId: "smollm2-135m"');
    expect(s.js).toContain('endpoint: "http://127.0.0.1:8080"');
  });

  it('OpenAI points at /v1 with the system message first', () => {
    expect(s.openai).toContain('base_url="http://127.0.0.1:8080/v1"');
    expect(s.openai).toMatch(/"role": "system",\s+"content": "terse"/);
    expect(s.openai).toContain('max_tokens=32,');
    expect(s.openai).toContain('stream_options={"include_usage": True}');
  });
});
