// Package agent runs Bedrock-compatible agents: the bedrock-agent control
// plane for agents, action groups and aliases (Control), and the runtime
// behind InvokeAgent (Service, through the Runtime interface that the flows
// engine's agent node also uses).
//
// # The loop
//
// One invocation is a pull-style state machine (Stream): each Next that
// finds no queued event makes one model call through ConverseFunc, which
// app wires to the gateway pipeline, so authorization, quotas, guardrails,
// metrics and routing apply to every step. The model sees the agent's
// instruction as the system prompt and each enabled action group's
// functions (function schema) or operations (OpenAPI schema, validated with
// kin-openapi) as native tools named "<actionGroup>__<function>". A turn
// ends when the model answers without tool calls (a "chunk" event), asks
// the user through AMAZON.UserInput (the question is the chunk; the next
// turn's inputText is the answer), or calls a RETURN_CONTROL tool (a
// "returnControl" event; the next turn carries the results). Lambda action
// groups are sent the Bedrock Lambda input event over HTTP
// (Options.LambdaEndpoints) and their response is read back.
//
// # Security (OWASP LLM06)
//
// The principal in the context is bound to the session on its first turn;
// another principal gets AccessDeniedException on that session. Before
// every tool call AuthorizeFunc checks ActionInvokeTool
// ("bedrock:InvokeAgentTool") on the tool's ARN (Service.ToolARN): a denied
// call is never executed, and the model is told the tool is not available.
// Tool arguments come from the model; identity never does. Tool output goes
// back to the model as a tool result (data), and every later call is
// checked again, so an injected instruction cannot widen what runs. Limits
// cap model calls, tool calls and tokens per invocation.
// sessionAttributes never enter prompts or traces; promptSessionAttributes
// enter the system prompt for one turn, marked as data.
//
// # State
//
// Agents (DRAFT and numbered versions), action groups (per agent version),
// aliases and sessions are internal/resource items; sessions are keyed by
// agent, alias and session ID, expire after the agent's
// idleSessionTTLInSeconds of inactivity, and are deleted with endSession or
// with their agent. A turn holds a lease on its session (a row in
// agent_session_leases, renewed at each model call), so a second turn of
// the same session, on any replica sharing the database, gets
// ConflictException until the first ends.
package agent
