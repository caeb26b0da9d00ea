package agent

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"

	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/resource"
)

// Built-in action group signatures.
const (
	SignatureUserInput = "AMAZON.UserInput"
)

// ReturnControl is the customControl value that hands tool calls back to the
// client.
const ReturnControl = "RETURN_CONTROL"

// Caps on what an agent definition may hold.
const (
	maxFunctions    = 11 // "An action group can contain up to 11 API operations"
	maxParameters   = 20
	maxInstruction  = 4000
	minInstruction  = 40
	maxInputText    = 25_000_000
	userInputTool   = "AskUser"
	toolNameMaxLen  = 64
	toolNameJoin    = "__"
	maxSchemaLength = 100_000
)

var functionName = regexp.MustCompile(`^([0-9a-zA-Z][_-]?){1,100}$`)

// validateAgent checks a CreateAgent/UpdateAgent body.
func validateAgent(in *AgentInput) error {
	if err := resource.Name("agentName", in.AgentName); err != nil {
		return err
	}
	if in.Instruction != "" {
		if err := resource.Length("instruction", in.Instruction, minInstruction, maxInstruction); err != nil {
			return err
		}
	}
	if err := resource.OptionalLength("description", in.Description, 1, 200); err != nil {
		return err
	}
	if err := resource.OptionalLength("foundationModel", in.FoundationModel, 1, 2048); err != nil {
		return err
	}
	if in.IdleSessionTTLInSeconds != 0 {
		if err := resource.Range("idleSessionTTLInSeconds", in.IdleSessionTTLInSeconds, 60, 5400); err != nil {
			return err
		}
	}
	switch in.OrchestrationType {
	case "", "DEFAULT":
	case "CUSTOM_ORCHESTRATION":
		return resource.Invalid("orchestrationType", "CUSTOM_ORCHESTRATION needs a Lambda orchestrator, which Outcrop does not run; use DEFAULT")
	default:
		return resource.Invalid("orchestrationType", "Member must satisfy enum value set: [DEFAULT, CUSTOM_ORCHESTRATION]")
	}
	switch in.AgentCollaboration {
	case "", "DISABLED":
	case "SUPERVISOR", "SUPERVISOR_ROUTER":
		return resource.Invalid("agentCollaboration", "multi-agent collaboration is not supported; use DISABLED")
	default:
		return resource.Invalid("agentCollaboration", "Member must satisfy enum value set: [SUPERVISOR, SUPERVISOR_ROUTER, DISABLED]")
	}
	if g := in.GuardrailConfiguration; g != nil && g.GuardrailIdentifier != "" {
		if _, err := resource.ParseVersion("guardrailConfiguration.guardrailVersion", g.GuardrailVersion); err != nil {
			return err
		}
	}
	if _, err := parseOverrides(in.PromptOverrideConfiguration); err != nil {
		return err
	}
	return resource.Tags("tags", in.Tags)
}

// validateActionGroup checks a CreateAgentActionGroup/UpdateAgentActionGroup
// body.
func validateActionGroup(in *ActionGroupInput) error {
	if err := resource.Name("actionGroupName", in.ActionGroupName); err != nil {
		return err
	}
	if err := resource.OptionalLength("description", in.Description, 1, 200); err != nil {
		return err
	}
	switch in.ActionGroupState {
	case "", "ENABLED", "DISABLED":
	default:
		return resource.Invalid("actionGroupState", "Member must satisfy enum value set: [ENABLED, DISABLED]")
	}
	if sig := in.ParentActionGroupSignature; sig != "" {
		switch sig {
		case SignatureUserInput:
		case SignatureMCP:
			if in.ParentActionGroupSignatureParams["server"] == "" {
				return resource.Invalid("parentActionGroupSignatureParams.server", "OUTCROP.MCP needs the name of a configured MCP server")
			}
		default:
			return resource.Invalid("parentActionGroupSignature", "Member must be AMAZON.UserInput or OUTCROP.MCP")
		}
		if in.ActionGroupExecutor != nil || in.APISchema != nil || in.FunctionSchema != nil {
			return resource.Invalidf("An action group with parentActionGroupSignature must not have an actionGroupExecutor, apiSchema or functionSchema.")
		}
		return nil
	}
	ex := in.ActionGroupExecutor
	if ex == nil || (ex.Lambda == "") == (ex.CustomControl == "") {
		return resource.Invalid("actionGroupExecutor", "exactly one of lambda and customControl must be set")
	}
	if ex.CustomControl != "" && ex.CustomControl != ReturnControl {
		return resource.Invalid("actionGroupExecutor.customControl", "Member must satisfy enum value set: [RETURN_CONTROL]")
	}
	if ex.Lambda != "" {
		if a, ok := resource.ParseARN(ex.Lambda); !ok || a.Service != "lambda" {
			if !strings.HasPrefix(ex.Lambda, "arn:") || strings.Count(ex.Lambda, ":") < 6 || !strings.Contains(ex.Lambda, ":lambda:") {
				return resource.Invalid("actionGroupExecutor.lambda", "Member must be a Lambda function ARN")
			}
		}
	}
	if (in.APISchema == nil) == (in.FunctionSchema == nil) {
		return resource.Invalidf("Exactly one of apiSchema and functionSchema must be set.")
	}
	if in.APISchema != nil {
		return validateAPISchema(in.APISchema)
	}
	return validateFunctions(in.FunctionSchema)
}

