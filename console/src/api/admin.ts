// Types and calls of the admin API (/admin/v1, docs/CONSOLE.md "Admin API").
import { Client } from './client';

/** DeploymentStats is one deployment's live routing state. */
export interface DeploymentStats {
  model: string;
  deployment: string;
  in_flight: number;
  queued_optimized: number;
  queued_standard: number;
  ttft_ms: number;
  p90_ttft_ms: number;
  otps: number;
  breaker: string;
  open_for?: string;
  attempts: number;
  failures: number;
  stalls: number;
  breaker_opens: number;
  hedges: number;
  hedge_wins: number;
}

/** ModelStatus is one routed model. */
export interface ModelStatus {
  id: string;
  aliases: string[];
  description?: string;
  profiles: string[];
  fallbacks: string[];
  deployments: DeploymentStats[];
}

/** ModelsStatus is GET /admin/v1/models. */
export interface ModelsStatus {
  models: ModelStatus[];
  /** requests counts routed requests by latency profile. */
  requests: Record<string, number>;
  hedges: number;
  hedgeRate: number;
  retries: number;
}

/** ModelFile is a local .gguf in the model store. */
export interface ModelFile {
  id: string;
  size: number;
  sha256: string;
  source: string;
  added: string;
  architecture?: string;
  name?: string;
  converted?: string;
}

/** Pull is a download in progress or finished. */
export interface Pull {
  pullId: string;
  ref: string;
  startedAt: string;
  bytes: number;
  total: number;
  state: 'running' | 'done' | 'failed';
  error?: string;
  model?: ModelFile;
}

/** RequestEntry is one row of the request/audit log. */
export interface RequestEntry {
  id: string;
  time: string;
  requestId: string;
  principal: string;
  authMethod: string;
  keyId: string;
  sourceIp: string;
  api: string;
  method: string;
  path: string;
  operation: string;
  action: string;
  resource: string;
  model: string;
  decision: string;
  status: number;
  errorCode: string;
  inputTokens: number;
  outputTokens: number;
  latencyMs: number;
  prompt?: string;
  response?: string;
}

/** Attempt is one try at a deployment within a call. */
export interface Attempt {
  deployment: string;
  startMs: number;
  firstEventMs: number | null;
  completeMs?: number | null;
  error?: string;
  winner: boolean;
}

/** Call is the request recorder's measurements of an inference call. */
export interface Call {
  requestId: string;
  time: string;
  principal: string;
  api: string;
  operation: string;
  model: string;
  deployment: string;
  provider: string;
  profile: string;
  stream: boolean;
  status: string;
  ttftMs: number;
  otps: number;
  e2eMs: number;
  overheadUs: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  attempts: Attempt[];
  trace: Record<string, unknown> | null;
}

/** Bucket is one interval (and group) of the metrics series. */
export interface Bucket {
  start: string;
  key: string;
  requests: number;
  errors: number;
  errorRate: number;
  inputTokens: number;
  outputTokens: number;
  p50TtftMs: number;
  p90TtftMs: number;
  p50Otps: number;
  p90Otps: number;
  p50E2eMs: number;
  p90E2eMs: number;
}

/** MetricsSeries is GET /admin/v1/metrics. */
export interface MetricsSeries {
  from: string;
  to: string;
  step: string;
  groupBy: string;
  buckets: Bucket[];
}

/** Principal is an IAM-style user. */
export interface Principal {
  name: string;
  arn: string;
  createdAt?: string | null;
}

/** AccessKey is an access key pair (secret only in the create answer). */
export interface AccessKey {
  accessKeyId: string;
  secretAccessKey?: string;
  status: string;
  createdAt?: string | null;
  expiresAt?: string | null;
}

/** APIKey is a bearer key (the key only in the create answer). */
export interface APIKey {
  apiKeyId: string;
  apiKey?: string;
  status: string;
  createdAt?: string | null;
  expiresAt?: string | null;
  revokedAt?: string | null;
}

/** PolicyDoc is an attached inline policy. */
export interface PolicyDoc {
  name: string;
  document: unknown;
  createdAt?: string | null;
}

/** ConsoleSession is a live console session of a principal. */
export interface ConsoleSession {
  sessionId: string;
  principal: string;
  authMethod: string;
  keyId: string;
  createdAt: string;
  expiresAt: string;
  revokedAt?: string;
  sourceIp: string;
  userAgent: string;
}

