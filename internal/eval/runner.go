package eval

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	brtypes "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/jmespath/go-jmespath"
)

// Prediction is a model's answer to one prompt.
type Prediction struct {
	Output string `json:"output"`
	// LogProb is the summed log-probability, when the runner extracts one.
	LogProb *float64 `json:"log_probability,omitempty"`
}

// ModelRunner invokes a model, as FMEval's ModelRunner.predict does.
// Implementations must be safe for concurrent use.
type ModelRunner interface {
	Predict(ctx context.Context, prompt string) (Prediction, error)
	// Params are the runner's parameters for experiment tracking: model_id,
	// content_template, output, endpoint_type and generation settings.
	Params() map[string]any
}

// OpenAIRunner calls an OpenAI-compatible chat completions API (OpenAI,
// Ollama, vLLM, Outcrop's /v1).
type OpenAIRunner struct {
	// BaseURL ends in /v1, e.g. http://127.0.0.1:11434/v1.
	BaseURL string
	Model   string
	APIKey  string
	// MaxTokens and Temperature are sent when set.
	MaxTokens   int
	Temperature *float64
	// LogProbs asks for the answer's token log-probabilities ("logprobs":
	// true) and returns their sum as Prediction.LogProb; an endpoint that
	// returns none is an error.
	LogProbs bool
	HTTP     *http.Client
}

