package agent

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/llm"
)

func clientError(t *testing.T, what string, err error) {
	t.Helper()
	var e *llm.Error
	if !errors.As(err, &e) || (e.Kind != llm.KindValidation && e.Kind != llm.KindConflict) {
		t.Fatalf("%s: error %v is not a ValidationException", what, err)
	}
}

// FuzzActionGroupIntake: any CreateAgentActionGroup body is either refused
// with a ValidationException or accepted and turned into tools with valid
// JSON Schemas; nothing panics.
func FuzzActionGroupIntake(f *testing.F) {
	for _, s := range []string{
		`{"actionGroupName":"A","actionGroupExecutor":{"customControl":"RETURN_CONTROL"},"functionSchema":{"functions":[{"name":"f","parameters":{"x":{"type":"string","required":true}}}]}}`,
		`{"actionGroupName":"U","parentActionGroupSignature":"AMAZON.UserInput"}`,
		`{"actionGroupName":"L","actionGroupExecutor":{"lambda":"arn:aws:lambda:us-east-1:1:function:f"},"apiSchema":{"payload":"{\"openapi\":\"3.0.0\",\"info\":{\"title\":\"t\",\"version\":\"1\"},\"paths\":{\"/a/{id}\":{\"get\":{\"operationId\":\"getA\",\"parameters\":[{\"name\":\"id\",\"in\":\"path\",\"required\":true,\"schema\":{\"type\":\"string\"}}],\"responses\":{\"200\":{\"description\":\"ok\"}}}}}}"}}`,
		`{"actionGroupName":"A","functionSchema":{"functions":[]}}`,
		`{"actionGroupName":"","functionSchema":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var in ActionGroupInput
		if json.Unmarshal(body, &in) != nil {
			return
		}
		if err := validateActionGroup(&in); err != nil {
			clientError(t, "validate", err)
			return
		}
		g := &ActionGroup{ActionGroupName: in.ActionGroupName, ParentActionSignature: in.ParentActionGroupSignature,
			ActionGroupExecutor: in.ActionGroupExecutor, APISchema: in.APISchema, FunctionSchema: in.FunctionSchema, ActionGroupState: "ENABLED"}
		ts, err := buildTools([]*ActionGroup{g})
		if err != nil {
			clientError(t, "tools", err)
			return
		}
		for _, s := range ts.specs {
			if !json.Valid(s.Schema) || len(s.Name) == 0 || len(s.Name) > toolNameMaxLen {
				t.Fatalf("tool %q has schema %s", s.Name, s.Schema)
			}
		}
	})
}

// FuzzOpenAPIPayload: any apiSchema payload (JSON or YAML) is refused with
// a ValidationException or yields operations with valid tool schemas.
func FuzzOpenAPIPayload(f *testing.F) {
	for _, s := range []string{
		"openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths:\n  /flights:\n    post:\n      operationId: book\n      requestBody:\n        required: true\n        content:\n          application/json:\n            schema: {type: object, required: [id], properties: {id: {type: string}}}\n      responses: {'200': {description: ok}}\n",
		`{"openapi":"3.0.0","info":{"title":"t","version":"1"},"paths":{"/x":{"get":{"responses":{"200":{"description":"ok"}}}}}}`,
		`{"openapi":"2.0"}`, "{", "openapi: 3.1.0\npaths: {}\n",
		`{"openapi":"3.0.0","info":{"title":"t","version":"1"},"paths":{"/x":{"get":{"parameters":[{"$ref":"http://example.com/p"}],"responses":{"200":{"description":"ok"}}}}}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, payload string) {
		ops, err := loadOpenAPI(payload)
		if err != nil {
			clientError(t, "load", err)
			return
		}
		for _, op := range ops {
			if !json.Valid(op.Spec.Schema) {
				t.Fatalf("operation %s %s schema %s", op.Method, op.Path, op.Spec.Schema)
			}
		}
	})
}

