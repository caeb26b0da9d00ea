package agent

import (
	"encoding/json"
	"errors"
	"testing"

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
