package agent

import (
	"encoding/json"
	"time"
)

// Agent statuses, as bedrock-agent reports them.
const (
	StatusNotPrepared = "NOT_PREPARED"
	StatusPreparing   = "PREPARING"
	StatusPrepared    = "PREPARED"
	StatusFailed      = "FAILED"
)

// Agent is a stored agent version in the bedrock-agent wire shape
// (GetAgent's "agent" member).
type Agent struct {
	AgentID                     string                  `json:"agentId"`
	AgentName                   string                  `json:"agentName"`
	AgentArn                    string                  `json:"agentArn"`
	AgentVersion                string                  `json:"agentVersion"`
	ClientToken                 string                  `json:"clientToken,omitempty"`
	Instruction                 string                  `json:"instruction,omitempty"`
	AgentStatus                 string                  `json:"agentStatus"`
	FoundationModel             string                  `json:"foundationModel,omitempty"`
	Description                 string                  `json:"description,omitempty"`
	OrchestrationType           string                  `json:"orchestrationType,omitempty"`
	IdleSessionTTLInSeconds     int                     `json:"idleSessionTTLInSeconds"`
	AgentResourceRoleArn        string                  `json:"agentResourceRoleArn"`
	CustomerEncryptionKeyArn    string                  `json:"customerEncryptionKeyArn,omitempty"`
	CreatedAt                   time.Time               `json:"createdAt"`
	UpdatedAt                   time.Time               `json:"updatedAt"`
	PreparedAt                  *time.Time              `json:"preparedAt,omitempty"`
	GuardrailConfiguration      *GuardrailConfiguration `json:"guardrailConfiguration,omitempty"`
	PromptOverrideConfiguration json.RawMessage         `json:"promptOverrideConfiguration,omitempty"`
	MemoryConfiguration         json.RawMessage         `json:"memoryConfiguration,omitempty"`
	AgentCollaboration          string                  `json:"agentCollaboration,omitempty"`
	FailureReasons              []string                `json:"failureReasons,omitempty"`
}

// GuardrailConfiguration names the guardrail applied to every model call of
// the agent.
type GuardrailConfiguration struct {
	GuardrailIdentifier string `json:"guardrailIdentifier,omitempty"`
	GuardrailVersion    string `json:"guardrailVersion,omitempty"`
}

// AgentInput is the body of CreateAgent and UpdateAgent.
type AgentInput struct {
	AgentName                   string                  `json:"agentName"`
	ClientToken                 string                  `json:"clientToken,omitempty"`
	Instruction                 string                  `json:"instruction,omitempty"`
	FoundationModel             string                  `json:"foundationModel,omitempty"`
	Description                 string                  `json:"description,omitempty"`
	OrchestrationType           string                  `json:"orchestrationType,omitempty"`
	IdleSessionTTLInSeconds     int                     `json:"idleSessionTTLInSeconds,omitempty"`
	AgentResourceRoleArn        string                  `json:"agentResourceRoleArn,omitempty"`
	CustomerEncryptionKeyArn    string                  `json:"customerEncryptionKeyArn,omitempty"`
	GuardrailConfiguration      *GuardrailConfiguration `json:"guardrailConfiguration,omitempty"`
	PromptOverrideConfiguration json.RawMessage         `json:"promptOverrideConfiguration,omitempty"`
	MemoryConfiguration         json.RawMessage         `json:"memoryConfiguration,omitempty"`
	AgentCollaboration          string                  `json:"agentCollaboration,omitempty"`
	Tags                        map[string]string       `json:"tags,omitempty"`
}

// AgentSummary is one ListAgents entry.
type AgentSummary struct {
	AgentID                string                  `json:"agentId"`
	AgentName              string                  `json:"agentName"`
	AgentStatus            string                  `json:"agentStatus"`
	Description            string                  `json:"description,omitempty"`
	UpdatedAt              time.Time               `json:"updatedAt"`
	LatestAgentVersion     string                  `json:"latestAgentVersion,omitempty"`
	GuardrailConfiguration *GuardrailConfiguration `json:"guardrailConfiguration,omitempty"`
}

// ActionGroup is a stored action group in the bedrock-agent wire shape.
type ActionGroup struct {
	AgentID                          string            `json:"agentId"`
	AgentVersion                     string            `json:"agentVersion"`
	ActionGroupID                    string            `json:"actionGroupId"`
	ActionGroupName                  string            `json:"actionGroupName"`
	ClientToken                      string            `json:"clientToken,omitempty"`
	Description                      string            `json:"description,omitempty"`
	CreatedAt                        time.Time         `json:"createdAt"`
	UpdatedAt                        time.Time         `json:"updatedAt"`
	ParentActionSignature            string            `json:"parentActionSignature,omitempty"`
	ParentActionGroupSignatureParams map[string]string `json:"parentActionGroupSignatureParams,omitempty"`
	ActionGroupExecutor              *Executor         `json:"actionGroupExecutor,omitempty"`
	APISchema                        *APISchema        `json:"apiSchema,omitempty"`
	FunctionSchema                   *FunctionSchema   `json:"functionSchema,omitempty"`
	ActionGroupState                 string            `json:"actionGroupState"`
}

