package bedrock_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/provider/bedrock"
	"github.com/outcrop/outcrop/internal/provider/providertest"
)

func TestCountTokens(t *testing.T) {
	up := providertest.NewUpstream(t, providertest.LoadFixture(t, "testdata/count/ok.txt"), providertest.LoadFixture(t, "testdata/count/error_validation.txt"))
	p := newProvider(t, up.URL, "").(*bedrock.Provider)
	req := providertest.FixtureRequest(&providertest.Fixture{Name: "tool"})
	n, err := p.CountTokens(t.Context(), req)
	if err != nil || n != 1207 {
		t.Fatalf("CountTokens = %d, %v; want 1207", n, err)
	}
	c := up.Calls()[0]
	var body struct {
		Input struct {
			Converse map[string]json.RawMessage `json:"converse"`
		} `json:"input"`
	}
	json.Unmarshal(c.Body, &body)
	if c.Path != "/model/us.anthropic.claude-3-5-haiku-20241022-v1%3A0/count-tokens" || body.Input.Converse["messages"] == nil ||
		body.Input.Converse["system"] == nil || body.Input.Converse["toolConfig"] == nil {
		t.Errorf("CountTokens call %s body %s", c.Path, c.Body)
	}
	_, err = p.CountTokens(t.Context(), req)
	var e *llm.Error
	if !errors.As(err, &e) || e.Kind != llm.KindValidation {
		t.Errorf("error = %v, want a ValidationException", err)
	}
}
