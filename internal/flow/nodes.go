package flow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/store"
)

// Converser makes a model call through Outcrop's gateway pipeline (auth,
// policy, quotas, guardrails, metrics, routing); *gateway.Gateway is one.
type Converser interface {
	Converse(ctx context.Context, c *gateway.Call) (*llm.Response, error)
}

// AgentRuntime runs one turn of a Bedrock-style agent for an Agent node.
// A reply either completes the turn with Text or asks the user (NeedsInput,
// Text is the question); the next turn of the same session carries the
// answer. TurnKey identifies the turn: a repeated call with the same
// session and key (a run replayed after a crash) must return the first
// reply without acting again.
type AgentRuntime interface {
	InvokeAgent(ctx context.Context, t AgentTurn) (AgentReply, error)
}

// AgentTurn is one input to an agent.
type AgentTurn struct {
	AliasARN  string
	SessionID string
	TurnKey   string
	InputText string
}

// AgentReply is the agent's answer to a turn.
type AgentReply struct {
	Text       string
	NeedsInput bool
	// Traces are the agent's trace parts (InvokeAgent "trace" events) of
	// the turn, surfaced as the node's nodeDependencyTrace.
	Traces []json.RawMessage `json:"traces,omitempty"`
}

// Runner runs the effectful node kinds.
type Runner struct {
	// Models serves Prompt nodes.
	Models Converser
	// Agents serves Agent nodes.
	Agents AgentRuntime
	// Region is used in model ARNs.
	Region string
	// Prompts renders a managed prompt (a Prompt node's resource.promptArn)
	// with the node's inputs as its variables; nil refuses such nodes.
	Prompts func(ctx context.Context, arn string, vars map[string]string) (*llm.Request, error)
	// Resolve maps the model identifier a node names (an ID, an alias, a
	// foundation-model or inference-profile ARN) to the model's canonical
	// ID, as the API edge does (gateway.Call.Model), so that no spelling of
	// a model dodges a policy or a quota; ok is false for an unknown model.
	// Nil keeps identifiers as they are.
	Resolve func(id string) (canonical string, ok bool)
	// KnowledgeBases serves KnowledgeBase nodes; nil refuses them.
	KnowledgeBases KnowledgeBases
	// Objects serves Storage and Retrieval nodes; nil refuses them.
	Objects ObjectStore
}

var _ NodeRunner = (*Runner)(nil)

// RunNode implements NodeRunner.
func (r *Runner) RunNode(ctx context.Context, x *Execution, run *Run) Event {
	fail := func(format string, args ...any) Event {
		return Event{Failed: &NodeFailed{Activation: run.Activation, Message: fmt.Sprintf(format, args...)}}
	}
	done := func(out string, v Value) Event {
		return Event{Done: &NodeDone{Activation: run.Activation, Outputs: map[string]Value{out: v}}}
	}
	switch run.Node.Type {
	case NodePrompt:
		text, act, err := r.prompt(ctx, run)
		var tr NodeTraces
		if act != nil {
			tr.Actions = []ActionTrace{*act}
		}
		if err != nil {
			ev := fail("prompt node %q: %v", run.Node.Name, err)
			ev.Failed.NodeTraces = tr
			return ev
		}
		ev := done("modelCompletion", text)
		ev.Done.NodeTraces = tr
		return ev
	case NodeKnowledgeBase:
		return r.knowledgeBase(ctx, x, run)
	case NodeStorage, NodeRetrieval:
		return r.objects(ctx, x, run)
	case NodeAgent:
		if r.Agents == nil {
			return fail("agent node %q: no agent runtime is configured", run.Node.Name)
		}
		var ac AgentConfig
		run.Node.config(&ac)
		turn := AgentTurn{AliasARN: ac.AgentAliasARN, SessionID: x.ID + "/" + run.Activation, TurnKey: fmt.Sprint(x.Turn)}
		if run.Resume != nil {
			turn.InputText = valueText(*run.Resume)
		} else {
			for _, in := range run.Inputs {
				if in.Name == "agentInputText" {
					turn.InputText = valueText(in.Value)
				}
			}
		}
		rep, err := r.Agents.InvokeAgent(ctx, turn)
		if err != nil {
			return fail("agent node %q: %v", run.Node.Name, err)
		}
		tr := NodeTraces{AgentTraces: rep.Traces}
		if rep.NeedsInput {
			return Event{Waiting: &NodeWaiting{Activation: run.Activation, Question: rep.Text, NodeTraces: tr}}
		}
		ev := done("agentResponse", rep.Text)
		ev.Done.NodeTraces = tr
		return ev
	case NodeInlineCode:
		return runInlineCode(ctx, run)
	default:
		return fail("%s nodes cannot run in Outcrop yet (node %q)", run.Node.Type, run.Node.Name)
	}
}