// ActionGroupInput is the body of CreateAgentActionGroup and
// UpdateAgentActionGroup.
type ActionGroupInput struct {
	ActionGroupName                  string            `json:"actionGroupName"`
	ClientToken                      string            `json:"clientToken,omitempty"`
	Description                      string            `json:"description,omitempty"`
	ParentActionGroupSignature       string            `json:"parentActionGroupSignature,omitempty"`
	ParentActionGroupSignatureParams map[string]string `json:"parentActionGroupSignatureParams,omitempty"`
	ActionGroupExecutor              *Executor         `json:"actionGroupExecutor,omitempty"`
	APISchema                        *APISchema        `json:"apiSchema,omitempty"`
	FunctionSchema                   *FunctionSchema   `json:"functionSchema,omitempty"`
	ActionGroupState                 string            `json:"actionGroupState,omitempty"`
}

// Executor is the actionGroupExecutor union: a Lambda ARN or
// customControl RETURN_CONTROL.
type Executor struct {
	Lambda        string `json:"lambda,omitempty"`
	CustomControl string `json:"customControl,omitempty"`
}

// APISchema is the apiSchema union; Outcrop accepts the inline payload
// (S3 locations cannot be read).
type APISchema struct {
	Payload string          `json:"payload,omitempty"`
	S3      json.RawMessage `json:"s3,omitempty"`
}

// FunctionSchema is the functionSchema union member "functions".
type FunctionSchema struct {
	Functions []Function `json:"functions"`
}

// Function is one function of a function schema.
type Function struct {
	Name                string                     `json:"name"`
	Description         string                     `json:"description,omitempty"`
	Parameters          map[string]ParameterDetail `json:"parameters,omitempty"`
	RequireConfirmation string                     `json:"requireConfirmation,omitempty"`
}

// ParameterDetail describes one function parameter.
type ParameterDetail struct {
	Type        string `json:"type"`
	Description string `json:"description,omitempty"`
	Required    bool   `json:"required,omitempty"`
}

// ActionGroupSummary is one ListAgentActionGroups entry.
type ActionGroupSummary struct {
	ActionGroupID    string    `json:"actionGroupId"`
	ActionGroupName  string    `json:"actionGroupName"`
	ActionGroupState string    `json:"actionGroupState"`
	Description      string    `json:"description,omitempty"`
	UpdatedAt        time.Time `json:"updatedAt"`
}

// Alias is a stored agent alias in the bedrock-agent wire shape.
type Alias struct {
	AgentID              string         `json:"agentId"`
	AgentAliasID         string         `json:"agentAliasId"`
	AgentAliasName       string         `json:"agentAliasName"`
	AgentAliasArn        string         `json:"agentAliasArn"`
	ClientToken          string         `json:"clientToken,omitempty"`
	Description          string         `json:"description,omitempty"`
	RoutingConfiguration []AliasRouting `json:"routingConfiguration"`
	CreatedAt            time.Time      `json:"createdAt"`
	UpdatedAt            time.Time      `json:"updatedAt"`
	AgentAliasStatus     string         `json:"agentAliasStatus"`
	AliasInvocationState string         `json:"aliasInvocationState,omitempty"`
	HistoryEvents        []AliasHistory `json:"agentAliasHistoryEvents,omitempty"`
}

// AliasRouting points an alias at a version.
type AliasRouting struct {
	AgentVersion string `json:"agentVersion,omitempty"`
}

// AliasHistory is one agentAliasHistoryEvents entry.
type AliasHistory struct {
	RoutingConfiguration []AliasRouting `json:"routingConfiguration,omitempty"`
	StartDate            time.Time      `json:"startDate"`
	EndDate              *time.Time     `json:"endDate,omitempty"`
}

// AliasInput is the body of CreateAgentAlias and UpdateAgentAlias.
type AliasInput struct {
	AgentAliasName       string            `json:"agentAliasName"`
	ClientToken          string            `json:"clientToken,omitempty"`
	Description          string            `json:"description,omitempty"`
	RoutingConfiguration []AliasRouting    `json:"routingConfiguration,omitempty"`
	AliasInvocationState string            `json:"aliasInvocationState,omitempty"`
	Tags                 map[string]string `json:"tags,omitempty"`
}

// AliasSummary is one ListAgentAliases entry.
type AliasSummary struct {
	AgentAliasID         string         `json:"agentAliasId"`
	AgentAliasName       string         `json:"agentAliasName"`
	Description          string         `json:"description,omitempty"`
	RoutingConfiguration []AliasRouting `json:"routingConfiguration,omitempty"`
	AgentAliasStatus     string         `json:"agentAliasStatus"`
	CreatedAt            time.Time      `json:"createdAt"`
	UpdatedAt            time.Time      `json:"updatedAt"`
}
