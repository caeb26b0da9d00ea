package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/outcrop/outcrop/internal/guardrail"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/routing"
	"github.com/outcrop/outcrop/internal/store/storetest"
)

// TestRoutesOutsidePipelineAreAuthorized: control-plane and listing routes
// ask Deps.Authorize for the IAM action and resource, and a denial comes
// back as the API's AccessDenied error without the handler running.
func TestRoutesOutsidePipelineAreAuthorized(t *testing.T) {
	reg := guardrail.NewRegistry(storetest.SQLite(t), guardrail.RegistryOptions{})
	var mu sync.Mutex
	var asked []string
	deny := func(ctx context.Context, action, resource string) error {
		mu.Lock()
		asked = append(asked, action+" "+resource)
		mu.Unlock()
		return &llm.Error{Kind: llm.KindAccessDenied, Message: "not allowed: " + action}
	}
	srv := New(Deps{Router: routing.New(nil), Authorize: deny, Groups: []RouteGroup{&Guardrails{Registry: reg, Engine: &guardrail.Engine{}}}})
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()

	tests := []struct {
		method, path, body string
		wantAsk            string
		wantStatus         int
		wantType           string // X-Amzn-ErrorType for Bedrock routes
	}{
		{"POST", "/guardrails", `{"name":"g","blockedInputMessaging":"x","blockedOutputsMessaging":"y"}`, "bedrock:CreateGuardrail *", 403, "AccessDeniedException"},
		{"GET", "/guardrails", "", "bedrock:ListGuardrails *", 403, "AccessDeniedException"},
		{"GET", "/guardrails/abc123", "", "bedrock:GetGuardrail arn:aws:bedrock:us-east-1:000000000000:guardrail/abc123", 403, "AccessDeniedException"},
		{"DELETE", "/guardrails/abc123", "", "bedrock:DeleteGuardrail arn:aws:bedrock:us-east-1:000000000000:guardrail/abc123", 403, "AccessDeniedException"},
		{"POST", "/guardrail/abc123/version/DRAFT/apply", `{"source":"INPUT","content":[{"text":{"text":"hi"}}]}`, "bedrock:ApplyGuardrail arn:aws:bedrock:us-east-1:000000000000:guardrail/abc123", 403, "AccessDeniedException"},
		{"GET", "/v1/models", "", "bedrock:ListFoundationModels *", 403, ""},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			mu.Lock()
			asked = nil
			mu.Unlock()
			req, _ := http.NewRequest(tc.method, ts.URL+tc.path, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus || resp.Header.Get("X-Amzn-ErrorType") != tc.wantType {
				t.Errorf("status %d type %q, want %d %q", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), tc.wantStatus, tc.wantType)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(asked) != 1 || asked[0] != tc.wantAsk {
				t.Errorf("authorized %q, want [%q]", asked, tc.wantAsk)
			}
		})
	}
}