// valueText is how a value fills a template variable: strings as they are,
// anything else as JSON.
func valueText(v Value) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := MarshalValue(v)
	return string(b)
}

// render fills {{name}} placeholders from vars; unknown names stay as they are.
func render(tmpl string, vars map[string]string) string {
	var b strings.Builder
	for {
		i := strings.Index(tmpl, "{{")
		if i < 0 {
			b.WriteString(tmpl)
			return b.String()
		}
		j := strings.Index(tmpl[i+2:], "}}")
		if j < 0 {
			b.WriteString(tmpl)
			return b.String()
		}
		name := strings.TrimSpace(tmpl[i+2 : i+2+j])
		b.WriteString(tmpl[:i])
		if v, ok := vars[name]; ok {
			b.WriteString(v)
		} else {
			b.WriteString(tmpl[i : i+4+j])
		}
		tmpl = tmpl[i+4+j:]
	}
}

// model returns the canonical ID of a model a node names.
func (r *Runner) model(id string) (string, error) {
	if r.Resolve == nil {
		return id, nil
	}
	c, ok := r.Resolve(id)
	if !ok {
		return "", llm.Errorf(llm.KindValidation, "The provided model identifier %s is invalid.", id)
	}
	return c, nil
}

// converse calls the model of req through the gateway on its canonical ID
// and returns the response with the call's nodeActionTrace.
func (r *Runner) converse(ctx context.Context, req *llm.Request) (*llm.Response, *ActionTrace, error) {
	id, err := r.model(req.Model)
	if err != nil {
		return nil, nil, err
	}
	req.Model = id
	c := &gateway.Call{API: "bedrock", Op: "Converse", Action: "bedrock:InvokeModel", Model: id,
		Resource: modelARN(r.Region, id), Request: req, RequestID: NewExecutionID()}
	act := &ActionTrace{RequestID: c.RequestID, ServiceName: "bedrock", OperationName: "Converse", Request: converseRequestJSON(req)}
	resp, err := r.Models.Converse(ctx, c)
	if err != nil {
		act.Response, _ = json.Marshal(map[string]string{"error": err.Error()})
		return nil, act, err
	}
	act.Response = converseResponseJSON(resp)
	return resp, act, nil
}

