package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/resource"
)

// tool is one tool the model may call.
type tool struct {
	Spec  llm.Tool
	Group *ActionGroup
	// Function is set for function-schema tools, Op for OpenAPI ones.
	Function  *Function
	Op        *operation
	MCP       *mcpTool
	UserInput bool
}

// name is the function or operation name clients see in invocation inputs.
func (t *tool) name() string {
	if t.Function != nil {
		return t.Function.Name
	}
	if t.Op != nil {
		return t.Op.Method + " " + t.Op.Path
	}
	if t.MCP != nil {
		return t.MCP.name
	}
	return SignatureUserInput
}

// toolset is the tools of an agent version.
type toolset struct {
	byName map[string]*tool
	specs  []llm.Tool
}

// buildTools turns the enabled action groups into tools.
func buildTools(groups []*ActionGroup) (*toolset, error) {
	ts := &toolset{byName: map[string]*tool{}}
	add := func(t *tool) error {
		if _, dup := ts.byName[t.Spec.Name]; dup {
			return resource.Invalidf("Two tools of the agent are both named %s; rename a function or an action group.", t.Spec.Name)
		}
		ts.byName[t.Spec.Name] = t
		ts.specs = append(ts.specs, t.Spec)
		return nil
	}
	sorted := append([]*ActionGroup(nil), groups...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].ActionGroupName < sorted[j].ActionGroupName })
	for _, g := range sorted {
		if g.ActionGroupState == "DISABLED" {
			continue
		}
		switch {
		case g.ParentActionSignature == SignatureMCP:
			// Tools are listed from the server when an invocation starts.
		case g.ParentActionSignature == SignatureUserInput:
			if err := add(&tool{Spec: userInputSpec(), Group: g, UserInput: true}); err != nil {
				return nil, err
			}
		case g.FunctionSchema != nil:
			for i := range g.FunctionSchema.Functions {
				f := &g.FunctionSchema.Functions[i]
				if err := add(&tool{Spec: functionTool(toolName(g.ActionGroupName, f.Name), f), Group: g, Function: f}); err != nil {
					return nil, err
				}
			}
		case g.APISchema != nil:
			ops, err := loadOpenAPI(g.APISchema.Payload)
			if err != nil {
				return nil, err
			}
			for _, op := range ops {
				op.Spec.Name = toolName(g.ActionGroupName, op.Spec.Name)
				if err := add(&tool{Spec: op.Spec, Group: g, Op: op}); err != nil {
					return nil, err
				}
			}
		}
	}
	return ts, nil
}

// args decodes a tool call's input into name → value.
func args(input json.RawMessage) map[string]json.RawMessage {
	m := map[string]json.RawMessage{}
	if len(input) > 0 {
		_ = json.Unmarshal(input, &m)
	}
	return m
}

// paramValue renders a JSON argument as the string value Bedrock sends.
func paramValue(v json.RawMessage) string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	return string(v)
}

func jsonType(v json.RawMessage) string {
	t := strings.TrimSpace(string(v))
	switch {
	case strings.HasPrefix(t, `"`):
		return "string"
	case t == "true" || t == "false":
		return "boolean"
	case strings.HasPrefix(t, "["):
		return "array"
	case strings.HasPrefix(t, "{"):
		return "object"
	}
	if _, err := strconv.ParseInt(t, 10, 64); err == nil {
		return "integer"
	}
	return "number"
}

// parameters lists a call's arguments in name order, typed as declared.
func (t *tool) parameters(input json.RawMessage) (params, body []Parameter) {
	a := args(input)
	names := make([]string, 0, len(a))
	for n := range a {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := Parameter{Name: n, Type: jsonType(a[n]), Value: paramValue(a[n])}
		switch {
		case t.Function != nil:
			if d, ok := t.Function.Parameters[n]; ok {
				p.Type = d.Type
			} else {
				continue // not declared: never forwarded
			}
			params = append(params, p)
		case t.MCP != nil:
			params = append(params, p)
		case t.Op != nil:
			if _, ok := t.Op.Params[n]; ok {
				params = append(params, p)
			} else if t.Op.Body[n] {
				body = append(body, p)
			}
		}
	}
	return params, body
}

// invocationInput is the returnControl entry for a call of t.
func (t *tool) invocationInput(input json.RawMessage) InvocationInput {
	params, body := t.parameters(input)
	if params == nil {
		params = []Parameter{}
	}
	if t.Op != nil {
		in := &APIInvocationInput{ActionGroup: t.Group.ActionGroupName, APIPath: t.Op.Path, HTTPMethod: t.Op.Method,
			Parameters: params, ActionInvocationType: "RESULT"}
		if len(body) > 0 {
			mime := t.Op.BodyMIME
			if mime == "" {
				mime = "application/json"
			}
			in.RequestBody = &APIRequestBody{Content: map[string]PropertyParameters{mime: {Properties: body}}}
		}
		return InvocationInput{APIInvocationInput: in}
	}
	return InvocationInput{FunctionInvocationInput: &FunctionInvocationInput{ActionGroup: t.Group.ActionGroupName,
		Function: t.name(), Parameters: params, ActionInvocationType: "RESULT"}}
}

