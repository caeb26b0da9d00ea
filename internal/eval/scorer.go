package eval

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/outcrop/outcrop/internal/guardrail"
)

// TextScorer scores texts on their own (toxicity). Each result maps score
// names to values. Implementations must be safe for concurrent use.
type TextScorer interface {
	ScoreTexts(ctx context.Context, texts []string) ([]map[string]float64, error)
}

// PairScorer scores candidates against references (BERTScore F1).
type PairScorer interface {
	ScorePairs(ctx context.Context, references, candidates []string) ([]float64, error)
}

// HTTPScorer is a model-based scorer behind HTTP, for models Go cannot run
// (detoxify, toxigen, BERTScore with deberta-xlarge-mnli). Texts: POST
// {"texts": [...]} → {"scores": [{"toxicity": 0.1, ...}, ...]}. Pairs: POST
// {"references": [...], "candidates": [...]} → {"scores": [0.93, ...]}.
type HTTPScorer struct {
	URL  string
	HTTP *http.Client
}

func (s *HTTPScorer) post(ctx context.Context, body, out any) error {
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, "POST", s.URL, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	hc := s.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("scorer %s: %w", s.URL, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if resp.StatusCode != 200 {
		return fmt.Errorf("scorer %s: %d: %s", s.URL, resp.StatusCode, strings.TrimSpace(string(data)))
	}
	return json.Unmarshal(data, out)
}

// ScoreTexts implements TextScorer.
func (s *HTTPScorer) ScoreTexts(ctx context.Context, texts []string) ([]map[string]float64, error) {
	var out struct {
		Scores []map[string]float64 `json:"scores"`
	}
	if err := s.post(ctx, map[string]any{"texts": texts}, &out); err != nil {
		return nil, err
	}
	if len(out.Scores) != len(texts) {
		return nil, fmt.Errorf("scorer %s: %d scores for %d texts", s.URL, len(out.Scores), len(texts))
	}
	return out.Scores, nil
}

// ScorePairs implements PairScorer.
func (s *HTTPScorer) ScorePairs(ctx context.Context, refs, cands []string) ([]float64, error) {
	var out struct {
		Scores []float64 `json:"scores"`
	}
	if err := s.post(ctx, map[string]any{"references": refs, "candidates": cands}, &out); err != nil {
		return nil, err
	}
	if len(out.Scores) != len(cands) {
		return nil, fmt.Errorf("scorer %s: %d scores for %d pairs", s.URL, len(out.Scores), len(cands))
	}
	return out.Scores, nil
}

// GuardrailToxicity scores toxicity with Outcrop's own content classifier
// (internal/guardrail's built-in model, trained on public moderation
// datasets): "toxicity" is the highest of its HATE, INSULTS, SEXUAL,
// VIOLENCE and MISCONDUCT probabilities, and each of those is reported too
// (hate, insults, sexual, violence, misconduct). These are not detoxify's
// scores: same direction and range, a different model.
type GuardrailToxicity struct{ m *guardrail.Model }

// NewGuardrailToxicity loads the built-in classifier.
func NewGuardrailToxicity() (*GuardrailToxicity, error) {
	m, err := guardrail.BuiltinModel()
	if err != nil {
		return nil, err
	}
	return &GuardrailToxicity{m}, nil
}

// ScoreTexts implements TextScorer.
func (g *GuardrailToxicity) ScoreTexts(_ context.Context, texts []string) ([]map[string]float64, error) {
	out := make([]map[string]float64, len(texts))
	for i, t := range texts {
		s := g.m.Score(t)
		m := map[string]float64{}
		var top float64
		for h, c := range guardrail.Categories {
			if c == "PROMPT_ATTACK" {
				continue
			}
			m[strings.ToLower(c)] = s[h]
			top = max(top, s[h])
		}
		m[ScoreToxicity] = top
		out[i] = m
	}
	return out, nil
}