func (r *Runner) prompt(ctx context.Context, run *Run) (string, *ActionTrace, error) {
	var pc PromptConfig
	if _, err := run.Node.config(&pc); err != nil {
		return "", nil, err
	}
	if r.Models == nil {
		return "", nil, errors.New("no model gateway is configured")
	}
	vars := map[string]string{}
	for _, in := range run.Inputs {
		vars[in.Name] = valueText(in.Value)
	}
	var req *llm.Request
	if inl := pc.SourceConfiguration.Inline; inl != nil {
		req = &llm.Request{Model: inl.ModelID}
		tc := inl.TemplateConfiguration
		switch {
		case tc.Text != nil:
			req.Messages = []llm.Message{{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock(render(tc.Text.Text, vars))}}}
		case tc.Chat != nil:
			for _, s := range tc.Chat.System {
				req.System = append(req.System, llm.TextBlock(render(s.Text, vars)))
			}
			for _, m := range tc.Chat.Messages {
				msg := llm.Message{Role: llm.Role(m.Role)}
				for _, c := range m.Content {
					msg.Content = append(msg.Content, llm.TextBlock(render(c.Text, vars)))
				}
				req.Messages = append(req.Messages, msg)
			}
		}
		if t := inl.InferenceConfiguration.Text; t != nil {
			req.Inference = llm.InferenceConfig{MaxTokens: t.MaxTokens, Temperature: t.Temperature, TopP: t.TopP, StopSequences: t.StopSequences}
		}
	} else {
		res := pc.SourceConfiguration.Resource
		if r.Prompts == nil || res == nil {
			return "", nil, errors.New("managed prompts are not available here; use an inline prompt")
		}
		var err error
		if req, err = r.Prompts(ctx, res.PromptARN, vars); err != nil {
			return "", nil, err
		}
	}
	// The node's guardrail applies to the prompt sent and the completion
	// returned, in the gateway's guardrail stage; an intervention answers
	// with the guardrail's blocked message and shows in the action trace
	// (stopReason guardrail_intervened, trace.guardrail).
	if g := pc.GuardrailConfiguration; g != nil && g.GuardrailIdentifier != "" {
		req.Guardrail = &llm.GuardrailConfig{ID: g.GuardrailIdentifier, Version: g.GuardrailVersion, Trace: "enabled"}
	}
	resp, act, err := r.converse(ctx, req)
	if err != nil {
		return "", act, err
	}
	return responseText(resp), act, nil
}

func modelARN(region, id string) string {
	if strings.HasPrefix(id, "arn:") {
		return id
	}
	if region == "" {
		region = "us-east-1"
	}
	return "arn:aws:bedrock:" + region + "::foundation-model/" + id
}

func responseText(resp *llm.Response) string {
	var b strings.Builder
	for _, c := range resp.Message.Content {
		if c.Kind == llm.KindText {
			b.WriteString(c.Text)
		}
	}
	return b.String()
}

// ConverseAgent is the Agent-node runtime Outcrop uses until the agents
// runtime is wired in: a small tool-calling loop over the gateway's
// Converse path whose one tool, AskUser, pauses the flow with the model's
// question (Bedrock's AMAZON.UserInput). The conversation of each session
// is kept in the store, with the reply of its last turn, so a turn replayed
// after a crash returns that reply without calling the model again.
type ConverseAgent struct {
	DB     *store.DB
	Models Converser
	// Model is the model every agent alias runs on.
	Model string
	// Instruction is the agent's system prompt.
	Instruction string
	Region      string
	// MaxSteps bounds model calls per turn; 0 means 5.
	MaxSteps int
}

var _ AgentRuntime = (*ConverseAgent)(nil)

// AskUserTool is the name of the tool the agent calls to ask the user.
const AskUserTool = "AskUser"

type agentSession struct {
	Messages  []agentMessage `json:"messages"`
	LastTurn  string         `json:"lastTurn"`
	LastReply AgentReply     `json:"lastReply"`
	PendingID string         `json:"pendingToolUseId,omitempty"`
}

type agentMessage struct {
	Role    string          `json:"role"`
	Text    string          `json:"text,omitempty"`
	ToolUse *llm.ToolUse    `json:"toolUse,omitempty"`
	Result  *agentToolReply `json:"toolResult,omitempty"`
}

type agentToolReply struct {
	ID   string `json:"id"`
	Text string `json:"text"`
}

func (a *ConverseAgent) load(ctx context.Context, id string) (*agentSession, error) {
	var raw string
	err := a.DB.QueryRow(ctx, `SELECT messages FROM flow_agent_sessions WHERE id = ?`, []any{id}, &raw)
	if errors.Is(err, store.ErrNotFound) {
		return &agentSession{}, nil
	}
	if err != nil {
		return nil, err
	}
	s := &agentSession{}
	return s, json.Unmarshal([]byte(raw), s)
}

func (a *ConverseAgent) save(ctx context.Context, id string, s *agentSession) error {
	b, _ := json.Marshal(s)
	_, err := a.DB.Exec(ctx, `INSERT INTO flow_agent_sessions (id, messages, updated_at) VALUES (?, ?, ?)
ON CONFLICT (id) DO UPDATE SET messages = excluded.messages, updated_at = excluded.updated_at`, id, string(b), 0)
	return err
}

