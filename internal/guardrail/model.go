package guardrail

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/outcrop/outcrop/internal/llm"
)

// ModelEntityDetector is an EntityDetector that asks a chat model to list
// the names and postal addresses in a text, then finds each listed string
// in the text. It calls the model through an llm.Provider, normally a
// deployment configured in Outcrop itself (the local engine or an upstream).
//
// Its quality is the model's: a small local model such as SmolLM2-135M
// misses most entities and sometimes invents ones that are then ignored
// because they do not occur in the text (only exact substrings count, so it
// cannot mask text that is not there). Measure it on your model before
// relying on it; docs/GUARDRAILS.md has no figures for it.
type ModelEntityDetector struct {
	Provider llm.Provider
	// Model is the model ID put in the request (informational for most
	// providers).
	Model string
	// MaxTokens bounds the model's answer; default 512.
	MaxTokens int
}

var _ EntityDetector = (*ModelEntityDetector)(nil)

const entityPrompt = `You find personal data in text. List every person's name and every postal address that appears in the text below.
Answer with one JSON object per line and nothing else, exactly like:
{"type":"NAME","text":"Jane Doe"}
{"type":"ADDRESS","text":"12 Main Street, Springfield"}
Copy each value exactly as it is written in the text. If there is none, answer NONE.

Text:
`

// DetectEntities implements EntityDetector.
func (d *ModelEntityDetector) DetectEntities(ctx context.Context, text string, types []string) ([]Span, error) {
	want := map[string]bool{}
	for _, t := range types {
		want[t] = true
	}
	answer, err := askModel(ctx, d.Provider, d.Model, "", entityPrompt+text, d.MaxTokens)
	if err != nil {
		return nil, err
	}
	var spans []Span
	for _, obj := range jsonObjects(answer) {
		var e struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}
		if json.Unmarshal([]byte(obj), &e) != nil || !want[e.Type] || len(strings.TrimSpace(e.Text)) < 2 {
			continue
		}
		for off := 0; ; {
			i := strings.Index(text[off:], e.Text)
			if i < 0 {
				break
			}
			s := off + i
			spans = append(spans, Span{Start: s, End: s + len(e.Text), Type: e.Type, Score: 0.7})
			off = s + len(e.Text)
		}
	}
	return resolve(spans), nil
}

// askModel sends one user turn (and an optional system prompt) and returns
// the text of the answer.
func askModel(ctx context.Context, p llm.Provider, model, system, user string, maxTokens int) (string, error) {
	if p == nil {
		return "", fmt.Errorf("guardrail model detector: no provider configured")
	}
	if maxTokens <= 0 {
		maxTokens = 512
	}
	zero := 0.0
	req := &llm.Request{
		Model:     model,
		Messages:  []llm.Message{{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock(user)}}},
		Inference: llm.InferenceConfig{MaxTokens: &maxTokens, Temperature: &zero},
	}
	if system != "" {
		req.System = []llm.Block{llm.TextBlock(system)}
	}
	s, err := p.ConverseStream(ctx, req)
	if err != nil {
		return "", fmt.Errorf("guardrail model detector: %w", err)
	}
	resp, err := llm.Collect(s)
	if err != nil {
		return "", fmt.Errorf("guardrail model detector: %w", err)
	}
	var b strings.Builder
	for _, blk := range resp.Message.Content {
		if blk.Kind == llm.KindText {
			b.WriteString(blk.Text)
		}
	}
	return b.String(), nil
}

// jsonObjects returns the flat {…} substrings of s.
func jsonObjects(s string) []string {
	var out []string
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			return out
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return out
		}
		out = append(out, s[i:i+j+1])
		s = s[i+j+1:]
	}
}

// LlamaGuardClassifier is a Classifier that asks a Llama Guard 3 model
// (served by any configured deployment, e.g. Ollama's llama-guard3) whether
// the text is safe, and maps its hazard codes onto Bedrock categories:
// S1 violent crimes, S9 indiscriminate weapons and S11 self-harm → VIOLENCE;
// S2 non-violent crimes, S6 specialised advice, S7 privacy, S8 IP and S13
// elections → MISCONDUCT; S3, S4 and S12 → SEXUAL; S5 defamation → INSULTS;
// S10 hate → HATE; S14 code-interpreter abuse → PROMPT_ATTACK. Llama Guard
// answers yes or no, so a flagged category gets HIGH confidence and the
// others NONE. Fallback, if set, scores PROMPT_ATTACK (which Llama Guard does
// not cover) and any category the model did not flag.
type LlamaGuardClassifier struct {
	Provider llm.Provider
	Model    string
	Fallback Classifier
}

var _ Classifier = (*LlamaGuardClassifier)(nil)

var llamaGuardMap = map[string]string{
	"S1": "VIOLENCE", "S2": "MISCONDUCT", "S3": "SEXUAL", "S4": "SEXUAL", "S5": "INSULTS", "S6": "MISCONDUCT",
	"S7": "MISCONDUCT", "S8": "MISCONDUCT", "S9": "VIOLENCE", "S10": "HATE", "S11": "VIOLENCE", "S12": "SEXUAL",
	"S13": "MISCONDUCT", "S14": "PROMPT_ATTACK",
}

var llamaGuardCode = regexp.MustCompile(`\bS1[0-4]\b|\bS[1-9]\b`)

// Classify implements Classifier. Llama Guard's chat template turns the
// user turn into its moderation prompt.
func (c *LlamaGuardClassifier) Classify(ctx context.Context, text string) (Scores, [6]string, error) {
	var s Scores
	var conf [6]string
	if c.Fallback != nil {
		var err error
		if s, conf, err = c.Fallback.Classify(ctx, text); err != nil {
			return s, conf, err
		}
	}
	for i := range conf {
		if conf[i] == "" {
			conf[i] = ConfNone
		}
	}
	answer, err := askModel(ctx, c.Provider, c.Model, "", text, 32)
	if err != nil {
		return s, conf, err
	}
	answer = strings.ToLower(strings.TrimSpace(answer))
	if !strings.HasPrefix(answer, "unsafe") {
		return s, conf, nil
	}
	for _, code := range llamaGuardCode.FindAllString(strings.ToUpper(answer), -1) {
		if cat, ok := llamaGuardMap[code]; ok {
			h := categoryIndex(cat)
			s[h], conf[h] = 1, ConfHigh
		}
	}
	return s, conf, nil
}