// validateFunctions checks a function schema.
func validateFunctions(fs *FunctionSchema) error {
	if len(fs.Functions) == 0 || len(fs.Functions) > maxFunctions {
		return resource.Invalid("functionSchema.functions", "Member must have between 1 and 11 items")
	}
	seen := map[string]bool{}
	for i, f := range fs.Functions {
		field := "functionSchema.functions." + itoa(i)
		if !functionName.MatchString(f.Name) {
			return resource.Invalid(field+".name", "Member must satisfy regular expression pattern: ([0-9a-zA-Z][_-]?){1,100}")
		}
		if seen[f.Name] {
			return resource.Invalidf("Function %s is defined twice in the action group.", f.Name)
		}
		seen[f.Name] = true
		if err := resource.OptionalLength(field+".description", f.Description, 1, 1200); err != nil {
			return err
		}
		switch f.RequireConfirmation {
		case "", "DISABLED", "ENABLED":
		default:
			return resource.Invalid(field+".requireConfirmation", "Member must satisfy enum value set: [ENABLED, DISABLED]")
		}
		if len(f.Parameters) > maxParameters {
			return resource.Invalid(field+".parameters", "Member must have at most 20 entries")
		}
		for name, p := range f.Parameters {
			if !functionName.MatchString(name) {
				return resource.Invalid(field+".parameters", "Parameter names must satisfy regular expression pattern: ([0-9a-zA-Z][_-]?){1,100}")
			}
			switch p.Type {
			case "string", "number", "integer", "boolean", "array":
			default:
				return resource.Invalid(field+".parameters."+name+".type", "Member must satisfy enum value set: [string, number, integer, boolean, array]")
			}
			if err := resource.OptionalLength(field+".parameters."+name+".description", p.Description, 1, 500); err != nil {
				return err
			}
		}
	}
	return nil
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// functionTool builds the JSON Schema the model sees for a function.
func functionTool(name string, f *Function) llm.Tool {
	props := map[string]any{}
	var required []string
	names := make([]string, 0, len(f.Parameters))
	for n := range f.Parameters {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := f.Parameters[n]
		s := map[string]any{"type": p.Type}
		if p.Type == "array" {
			s["items"] = map[string]any{}
		}
		if p.Description != "" {
			s["description"] = p.Description
		}
		props[n] = s
		if p.Required {
			required = append(required, n)
		}
	}
	schema := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		schema["required"] = required
	}
	raw, _ := json.Marshal(schema)
	desc := f.Description
	if desc == "" {
		desc = f.Name
	}
	return llm.Tool{Name: name, Description: desc, Schema: raw}
}

// toolName is the name the model sees for function fn of action group
// group: "<group>__<fn>", shortened with a stable suffix when it would pass
// the 64 characters tool-calling APIs allow.
func toolName(group, fn string) string {
	n := group + toolNameJoin + fn
	if len(n) <= toolNameMaxLen {
		return n
	}
	h := fnv32(n)
	return n[:toolNameMaxLen-9] + "_" + h
}

func fnv32(s string) string {
	var h uint32 = 2166136261
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	const hex = "0123456789abcdef"
	var b [8]byte
	for i := 7; i >= 0; i-- {
		b[i] = hex[h&15]
		h >>= 4
	}
	return string(b[:])
}

// userInputSpec is the tool offered for AMAZON.UserInput.
func userInputSpec() llm.Tool {
	return llm.Tool{
		Name:        userInputTool,
		Description: "Ask the user a question when you need information you do not have (missing details, a choice between options). The question ends your turn; the user's reply comes back as this tool's result.",
		Schema:      json.RawMessage(`{"type":"object","properties":{"question":{"type":"string","description":"The question to ask the user"}},"required":["question"]}`),
	}
}