// Predict sends one user message and returns the first choice's content.
func (r *OpenAIRunner) Predict(ctx context.Context, prompt string) (Prediction, error) {
	body := map[string]any{
		"model":    r.Model,
		"messages": []map[string]string{{"role": "user", "content": prompt}},
	}
	if r.MaxTokens > 0 {
		body["max_tokens"] = r.MaxTokens
	}
	if r.Temperature != nil {
		body["temperature"] = *r.Temperature
	}
	if r.LogProbs {
		body["logprobs"] = true
	}
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, "POST", strings.TrimRight(r.BaseURL, "/")+"/chat/completions", bytes.NewReader(b))
	if err != nil {
		return Prediction{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if r.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+r.APIKey)
	}
	hc := r.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return Prediction{}, &InvokeError{Retryable: true, Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return Prediction{}, &InvokeError{Retryable: true, Err: err}
	}
	if resp.StatusCode != 200 {
		return Prediction{}, &InvokeError{
			Retryable: resp.StatusCode == 429 || resp.StatusCode >= 500,
			Err:       fmt.Errorf("openai: %d: %s", resp.StatusCode, strings.TrimSpace(string(data))),
		}
	}
	var out struct {
		Choices []struct {
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
			LogProbs *struct {
				Content []struct {
					LogProb *float64 `json:"logprob"`
				} `json:"content"`
			} `json:"logprobs"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(data, &out); err != nil || len(out.Choices) == 0 {
		return Prediction{}, fmt.Errorf("openai: unexpected response %.200q", data)
	}
	c := out.Choices[0]
	p := Prediction{Output: c.Message.Content}
	if r.LogProbs {
		if c.LogProbs == nil || len(c.LogProbs.Content) == 0 {
			return Prediction{}, fmt.Errorf("openai: %s returned no logprobs for a %d-character answer", r.Model, len(p.Output))
		}
		var sum float64
		for _, t := range c.LogProbs.Content {
			if t.LogProb == nil {
				return Prediction{}, fmt.Errorf("openai: a token without logprob in %.200q", data)
			}
			sum += *t.LogProb
		}
		p.LogProb = &sum
	}
	return p, nil
}

// Params implements ModelRunner.
func (r *OpenAIRunner) Params() map[string]any {
	p := map[string]any{"model_id": r.Model, "endpoint_type": "OpenAI-compatible", "endpoint_url": r.BaseURL}
	if r.LogProbs {
		p["log_probability"] = "output"
	}
	if r.MaxTokens > 0 {
		p["max_tokens"] = r.MaxTokens
	}
	if r.Temperature != nil {
		p["temperature"] = *r.Temperature
	}
	return p
}

// BedrockRunner calls a Bedrock runtime (AWS or Outcrop). With a
// ContentTemplate it does what FMEval's BedrockModelRunner does:
// InvokeModel with the body json.loads(Template(content_template)
// .substitute(prompt=json.dumps(prompt))) and the answer taken by the Output
// JMESPath (and LogProbability, summed when a list). Without one it calls
// Converse.
type BedrockRunner struct {
	Client  *bedrockruntime.Client
	ModelID string
	// ContentTemplate holds $prompt, unquoted: the prompt is substituted as
	// a JSON string, e.g. {"inputs": $prompt, "parameters": {"max_new_tokens": 64}}.
	ContentTemplate string
	// Output and LogProbability are JMESPath expressions over the response
	// body (InvokeModel only).
	Output, LogProbability string
	// MaxTokens and Temperature go to Converse's inferenceConfig when set.
	MaxTokens   int32
	Temperature *float32
}

// Validate checks the template and expressions before any call.
func (r *BedrockRunner) Validate() error {
	if r.ModelID == "" {
		return &ConfigError{Field: "model_id", Msg: "required"}
	}
	if r.ContentTemplate == "" {
		return nil
	}
	ids, err := Template(r.ContentTemplate).Identifiers()
	if err != nil {
		return &ConfigError{Field: "content_template", Msg: err.Error()}
	}
	if len(ids) != 1 || ids[0] != "prompt" {
		return &ConfigError{Field: "content_template", Msg: "must have exactly the placeholder $prompt"}
	}
	if r.Output == "" && r.LogProbability == "" {
		return &ConfigError{Field: "output", Msg: "an output or log_probability JMESPath is required with content_template"}
	}
	for _, e := range []string{r.Output, r.LogProbability} {
		if e != "" {
			if _, err := jmespath.Compile(e); err != nil {
				return &ConfigError{Field: "output", Msg: fmt.Sprintf("invalid JMESPath %q: %v", e, err)}
			}
		}
	}
	if _, err := r.compose("probe"); err != nil {
		return &ConfigError{Field: "content_template", Msg: err.Error()}
	}
	return nil
}

func (r *BedrockRunner) compose(prompt string) ([]byte, error) {
	q, _ := json.Marshal(prompt)
	s, err := Template(r.ContentTemplate).Substitute(map[string]string{"prompt": string(q)})
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(s)); err != nil {
		return nil, fmt.Errorf("content_template does not give JSON: %w", err)
	}
	return buf.Bytes(), nil
}

// Predict implements ModelRunner.
func (r *BedrockRunner) Predict(ctx context.Context, prompt string) (Prediction, error) {
	if r.ContentTemplate == "" {
		return r.converse(ctx, prompt)
	}
	body, err := r.compose(prompt)
	if err != nil {
		return Prediction{}, err
	}
	out, err := r.Client.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{
		ModelId: aws.String(r.ModelID), Body: body,
		ContentType: aws.String("application/json"), Accept: aws.String("application/json"),
	})
	if err != nil {
		return Prediction{}, classifyAWS(err)
	}
	var v any
	if err := json.Unmarshal(out.Body, &v); err != nil {
		return Prediction{}, fmt.Errorf("bedrock: response is not JSON: %w", err)
	}
	var p Prediction
	if r.Output != "" {
		got, err := jmespath.Search(r.Output, v)
		s, ok := got.(string)
		if err != nil || !ok {
			return Prediction{}, fmt.Errorf("bedrock: output %q does not find a string in %.200s", r.Output, out.Body)
		}
		p.Output = s
	}
	if r.LogProbability != "" {
		got, err := jmespath.Search(r.LogProbability, v)
		if err != nil {
			return Prediction{}, err
		}
		f, err := logProb(got)
		if err != nil {
			return Prediction{}, fmt.Errorf("bedrock: log_probability %q: %w", r.LogProbability, err)
		}
		p.LogProb = &f
	}
	return p, nil
}

func (r *BedrockRunner) converse(ctx context.Context, prompt string) (Prediction, error) {
	in := &bedrockruntime.ConverseInput{
		ModelId: aws.String(r.ModelID),
		Messages: []brtypes.Message{{
			Role:    brtypes.ConversationRoleUser,
			Content: []brtypes.ContentBlock{&brtypes.ContentBlockMemberText{Value: prompt}},
		}},
	}
	if r.MaxTokens > 0 || r.Temperature != nil {
		ic := &brtypes.InferenceConfiguration{Temperature: r.Temperature}
		if r.MaxTokens > 0 {
			ic.MaxTokens = aws.Int32(r.MaxTokens)
		}
		in.InferenceConfig = ic
	}
	out, err := r.Client.Converse(ctx, in)
	if err != nil {
		return Prediction{}, classifyAWS(err)
	}
	msg, ok := out.Output.(*brtypes.ConverseOutputMemberMessage)
	if !ok {
		return Prediction{}, errors.New("bedrock: converse returned no message")
	}
	var b strings.Builder
	for _, c := range msg.Value.Content {
		if t, ok := c.(*brtypes.ContentBlockMemberText); ok {
			b.WriteString(t.Value)
		}
	}
	return Prediction{Output: b.String()}, nil
}

func classifyAWS(err error) error {
	msg := err.Error()
	retry := strings.Contains(msg, "Throttling") || strings.Contains(msg, "ServiceUnavailable") ||
		strings.Contains(msg, "InternalServer") || strings.Contains(msg, "ModelNotReady") ||
		strings.Contains(msg, "connection refused") || strings.Contains(msg, "timeout")
	return &InvokeError{Retryable: retry, Err: err}
}

// Params implements ModelRunner; they follow the seed's
// log_runner_parameters: the runner's own settings, every key of the content
// template (camelCase to snake_case, mapped to the common vocabulary) and
// endpoint_type.
func (r *BedrockRunner) Params() map[string]any {
	p := map[string]any{"model_id": r.ModelID, "endpoint_type": "Bedrock"}
	if r.ContentTemplate != "" {
		p["content_template"] = r.ContentTemplate
		p["output"] = r.Output
		if r.LogProbability != "" {
			p["log_probability"] = r.LogProbability
		}
		var tmpl any
		if b, err := r.compose("prompt"); err == nil && json.Unmarshal(b, &tmpl) == nil {
			flattenParams(tmpl, p)
		}
	}
	if r.MaxTokens > 0 {
		p["max_tokens"] = r.MaxTokens
	}
	if r.Temperature != nil {
		p["temperature"] = *r.Temperature
	}
	return p
}

// paramVocabulary maps snake_case template keys to the seed's common names.
var paramVocabulary = map[string]string{
	"temperature": "temperature", "max_tokens": "max_tokens", "top_k": "top_k", "top_p": "top_p",
	"stop_sequences": "stop_sequences", "system_prompt": "system_prompt", "system": "system_prompt",
	"tools": "tools", "max_length": "max_tokens", "max_new_tokens": "max_tokens",
	"max_token_count": "max_tokens", "do_sample": "do_sample", "stop": "stop_sequences",
}

func flattenParams(v any, out map[string]any) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if name, ok := paramVocabulary[snakeCase(k)]; ok {
				out[name] = val
			}
			flattenParams(val, out)
		}
	case []any:
		for _, e := range x {
			flattenParams(e, out)
		}
	}
}

func snakeCase(s string) string {
	var b strings.Builder
	for i, r := range s {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			b.WriteRune(r + 32)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// InvokeError is a failed model call; Retryable ones (throttling, 5xx,
// transport errors) are retried by Retrying.
type InvokeError struct {
	Retryable bool
	Err       error
}

func (e *InvokeError) Error() string { return e.Err.Error() }
func (e *InvokeError) Unwrap() error { return e.Err }

// Retrying retries a runner's retryable failures with exponential backoff.
type Retrying struct {
	ModelRunner
	// Attempts is the total number of tries (default 3).
	Attempts int
	// Backoff is the first wait (default 500 ms), doubled each time.
	Backoff time.Duration
}

// Predict implements ModelRunner.
func (r *Retrying) Predict(ctx context.Context, prompt string) (Prediction, error) {
	attempts, wait := r.Attempts, r.Backoff
	if attempts <= 0 {
		attempts = 3
	}
	if wait <= 0 {
		wait = 500 * time.Millisecond
	}
	for i := 1; ; i++ {
		p, err := r.ModelRunner.Predict(ctx, prompt)
		var ie *InvokeError
		if err == nil || i >= attempts || !errors.As(err, &ie) || !ie.Retryable {
			return p, err
		}
		select {
		case <-ctx.Done():
			return p, ctx.Err()
		case <-time.After(wait):
		}
		wait *= 2
	}
}
