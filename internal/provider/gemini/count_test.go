package gemini_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/provider/gemini"
	"github.com/outcrop/outcrop/internal/provider/providertest"
)

func TestCountTokens(t *testing.T) {
	up := providertest.NewUpstream(t, providertest.LoadFixture(t, "testdata/count/ok.txt"), providertest.LoadFixture(t, "testdata/count/error_400.txt"))
	p := newProvider(t, up.URL, "").(*gemini.Provider)
	req := providertest.FixtureRequest(&providertest.Fixture{Name: "tool"})
	n, err := p.CountTokens(t.Context(), req)
	if err != nil || n != 31 {
		t.Fatalf("CountTokens = %d, %v; want 31", n, err)
	}
	c := up.Calls()[0]
	var body struct {
		Req map[string]json.RawMessage `json:"generateContentRequest"`
	}
	json.Unmarshal(c.Body, &body)
	if c.Path != "/v1beta/models/gemini-2.5-flash:countTokens" || string(body.Req["model"]) != `"models/gemini-2.5-flash"` ||
		body.Req["contents"] == nil || body.Req["systemInstruction"] == nil || body.Req["tools"] == nil {
		t.Errorf("countTokens call %s body %s", c.Path, c.Body)
	}
	_, err = p.CountTokens(t.Context(), req)
	var e *llm.Error
	if !errors.As(err, &e) || e.Kind != llm.KindValidation {
		t.Errorf("error = %v, want a ValidationException", err)
	}
}