// FuzzPromptOverrides: any promptOverrideConfiguration is refused with a
// ValidationException or accepted; an accepted one renders its templates
// into requests without panicking, and the default parsers read any model
// output.
func FuzzPromptOverrides(f *testing.F) {
	for _, s := range []string{
		`{"promptConfigurations":[{"promptType":"PRE_PROCESSING","promptState":"ENABLED"},{"promptType":"POST_PROCESSING","promptState":"ENABLED","parserMode":"OVERRIDDEN"}],"overrideLambda":"arn:aws:lambda:us-east-1:1:function:p"}`,
		`{"promptConfigurations":[{"promptType":"ORCHESTRATION","promptCreationMode":"OVERRIDDEN","basePromptTemplate":"{\"system\":\"$instruction$\",\"messages\":[{\"role\":\"user\",\"content\":\"$question$\"},{\"role\":\"assistant\",\"content\":\"$agent_scratchpad$\"}]}","inferenceConfiguration":{"temperature":0.2,"maximumLength":100,"stopSequences":["</answer>"]}}]}`,
		`{"promptConfigurations":[{"promptType":"ORCHESTRATION","promptState":"DISABLED"}]}`,
		`{"promptConfigurations":[{"promptType":"KNOWLEDGE_BASE_RESPONSE_GENERATION","additionalModelRequestFields":{"top_k":3}}]}`,
		`{"promptConfigurations":null}`, `[]`, `{"promptConfigurations":[{"promptType":"X"}]}`,
	} {
		f.Add([]byte(s), "Category D. <category>D</category> <final_response>ok</final_response>")
	}
	f.Fuzz(func(t *testing.T, raw []byte, output string) {
		o, err := parseOverrides(raw)
		if err != nil {
			clientError(t, "parse", err)
			return
		}
		vars := map[string]string{"instruction": "be kind", "question": output, "tools": "- a: b"}
		for _, typ := range []string{PromptPreProcessing, PromptOrchestration, PromptPostProcessing} {
			pc := o.step(typ)
			if pc.PromptType != typ {
				t.Fatalf("step(%s) = %s", typ, pc.PromptType)
			}
			req := &llm.Request{}
			pc.apply(req)
			if pc.overridden() {
				rendered := renderTemplate(pc.BasePromptTemplate, vars)
				_, msgs := templateRequest(rendered)
				if len(msgs) == 0 || msgs[len(msgs)-1].Role != llm.RoleUser {
					t.Fatalf("template %q gave messages %+v", pc.BasePromptTemplate, msgs)
				}
				_ = orchestrationSystem(rendered)
			}
		}
		parsePreProcessing(output)
		parsePostProcessing(output)
	})
}

// FuzzInlineAgent: any InvokeInlineAgent agent definition is refused with
// a ValidationException or accepted with action groups that build into
// tools.
func FuzzInlineAgent(f *testing.F) {
	for _, s := range []string{
		`{"foundationModel":"m","instruction":"You are a travel agent who books flights and hotels for users.","actionGroups":[{"actionGroupName":"H","actionGroupExecutor":{"customControl":"RETURN_CONTROL"},"functionSchema":{"functions":[{"name":"search","parameters":{"city":{"type":"string","required":true}}}]}},{"actionGroupName":"U","parentActionGroupSignature":"AMAZON.UserInput"}]}`,
		`{"foundationModel":"m","instruction":"short"}`,
		`{"foundationModel":"m","instruction":"You are a travel agent who books flights and hotels for users.","idleSessionTTLInSeconds":5}`,
		`{"foundationModel":"m","instruction":"You are a travel agent who books flights and hotels for users.","guardrailConfiguration":{"guardrailIdentifier":"g","guardrailVersion":"x"}}`,
	} {
		f.Add([]byte(s))
	}
	svc := &Service{ctl: &Control{}, now: time.Now}
	f.Fuzz(func(t *testing.T, body []byte) {
		var in InlineAgent
		if json.Unmarshal(body, &in) != nil {
			return
		}
		a, groups, err := svc.inlineAgent("000000000000", &in)
		if err != nil {
			clientError(t, "inline agent", err)
			return
		}
		if a.AgentID != InlineAgentID || len(groups) != len(in.ActionGroups) {
			t.Fatalf("agent %+v with %d groups from %d", a, len(groups), len(in.ActionGroups))
		}
		if _, err := buildTools(groups); err != nil {
			clientError(t, "tools", err)
		}
	})
}