// InvokeAgent implements AgentRuntime.
func (a *ConverseAgent) InvokeAgent(ctx context.Context, t AgentTurn) (AgentReply, error) {
	s, err := a.load(ctx, t.SessionID)
	if err != nil {
		return AgentReply{}, err
	}
	if s.LastTurn == t.TurnKey && t.TurnKey != "" {
		return s.LastReply, nil // replayed turn
	}
	if s.PendingID != "" {
		s.Messages = append(s.Messages, agentMessage{Role: "user", Result: &agentToolReply{ID: s.PendingID, Text: t.InputText}})
		s.PendingID = ""
	} else {
		s.Messages = append(s.Messages, agentMessage{Role: "user", Text: t.InputText})
	}
	steps := a.MaxSteps
	if steps <= 0 {
		steps = 5
	}
	instruction := a.Instruction
	if instruction == "" {
		instruction = "You are a helpful agent. When you need information only the user can give, call the " + AskUserTool + " tool with your question. Otherwise answer."
	}
	tools := &llm.ToolConfig{Tools: []llm.Tool{{Name: AskUserTool, Description: "Ask the user a question and wait for the answer.",
		Schema: json.RawMessage(`{"type":"object","properties":{"question":{"type":"string"}},"required":["question"]}`)}}}
	for range steps {
		req := &llm.Request{Model: a.Model, System: []llm.Block{llm.TextBlock(instruction)}, Tools: tools}
		for _, m := range s.Messages {
			msg := llm.Message{Role: llm.Role(m.Role)}
			switch {
			case m.ToolUse != nil:
				if m.Text != "" {
					msg.Content = append(msg.Content, llm.TextBlock(m.Text))
				}
				msg.Content = append(msg.Content, llm.Block{Kind: llm.KindToolUse, ToolUse: m.ToolUse})
			case m.Result != nil:
				msg.Content = append(msg.Content, llm.Block{Kind: llm.KindToolResult, ToolResult: &llm.ToolResult{ToolUseID: m.Result.ID,
					Content: []llm.ToolResultContent{{Text: m.Result.Text}}}})
			default:
				msg.Content = append(msg.Content, llm.TextBlock(m.Text))
			}
			req.Messages = append(req.Messages, msg)
		}
		resp, err := a.Models.Converse(ctx, &gateway.Call{API: "bedrock", Op: "Converse", Action: "bedrock:InvokeModel",
			Model: a.Model, Resource: modelARN(a.Region, a.Model), Request: req})
		if err != nil {
			return AgentReply{}, err
		}
		text := responseText(resp)
		var use *llm.ToolUse
		for _, c := range resp.Message.Content {
			if c.Kind == llm.KindToolUse && c.ToolUse != nil {
				use = c.ToolUse
				break
			}
		}
		if use == nil {
			s.Messages = append(s.Messages, agentMessage{Role: "assistant", Text: text})
			s.LastTurn, s.LastReply = t.TurnKey, AgentReply{Text: text}
			return s.LastReply, a.save(ctx, t.SessionID, s)
		}
		s.Messages = append(s.Messages, agentMessage{Role: "assistant", Text: text, ToolUse: use})
		if use.Name == AskUserTool {
			var q struct {
				Question string `json:"question"`
			}
			json.Unmarshal(use.Input, &q)
			if q.Question == "" {
				q.Question = text
			}
			s.PendingID = use.ID
			s.LastTurn, s.LastReply = t.TurnKey, AgentReply{Text: q.Question, NeedsInput: true}
			return s.LastReply, a.save(ctx, t.SessionID, s)
		}
		s.Messages = append(s.Messages, agentMessage{Role: "user", Result: &agentToolReply{ID: use.ID, Text: "unknown tool " + use.Name}})
	}
	return AgentReply{}, fmt.Errorf("the agent did not finish within %d model calls", steps)
}
