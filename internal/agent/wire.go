package agent

import (
	"encoding/json"
	"time"
)

// Invocation is one InvokeAgent call.
type Invocation struct {
	AgentID, AliasID, SessionID string
	// InputText is the user's turn; ignored when the session state carries
	// returnControlInvocationResults.
	InputText    string
	SessionState *SessionState
	EnableTrace  bool
	// EndSession ends the session after this turn.
	EndSession bool
	// TurnKey, when set, makes the turn idempotent: a repeated invocation
	// with the session's last TurnKey replays that turn's answer without
	// calling the model or any tool again (a flow execution replayed after
	// a crash).
	TurnKey string
	// Inline, when set, is the agent of an InvokeInlineAgent call: defined
	// by the request, not stored; AgentID and AliasID are then empty.
	Inline *InlineAgent
	// Streaming is InvokeAgent's streamingConfigurations.
	Streaming *StreamingConfigurations
}

// StreamingConfigurations is InvokeAgent's streamingConfigurations:
// whether the final answer is streamed as the model writes it, and in
// pieces of how many characters.
type StreamingConfigurations struct {
	StreamFinalResponse bool `json:"streamFinalResponse"`
	// ApplyGuardrailInterval is the size of the streamed pieces in
	// characters (default 50); each piece is released only after the
	// agent's guardrail has passed it.
	ApplyGuardrailInterval *int `json:"applyGuardrailInterval,omitempty"`
}

// InlineAgent is the agent an InvokeInlineAgent call defines in its body.
type InlineAgent struct {
	// AgentName names the agent in Lambda input events; default
	// "InlineAgent".
	AgentName                   string                  `json:"agentName,omitempty"`
	FoundationModel             string                  `json:"foundationModel"`
	Instruction                 string                  `json:"instruction"`
	IdleSessionTTLInSeconds     int                     `json:"idleSessionTTLInSeconds,omitempty"`
	GuardrailConfiguration      *GuardrailConfiguration `json:"guardrailConfiguration,omitempty"`
	PromptOverrideConfiguration json.RawMessage         `json:"promptOverrideConfiguration,omitempty"`
	ActionGroups                []ActionGroupInput      `json:"actionGroups,omitempty"`
}

// SessionState is InvokeAgent's sessionState member.
type SessionState struct {
	SessionAttributes              map[string]string    `json:"sessionAttributes,omitempty"`
	PromptSessionAttributes        map[string]string    `json:"promptSessionAttributes,omitempty"`
	InvocationID                   string               `json:"invocationId,omitempty"`
	ReturnControlInvocationResults []InvocationResult   `json:"returnControlInvocationResults,omitempty"`
	ConversationHistory            *ConversationHistory `json:"conversationHistory,omitempty"`
	Files                          json.RawMessage      `json:"files,omitempty"`
	KnowledgeBaseConfigurations    json.RawMessage      `json:"knowledgeBaseConfigurations,omitempty"`
}

// ConversationHistory seeds a session with earlier turns.
type ConversationHistory struct {
	Messages []HistoryMessage `json:"messages"`
}

// HistoryMessage is one conversationHistory message.
type HistoryMessage struct {
	Role    string `json:"role"`
	Content []struct {
		Text string `json:"text"`
	} `json:"content"`
}

// InvocationResult is one returnControlInvocationResults entry (a union).
type InvocationResult struct {
	FunctionResult *FunctionResult `json:"functionResult,omitempty"`
	APIResult      *APIResult      `json:"apiResult,omitempty"`
}

// FunctionResult is the client's result of a function invocation.
type FunctionResult struct {
	ActionGroup       string                 `json:"actionGroup"`
	Function          string                 `json:"function,omitempty"`
	ResponseBody      map[string]ContentBody `json:"responseBody,omitempty"`
	ResponseState     string                 `json:"responseState,omitempty"`
	ConfirmationState string                 `json:"confirmationState,omitempty"`
	AgentID           string                 `json:"agentId,omitempty"`
}

// APIResult is the client's result of an API invocation.
type APIResult struct {
	ActionGroup       string                 `json:"actionGroup"`
	APIPath           string                 `json:"apiPath,omitempty"`
	HTTPMethod        string                 `json:"httpMethod,omitempty"`
	HTTPStatusCode    int                    `json:"httpStatusCode,omitempty"`
	ResponseBody      map[string]ContentBody `json:"responseBody,omitempty"`
	ResponseState     string                 `json:"responseState,omitempty"`
	ConfirmationState string                 `json:"confirmationState,omitempty"`
	AgentID           string                 `json:"agentId,omitempty"`
}

// ContentBody is a response body of one content type.
type ContentBody struct {
	Body string `json:"body"`
}

// Event is one item of an agent's response stream: exactly one member is
// set, named as InvokeAgent's event-stream union members.
type Event struct {
	Chunk         *Chunk
	Trace         *TracePart
	ReturnControl *ReturnControlPayload
}

// Chunk is a piece of the agent's answer (the "chunk" event).
type Chunk struct {
	Bytes []byte `json:"bytes"`
	// Question marks the question of AMAZON.UserInput: the turn ended
	// waiting for the user's answer. Not sent on the wire.
	Question bool `json:"-"`
}

// TracePart is the "trace" event.
type TracePart struct {
	AgentID      string          `json:"agentId"`
	AgentAliasID string          `json:"agentAliasId"`
	AgentVersion string          `json:"agentVersion"`
	SessionID    string          `json:"sessionId"`
	EventTime    time.Time       `json:"eventTime"`
	Trace        json.RawMessage `json:"trace"`
}

// ReturnControlPayload is the "returnControl" event: the tool calls the
// client must run before it calls InvokeAgent again with their results.
type ReturnControlPayload struct {
	InvocationID     string            `json:"invocationId"`
	InvocationInputs []InvocationInput `json:"invocationInputs"`
}

// InvocationInput is one returnControl invocationInputs entry (a union).
type InvocationInput struct {
	FunctionInvocationInput *FunctionInvocationInput `json:"functionInvocationInput,omitempty"`
	APIInvocationInput      *APIInvocationInput      `json:"apiInvocationInput,omitempty"`
}

// FunctionInvocationInput asks the client to run a function.
type FunctionInvocationInput struct {
	ActionGroup          string      `json:"actionGroup"`
	Function             string      `json:"function"`
	Parameters           []Parameter `json:"parameters"`
	ActionInvocationType string      `json:"actionInvocationType"`
}

// APIInvocationInput asks the client to call an API operation.
type APIInvocationInput struct {
	ActionGroup          string          `json:"actionGroup"`
	APIPath              string          `json:"apiPath"`
	HTTPMethod           string          `json:"httpMethod"`
	Parameters           []Parameter     `json:"parameters,omitempty"`
	RequestBody          *APIRequestBody `json:"requestBody,omitempty"`
	ActionInvocationType string          `json:"actionInvocationType"`
}

// Parameter is a name/type/value triple; values are strings on the wire.
type Parameter struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Value string `json:"value"`
}

// APIRequestBody carries the body properties of an API invocation.
type APIRequestBody struct {
	Content map[string]PropertyParameters `json:"content"`
}

// PropertyParameters lists body properties.
type PropertyParameters struct {
	Properties []Parameter `json:"properties"`
}
