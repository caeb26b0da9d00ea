package agent

import (
	"context"
	"encoding/json"
	"regexp"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/resource"
)

// operation is one OpenAPI operation offered to the model as a tool.
type operation struct {
	Path, Method string
	// Params are the operation's path, query and header parameters.
	Params map[string]string // name → "in"
	// Body lists the properties of the application/json request body,
	// which the model gives as top-level arguments beside the parameters.
	Body     map[string]bool
	BodyMIME string
	Spec     llm.Tool
}

// loadOpenAPI parses and validates an OpenAPI 3 payload (JSON or YAML) with
// kin-openapi and returns its operations, sorted by path and method.
// External references are never fetched.
func loadOpenAPI(payload string) ([]*operation, error) {
	if len(payload) > maxSchemaLength {
		return nil, resource.Invalid("apiSchema.payload", "Member must have length less than or equal to 100000")
	}
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = false
	doc, err := loader.LoadFromData([]byte(payload))
	if err != nil {
		return nil, resource.Invalidf("The apiSchema payload is not a valid OpenAPI document: %s", clip(err.Error()))
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		return nil, resource.Invalidf("The apiSchema payload must be an OpenAPI 3 document.")
	}
	if err := doc.Validate(context.Background(), openapi3.DisableExamplesValidation()); err != nil {
		return nil, resource.Invalidf("The apiSchema payload is not a valid OpenAPI document: %s", clip(err.Error()))
	}
	if doc.Paths == nil || doc.Paths.Len() == 0 {
		return nil, resource.Invalidf("The apiSchema payload defines no operations.")
	}
	var ops []*operation
	paths := doc.Paths.Map()
	keys := make([]string, 0, len(paths))
	for p := range paths {
		keys = append(keys, p)
	}
	sort.Strings(keys)
	for _, p := range keys {
		item := paths[p]
		methods := item.Operations()
		ms := make([]string, 0, len(methods))
		for m := range methods {
			ms = append(ms, m)
		}
		sort.Strings(ms)
		for _, m := range ms {
			op, err := newOperation(p, m, item, methods[m])
			if err != nil {
				return nil, err
			}
			ops = append(ops, op)
		}
	}
	if len(ops) > maxFunctions {
		return nil, resource.Invalidf("An action group can contain up to %d API operations; the apiSchema has %d.", maxFunctions, len(ops))
	}
	return ops, nil
}

func clip(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

var nonName = regexp.MustCompile(`[^0-9a-zA-Z_-]+`)

func newOperation(path, method string, item *openapi3.PathItem, o *openapi3.Operation) (*operation, error) {
	op := &operation{Path: path, Method: strings.ToUpper(method), Params: map[string]string{}, Body: map[string]bool{}}
	name := o.OperationID
	if name == "" {
		name = strings.ToLower(method) + "_" + strings.Trim(nonName.ReplaceAllString(path, "_"), "_")
	}
	name = nonName.ReplaceAllString(name, "_")
	props := map[string]json.RawMessage{}
	var required []string
	params := append(openapi3.Parameters{}, item.Parameters...)
	params = append(params, o.Parameters...)
	for _, pr := range params {
		if pr == nil || pr.Value == nil {
			continue
		}
		p := pr.Value
		if p.In == "cookie" {
			continue
		}
		op.Params[p.Name] = p.In
		props[p.Name] = schemaJSON(p.Schema, p.Description)
		if p.Required {
			required = append(required, p.Name)
		}
	}
	if o.RequestBody != nil && o.RequestBody.Value != nil {
		for mime, mt := range o.RequestBody.Value.Content {
			if !strings.Contains(mime, "json") || mt.Schema == nil || mt.Schema.Value == nil {
				continue
			}
			op.BodyMIME = mime
			s := mt.Schema.Value
			for pn, ps := range s.Properties {
				if _, dup := op.Params[pn]; dup {
					return nil, resource.Invalidf("Operation %s %s uses %s both as a parameter and as a body property.", op.Method, path, pn)
				}
				op.Body[pn] = true
				props[pn] = schemaJSON(ps, "")
			}
			if o.RequestBody.Value.Required {
				required = append(required, s.Required...)
			}
			break
		}
	}
	sort.Strings(required)
	schema := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		schema["required"] = required
	}
	raw, err := json.Marshal(schema)
	if err != nil {
		return nil, resource.Invalidf("Operation %s %s has a schema that cannot be used: %v", op.Method, path, err)
	}
	desc := o.Description
	if desc == "" {
		desc = o.Summary
	}
	if desc == "" {
		desc = op.Method + " " + path
	}
	op.Spec = llm.Tool{Name: name, Description: desc, Schema: raw}
	return op, nil
}

// schemaJSON renders a parameter or property schema for the model, adding
// the description when the schema has none.
func schemaJSON(ref *openapi3.SchemaRef, desc string) json.RawMessage {
	if ref == nil || ref.Value == nil {
		if desc == "" {
			return json.RawMessage(`{"type":"string"}`)
		}
		b, _ := json.Marshal(map[string]string{"type": "string", "description": desc})
		return b
	}
	b, err := json.Marshal(ref.Value)
	if err != nil {
		return json.RawMessage(`{"type":"string"}`)
	}
	if desc != "" && ref.Value.Description == "" {
		var m map[string]any
		if json.Unmarshal(b, &m) == nil {
			m["description"] = desc
			b, _ = json.Marshal(m)
		}
	}
	return b
}

// validateAPISchema checks an apiSchema member.
func validateAPISchema(s *APISchema) error {
	if len(s.S3) > 0 && s.Payload == "" {
		return resource.Invalid("apiSchema.s3", "Outcrop cannot read S3; give the OpenAPI document inline as apiSchema.payload")
	}
	if s.Payload == "" {
		return resource.Invalid("apiSchema.payload", "Member must not be empty")
	}
	_, err := loadOpenAPI(s.Payload)
	return err
}
