package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/outcrop/outcrop/internal/llm"
)

// stepCall makes the model call of a pre- or post-processing step from
// its rendered template and returns the answer's text. blocked is set when
// the agent's guardrail intervened (text is then the guardrail's message).
func (r *run) stepCall(pc PromptConfiguration, rendered string) (text string, usage llm.Usage, blocked bool, err error) {
	if err := r.lease.renew(r.ctx); err != nil {
		return "", usage, false, err
	}
	sys, msgs := templateRequest(rendered)
	req := &llm.Request{Model: r.modelFor(pc), Messages: msgs}
	if sys != "" {
		req.System = []llm.Block{llm.TextBlock(sys)}
	}
	pc.apply(req)
	r.guard(req)
	st, err := r.svc.converse(r.ctx, req)
	if err != nil {
		return "", usage, false, err
	}
	resp, err := llm.Collect(st)
	if err != nil {
		return "", usage, false, err
	}
	r.tokens += resp.Usage.Total()
	var b strings.Builder
	for _, bl := range resp.Message.Content {
		if bl.Kind == llm.KindText {
			b.WriteString(bl.Text)
		}
	}
	return b.String(), resp.Usage, resp.StopReason == llm.StopGuardrailIntervened, nil
}

// preProcess runs the PRE_PROCESSING step on the turn's input: the model
// sorts the input, and input it finds invalid gets a refusal instead of
// the orchestration loop.
func (r *run) preProcess(pc PromptConfiguration) error {
	traceID := r.nextTraceID()
	tpl := defaultPreProcessingTemplate
	if pc.overridden() {
		tpl = pc.BasePromptTemplate
	}
	rendered := renderTemplate(tpl, r.vars())
	if r.in.EnableTrace {
		r.trace("preProcessingTrace", map[string]any{"modelInvocationInput": pc.traceInput(traceID, rendered, r.modelFor(pc), r.lambdaOf())})
	}
	raw, usage, blocked, err := r.stepCall(pc, rendered)
	if err != nil {
		return err
	}
	valid, rationale := true, ""
	if blocked {
		valid, rationale = false, "The guardrail intervened."
	} else if pc.ParserMode == "OVERRIDDEN" {
		p, err := r.callParser(pc.PromptType, raw)
		if err != nil {
			return err
		}
		if p.Pre == nil {
			return parserFailure("the parser returned no preProcessingParsedResponse")
		}
		valid, rationale = p.Pre.IsValidInput, p.Pre.Rationale
	} else {
		valid, rationale = parsePreProcessing(raw)
	}
	if r.in.EnableTrace {
		r.trace("preProcessingTrace", map[string]any{"modelInvocationOutput": map[string]any{"traceId": traceID,
			"parsedResponse": map[string]any{"isValid": valid, "rationale": rationale},
			"rawResponse":    map[string]any{"content": raw}, "metadata": usageMeta(usage)}})
	}
	if valid {
		return nil
	}
	answer := rejectedInput
	if blocked {
		answer = raw
	}
	r.sess.Messages = append(r.sess.Messages, llm.Message{Role: llm.RoleAssistant, Content: []llm.Block{llm.TextBlock(answer)}})
	r.chunk(answer)
	return r.finish()
}

