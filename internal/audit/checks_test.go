package audit_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/audit"
	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/store"
	"github.com/outcrop/outcrop/internal/store/storetest"
)

// TestNestedChecks: decisions made under gateway.Nested (an agent's tool
// checks) are listed beside the request's own decision and never replace
// it; they are stored and read back in order.
func TestNestedChecks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		l := audit.New(db, audit.Options{})
		defer l.Close()
		e := &audit.Entry{Time: time.Now(), Method: "POST", Path: "/agents/A/agentAliases/B/sessions/s/text"}
		ctx := audit.With(context.Background(), e)
		gateway.RecordDecision(ctx, gateway.Decision{Principal: "bob", Action: "bedrock:InvokeAgent", Resource: "arn:alias", Outcome: "allow"})
		nested := gateway.Nested(ctx)
		gateway.RecordDecision(nested, gateway.Decision{Principal: "bob", Action: "bedrock:InvokeModel", Resource: "arn:model", Outcome: "allow"})
		gateway.RecordDecision(nested, gateway.Decision{Principal: "bob", Action: "bedrock:InvokeAgentTool", Resource: "arn:tool/book", Outcome: "deny"})
		if e.Decision != "allow" || e.Action != "bedrock:InvokeAgent" || e.Resource != "arn:alias" {
			t.Fatalf("request decision became %s %s %s", e.Decision, e.Action, e.Resource)
		}
		want := []string{"allow bedrock:InvokeModel arn:model", "deny bedrock:InvokeAgentTool arn:tool/book"}
		if strings.Join(e.Checks, "|") != strings.Join(want, "|") {
			t.Fatalf("checks %q, want %q", e.Checks, want)
		}
		l.Record(e)
		l.Flush()
		got, err := l.Query(context.Background(), "bob", 10)
		if err != nil || len(got) != 1 {
			t.Fatalf("query = %v, %v", got, err)
		}
		if got[0].Decision != "allow" || strings.Join(got[0].Checks, "|") != strings.Join(want, "|") {
			t.Fatalf("stored entry decision %q checks %q", got[0].Decision, got[0].Checks)
		}
		page, err := audit.Search(context.Background(), db, audit.Filter{Principal: "bob"})
		if err != nil || len(page.Records) != 1 || len(page.Records[0].Checks) != 2 {
			t.Fatalf("search = %+v, %v", page, err)
		}
	})
}