// lambdaEvent is the input event a Bedrock agent sends an action group's
// Lambda function (messageVersion 1.0).
type lambdaEvent struct {
	MessageVersion string `json:"messageVersion"`
	Agent          struct {
		Name    string `json:"name"`
		ID      string `json:"id"`
		Alias   string `json:"alias"`
		Version string `json:"version"`
	} `json:"agent"`
	InputText               string            `json:"inputText"`
	SessionID               string            `json:"sessionId"`
	ActionGroup             string            `json:"actionGroup"`
	Function                string            `json:"function,omitempty"`
	APIPath                 string            `json:"apiPath,omitempty"`
	HTTPMethod              string            `json:"httpMethod,omitempty"`
	Parameters              []Parameter       `json:"parameters"`
	RequestBody             *APIRequestBody   `json:"requestBody,omitempty"`
	SessionAttributes       map[string]string `json:"sessionAttributes"`
	PromptSessionAttributes map[string]string `json:"promptSessionAttributes"`
}

// lambdaResponse is what the function returns.
type lambdaResponse struct {
	MessageVersion string `json:"messageVersion"`
	Response       struct {
		ActionGroup      string `json:"actionGroup"`
		Function         string `json:"function"`
		FunctionResponse *struct {
			ResponseState string                 `json:"responseState"`
			ResponseBody  map[string]ContentBody `json:"responseBody"`
		} `json:"functionResponse"`
		APIPath        string                 `json:"apiPath"`
		HTTPMethod     string                 `json:"httpMethod"`
		HTTPStatusCode int                    `json:"httpStatusCode"`
		ResponseBody   map[string]ContentBody `json:"responseBody"`
		ResponseState  string                 `json:"responseState"`
	} `json:"response"`
	SessionAttributes       map[string]string `json:"sessionAttributes"`
	PromptSessionAttributes map[string]string `json:"promptSessionAttributes"`
}

// maxLambdaResponse bounds a function's response (Bedrock's limit is 25 KB
// of text; a little slack for the envelope).
const maxLambdaResponse = 1 << 20

// callLambda sends the Lambda input event for a call of t to the HTTP
// endpoint mapped to the group's Lambda ARN and returns the result text.
// A FAILURE responseState is a DependencyFailedException.
func (r *run) callLambda(ctx context.Context, t *tool, input json.RawMessage) (string, error) {
	arn := t.Group.ActionGroupExecutor.Lambda
	url := r.svc.lambdas[arn]
	if url == "" {
		return "", &llm.Error{Kind: llm.KindModelError, Code: "DependencyFailedException",
			Message: fmt.Sprintf("No HTTP endpoint is configured for Lambda function %s (agents.lambda_endpoints).", arn)}
	}
	var ev lambdaEvent
	ev.MessageVersion = "1.0"
	ev.Agent.Name, ev.Agent.ID, ev.Agent.Alias, ev.Agent.Version = r.agent.AgentName, r.agent.AgentID, r.in.AliasID, r.agent.AgentVersion
	ev.InputText, ev.SessionID, ev.ActionGroup = r.inputText, r.in.SessionID, t.Group.ActionGroupName
	ev.SessionAttributes, ev.PromptSessionAttributes = nonNil(r.sess.SessionAttributes), nonNil(r.sess.PromptSessionAttributes)
	params, body := t.parameters(input)
	if params == nil {
		params = []Parameter{}
	}
	ev.Parameters = params
	if t.Function != nil {
		ev.Function = t.Function.Name
	} else {
		ev.APIPath, ev.HTTPMethod = t.Op.Path, t.Op.Method
		if len(body) > 0 {
			ev.RequestBody = &APIRequestBody{Content: map[string]PropertyParameters{"application/json": {Properties: body}}}
		}
	}
	payload, err := json.Marshal(&ev)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, r.svc.limits.ToolTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.svc.client.Do(req)
	if err != nil {
		return "", &llm.Error{Kind: llm.KindModelError, Code: "DependencyFailedException", Message: "The action group's function could not be reached.", Err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxLambdaResponse+1))
	if err != nil || len(raw) > maxLambdaResponse || resp.StatusCode/100 != 2 {
		return "", &llm.Error{Kind: llm.KindModelError, Code: "DependencyFailedException", UpstreamStatus: resp.StatusCode,
			Message: fmt.Sprintf("The action group's function failed (HTTP %d).", resp.StatusCode), Err: err}
	}
	var out lambdaResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		return "", &llm.Error{Kind: llm.KindModelError, Code: "DependencyFailedException", Message: "The action group's function returned a response that is not the Lambda response format.", Err: err}
	}
	state, bodies := out.Response.ResponseState, out.Response.ResponseBody
	if fr := out.Response.FunctionResponse; fr != nil {
		state, bodies = fr.ResponseState, fr.ResponseBody
	}
	if state == "FAILURE" {
		return "", &llm.Error{Kind: llm.KindModelError, Code: "DependencyFailedException", Message: "The action group's function reported FAILURE."}
	}
	if out.SessionAttributes != nil {
		r.sess.SessionAttributes = out.SessionAttributes
	}
	if out.PromptSessionAttributes != nil {
		r.sess.PromptSessionAttributes = out.PromptSessionAttributes
	}
	return bodyText(bodies), nil
}

// bodyText picks the text of a response body: TEXT, then JSON, then any.
func bodyText(m map[string]ContentBody) string {
	for _, k := range []string{"TEXT", "application/json"} {
		if b, ok := m[k]; ok {
			return b.Body
		}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) > 0 {
		return m[keys[0]].Body
	}
	return ""
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// defaultToolTimeout bounds one executor call.
const defaultToolTimeout = 30 * time.Second