// postProcess runs the POST_PROCESSING step on the orchestration's final
// answer; its result is the turn's answer.
func (r *run) postProcess(pc PromptConfiguration, final string) error {
	traceID := r.nextTraceID()
	tpl := defaultPostProcessingTemplate
	if pc.overridden() {
		tpl = pc.BasePromptTemplate
	}
	vars := r.vars()
	vars["latest_response"] = final
	vars["responses"] = strings.Join(r.observations, "\n")
	vars["bot_response"] = final
	rendered := renderTemplate(tpl, vars)
	if r.in.EnableTrace {
		r.trace("postProcessingTrace", map[string]any{"modelInvocationInput": pc.traceInput(traceID, rendered, r.modelFor(pc), r.lambdaOf())})
	}
	raw, usage, blocked, err := r.stepCall(pc, rendered)
	if err != nil {
		return err
	}
	var text string
	switch {
	case blocked:
		text = raw
	case pc.ParserMode == "OVERRIDDEN":
		p, err := r.callParser(pc.PromptType, raw)
		if err != nil {
			return err
		}
		if p.Post == nil {
			return parserFailure("the parser returned no postProcessingParsedResponse")
		}
		text = p.Post.ResponseText
	default:
		text = parsePostProcessing(raw)
	}
	if strings.TrimSpace(text) == "" {
		text = final
	}
	if r.in.EnableTrace {
		r.trace("postProcessingTrace", map[string]any{"modelInvocationOutput": map[string]any{"traceId": traceID,
			"parsedResponse": map[string]any{"text": text}, "rawResponse": map[string]any{"content": raw}, "metadata": usageMeta(usage)}})
	}
	if n := len(r.sess.Messages); n > 0 && r.sess.Messages[n-1].Role == llm.RoleAssistant {
		r.sess.Messages[n-1].Content = []llm.Block{llm.TextBlock(text)}
	}
	r.chunk(text)
	return r.finish()
}

// parserEvent is the input event of a parser Lambda (parserMode
// OVERRIDDEN), as Bedrock agents send it.
type parserEvent struct {
	MessageVersion string `json:"messageVersion"`
	Agent          struct {
		Name    string `json:"name"`
		ID      string `json:"id"`
		Alias   string `json:"alias"`
		Version string `json:"version"`
	} `json:"agent"`
	InvokeModelRawResponse string `json:"invokeModelRawResponse"`
	PromptType             string `json:"promptType"`
	OverrideType           string `json:"overrideType"`
	SessionID              string `json:"sessionId"`
}

// parsed is what a parser Lambda returns.
type parsed struct {
	MessageVersion string `json:"messageVersion"`
	PromptType     string `json:"promptType"`
	Pre            *struct {
		IsValidInput bool   `json:"isValidInput"`
		Rationale    string `json:"rationale"`
	} `json:"preProcessingParsedResponse"`
	Post *struct {
		ResponseText string `json:"responseText"`
	} `json:"postProcessingParsedResponse"`
}

func parserFailure(msg string) error {
	return &llm.Error{Kind: llm.KindModelError, Code: "DependencyFailedException", Message: "The prompt override's parser Lambda failed: " + msg + "."}
}

// callParser sends a step's raw model output to the override's parser
// Lambda (through agents.lambda_endpoints) and returns its parsed form.
func (r *run) callParser(promptType, raw string) (*parsed, error) {
	arn := r.lambdaOf()
	url := r.svc.lambdas[arn]
	if url == "" {
		return nil, parserFailure(fmt.Sprintf("no HTTP endpoint is configured for %s (agents.lambda_endpoints)", arn))
	}
	var ev parserEvent
	ev.MessageVersion, ev.OverrideType, ev.PromptType = "1.0", "OUTPUT_PARSER", promptType
	ev.InvokeModelRawResponse, ev.SessionID = raw, r.in.SessionID
	ev.Agent.Name, ev.Agent.ID, ev.Agent.Alias, ev.Agent.Version = r.agent.AgentName, r.agent.AgentID, r.in.AliasID, r.agent.AgentVersion
	payload, err := json.Marshal(&ev)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(r.ctx, r.svc.limits.ToolTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.svc.client.Do(req)
	if err != nil {
		return nil, parserFailure("it could not be reached")
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxLambdaResponse+1))
	if err != nil || len(body) > maxLambdaResponse || resp.StatusCode/100 != 2 {
		return nil, parserFailure(fmt.Sprintf("HTTP %d", resp.StatusCode))
	}
	var p parsed
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, parserFailure("its response is not JSON")
	}
	return &p, nil
}
