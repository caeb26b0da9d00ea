package flow

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
)

// Definition is a flow definition (FlowDefinition): nodes and the
// connections between them.
type Definition struct {
	Nodes       []Node       `json:"nodes"`
	Connections []Connection `json:"connections"`
}

// Node is one node (FlowNode). Configuration is the union keyed by the
// lower-camel node type ({"prompt": {...}}), kept raw so that it round-trips
// byte for byte.
type Node struct {
	Name          string                     `json:"name"`
	Type          string                     `json:"type"`
	Configuration map[string]json.RawMessage `json:"configuration,omitempty"`
	Inputs        []NodeInput                `json:"inputs,omitempty"`
	Outputs       []NodeOutput               `json:"outputs,omitempty"`
}

// NodeInput is a named, typed input with its $.data expression.
type NodeInput struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	Expression string `json:"expression"`
	Category   string `json:"category,omitempty"`
}

// NodeOutput is a named, typed output.
type NodeOutput struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Connection links a source node to a target node: Data (an output to an
// input) or Conditional (a condition of a Condition node gates the target).
type Connection struct {
	Name          string                   `json:"name"`
	Source        string                   `json:"source"`
	Target        string                   `json:"target"`
	Type          string                   `json:"type"`
	Configuration *ConnectionConfiguration `json:"configuration,omitempty"`
}

// ConnectionConfiguration is the connection's union.
type ConnectionConfiguration struct {
	Data        *DataConnection        `json:"data,omitempty"`
	Conditional *ConditionalConnection `json:"conditional,omitempty"`
}

// DataConnection names the source output and the target input.
type DataConnection struct {
	SourceOutput string `json:"sourceOutput"`
	TargetInput  string `json:"targetInput"`
}

// ConditionalConnection names the condition that gates the target.
type ConditionalConnection struct {
	Condition string `json:"condition"`
}

// Node types (FlowNodeType).
const (
	NodeInputT          = "Input"
	NodeOutputT         = "Output"
	NodeKnowledgeBase   = "KnowledgeBase"
	NodeCondition       = "Condition"
	NodeLex             = "Lex"
	NodePrompt          = "Prompt"
	NodeLambdaFunction  = "LambdaFunction"
	NodeStorage         = "Storage"
	NodeAgent           = "Agent"
	NodeRetrieval       = "Retrieval"
	NodeIterator        = "Iterator"
	NodeCollector       = "Collector"
	NodeInlineCode      = "InlineCode"
	NodeLoop            = "Loop"
	NodeLoopInput       = "LoopInput"
	NodeLoopController  = "LoopController"
	ConnData            = "Data"
	ConnConditional     = "Conditional"
	DefaultConditionKey = "default"
)

// configKey is the configuration union key of each node type.
var configKey = map[string]string{
	NodeInputT: "input", NodeOutputT: "output", NodeKnowledgeBase: "knowledgeBase", NodeCondition: "condition",
	NodeLex: "lex", NodePrompt: "prompt", NodeLambdaFunction: "lambdaFunction", NodeStorage: "storage",
	NodeAgent: "agent", NodeRetrieval: "retrieval", NodeIterator: "iterator", NodeCollector: "collector",
	NodeInlineCode: "inlineCode", NodeLoop: "loop", NodeLoopInput: "loopInput", NodeLoopController: "loopController",
}

var (
	nodeNameRE = regexp.MustCompile(`^[a-zA-Z]([_]?[0-9a-zA-Z]){1,50}$`)
	connNameRE = regexp.MustCompile(`^[a-zA-Z]([_]?[0-9a-zA-Z]){1,100}$`)
)

// Model limits of a definition.
const (
	MaxNodes       = 40
	MaxConnections = 20
	MaxNodeInputs  = 20
	MaxNodeOutputs = 5
)

// ParseDefinition decodes a definition, rejecting unknown fields and
// trailing data; shape problems beyond JSON syntax are Validate's job.
func ParseDefinition(data []byte) (*Definition, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	var def Definition
	if err := d.Decode(&def); err != nil {
		return nil, fmt.Errorf("flow definition: %w", err)
	}
	if d.More() {
		return nil, fmt.Errorf("flow definition: data after the definition")
	}
	return &def, nil
}

// config decodes the node's configuration union member into v; ok is false
// when the member for the node's type is absent.
func (n *Node) config(v any) (ok bool, err error) {
	raw, present := n.Configuration[configKey[n.Type]]
	if !present || len(raw) == 0 || string(raw) == "null" {
		return false, nil
	}
	return true, json.Unmarshal(raw, v)
}

// PromptConfig is the Prompt node's configuration.
type PromptConfig struct {
	SourceConfiguration struct {
		Inline *struct {
			ModelID               string `json:"modelId"`
			TemplateType          string `json:"templateType"`
			TemplateConfiguration struct {
				Text *struct {
					Text           string `json:"text"`
					InputVariables []struct {
						Name string `json:"name"`
					} `json:"inputVariables"`
				} `json:"text"`
				Chat *struct {
					Messages []struct {
						Role    string `json:"role"`
						Content []struct {
							Text string `json:"text"`
						} `json:"content"`
					} `json:"messages"`
					System []struct {
						Text string `json:"text"`
					} `json:"system"`
				} `json:"chat"`
			} `json:"templateConfiguration"`
			InferenceConfiguration struct {
				Text *struct {
					Temperature   *float64 `json:"temperature"`
					TopP          *float64 `json:"topP"`
					MaxTokens     *int     `json:"maxTokens"`
					StopSequences []string `json:"stopSequences"`
				} `json:"text"`
			} `json:"inferenceConfiguration"`
		} `json:"inline"`
		Resource *struct {
			PromptARN string `json:"promptArn"`
		} `json:"resource"`
	} `json:"sourceConfiguration"`
	GuardrailConfiguration *struct {
		GuardrailIdentifier string `json:"guardrailIdentifier"`
		GuardrailVersion    string `json:"guardrailVersion"`
	} `json:"guardrailConfiguration"`
}

// ConditionConfig is the Condition node's configuration.
type ConditionConfig struct {
	Conditions []FlowCondition `json:"conditions"`
}

// FlowCondition is one named condition; no expression means the default.
type FlowCondition struct {
	Name       string  `json:"name"`
	Expression *string `json:"expression,omitempty"`
}

// AgentConfig is the Agent node's configuration.
type AgentConfig struct {
	AgentAliasARN string `json:"agentAliasArn"`
}

// InlineCodeConfig is the InlineCode node's configuration.
type InlineCodeConfig struct {
	Code     string `json:"code"`
	Language string `json:"language"`
}

// LoopConfig is the Loop (DoWhile) node's configuration.
type LoopConfig struct {
	Definition *Definition `json:"definition"`
}

// LoopControllerConfig is the LoopController node's configuration.
type LoopControllerConfig struct {
	ContinueCondition *FlowCondition `json:"continueCondition"`
	MaxIterations     *int           `json:"maxIterations"`
}