/** PrincipalDetail is GET /admin/v1/principals/{name}. */
export interface PrincipalDetail extends Principal {
  accessKeys: AccessKey[];
  apiKeys: APIKey[];
  policies: PolicyDoc[];
  sessions: ConsoleSession[];
}

const enc = encodeURIComponent;

/** admin wraps the admin routes for one client. */
export function admin(c: Client) {
  return {
    models: (signal?: AbortSignal) => c.json<ModelsStatus>('/admin/v1/models', { signal }),
    localModels: (signal?: AbortSignal) => c.json<{ models: ModelFile[]; pulls: Pull[] }>('/admin/v1/local-models', { signal }),
    pullModel: (ref: string, id?: string, sha256?: string) =>
      c.json<Pull>('/admin/v1/local-models', { method: 'POST', body: { ref, ...(id ? { id } : {}), ...(sha256 ? { sha256 } : {}) } }),
    pullStatus: (id: string) => c.json<Pull>(`/admin/v1/local-models/pulls/${enc(id)}`),
    removeModel: (id: string) => c.json<void>(`/admin/v1/local-models/${enc(id)}`, { method: 'DELETE' }),
    requests: (q: Record<string, string | undefined>, signal?: AbortSignal) =>
      c.json<{ requests: RequestEntry[]; nextCursor?: string }>('/admin/v1/requests', { query: q, signal }),
    request: (id: string, signal?: AbortSignal) => c.json<{ request: RequestEntry; call?: Call }>(`/admin/v1/requests/${enc(id)}`, { signal }),
    metrics: (q: Record<string, string | undefined>, signal?: AbortSignal) => c.json<MetricsSeries>('/admin/v1/metrics', { query: q, signal }),
    principals: (signal?: AbortSignal) => c.json<{ principals: Principal[] }>('/admin/v1/principals', { signal }),
    createPrincipal: (name: string) => c.json<Principal>('/admin/v1/principals', { method: 'POST', body: { name } }),
    principal: (name: string, signal?: AbortSignal) => c.json<PrincipalDetail>(`/admin/v1/principals/${enc(name)}`, { signal }),
    deletePrincipal: (name: string) => c.json<void>(`/admin/v1/principals/${enc(name)}`, { method: 'DELETE' }),
    createAccessKey: (name: string, ttl?: string) =>
      c.json<AccessKey>(`/admin/v1/principals/${enc(name)}/access-keys`, { method: 'POST', body: ttl ? { ttl } : {} }),
    setAccessKeyStatus: (name: string, id: string, status: 'Active' | 'Inactive') =>
      c.json<void>(`/admin/v1/principals/${enc(name)}/access-keys/${enc(id)}`, { method: 'PUT', body: { status } }),
    deleteAccessKey: (name: string, id: string) => c.json<void>(`/admin/v1/principals/${enc(name)}/access-keys/${enc(id)}`, { method: 'DELETE' }),
    createAPIKey: (name: string, ttl?: string) =>
      c.json<APIKey>(`/admin/v1/principals/${enc(name)}/api-keys`, { method: 'POST', body: ttl ? { ttl } : {} }),
    revokeAPIKey: (name: string, id: string) => c.json<void>(`/admin/v1/principals/${enc(name)}/api-keys/${enc(id)}`, { method: 'DELETE' }),
    putPolicy: (name: string, policy: string, document: string) =>
      c.json<void>(`/admin/v1/principals/${enc(name)}/policies/${enc(policy)}`, { method: 'PUT', body: document, headers: { 'Content-Type': 'application/json' } }),
    deletePolicy: (name: string, policy: string) => c.json<void>(`/admin/v1/principals/${enc(name)}/policies/${enc(policy)}`, { method: 'DELETE' }),
    validatePolicy: (document: string) =>
      c.json<{ valid: boolean }>('/admin/v1/policies/validate', { method: 'POST', body: document, headers: { 'Content-Type': 'application/json' } }),
    revokeSession: (name: string, id: string) => c.json<void>(`/admin/v1/principals/${enc(name)}/sessions/${enc(id)}`, { method: 'DELETE' }),
  };
}
