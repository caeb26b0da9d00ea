package anthropic_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/provider/anthropic"
	"github.com/outcrop/outcrop/internal/provider/providertest"
)

func TestCountTokens(t *testing.T) {
	up := providertest.NewUpstream(t, providertest.LoadFixture(t, "testdata/count/ok.txt"), providertest.LoadFixture(t, "testdata/count/error_404.txt"))
	p := newProvider(t, up.URL, "claude-sonnet-4-5").(*anthropic.Provider)
	req := providertest.FixtureRequest(&providertest.Fixture{Name: "tool"})
	req.Additional = json.RawMessage(`{"thinking":{"type":"enabled","budget_tokens":1024}}`)
	n, err := p.CountTokens(t.Context(), req)
	if err != nil || n != 2095 {
		t.Fatalf("CountTokens = %d, %v; want 2095", n, err)
	}
	c := up.Calls()[0]
	var body map[string]any
	json.Unmarshal(c.Body, &body)
	if c.Path != "/v1/messages/count_tokens" || body["model"] != "claude-sonnet-4-5" || body["messages"] == nil || body["system"] == nil ||
		body["tools"] == nil || body["thinking"] == nil || body["max_tokens"] != nil || body["stream"] != nil {
		t.Errorf("count_tokens call %s body %s", c.Path, c.Body)
	}
	_, err = p.CountTokens(t.Context(), req)
	var e *llm.Error
	if !errors.As(err, &e) || e.Kind != llm.KindModelError || e.UpstreamStatus != 404 {
		t.Errorf("error = %v, want a ModelErrorException with status 404", err)
	}
}
