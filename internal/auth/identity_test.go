package auth_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/outcrop/outcrop/internal/quota"
	"github.com/outcrop/outcrop/internal/store/storetest"
)

// modelNames are the ways a client can name e2eModel: its ID, an alias, its
// foundation-model ARN and a cross-region inference-profile ID.
var modelNames = []string{e2eModel, e2eAlias, "arn:aws:bedrock:us-east-1::foundation-model/" + e2eModel, "us." + e2eModel}

func converseModel(c *bedrockruntime.Client, model string) error {
	_, err := c.Converse(context.Background(), &bedrockruntime.ConverseInput{
		ModelId: aws.String(model),
		Messages: []types.Message{{Role: types.ConversationRoleUser,
			Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "hello"}}}},
	})
	return err
}

// chatStatus posts a chat completion naming model with an API key and
// returns the status.
func chatStatus(t *testing.T, url, apiKey, model string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", url+"/v1/chat/completions",
		strings.NewReader(`{"model":"`+model+`","messages":[{"role":"user","content":"hello"}]}`))
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestDenyCanonicalModelDeniesEveryName: a Deny on the model's canonical
// foundation-model ARN also denies calls that name the model by alias, by
// ARN or by inference-profile ID, on both APIs, because the API edge
// resolves the name once and authorizes the canonical identity.
func TestDenyCanonicalModelDeniesEveryName(t *testing.T) {
	s := newServer(t, storetest.SQLite(t), quota.Config{})
	deny := `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"bedrock:*","Resource":"*"},
		{"Effect":"Deny","Action":"bedrock:InvokeModel*","Resource":"arn:aws:bedrock:*::foundation-model/` + e2eModel + `"}]}`
	denied, _, deniedAPI := s.addUser(t, "denied", deny)
	allowed, _, allowedAPI := s.addUser(t, "allowed", allowAll)
	dc := sdkClient(s.URL, denied.AccessKeyID, denied.SecretAccessKey, nil)
	ac := sdkClient(s.URL, allowed.AccessKeyID, allowed.SecretAccessKey, nil)
	for _, name := range modelNames {
		if got := errCode(converseModel(dc, name)); got != "AccessDeniedException" {
			t.Errorf("denied principal, Converse on %q: %q, want AccessDeniedException", name, got)
		}
		if err := converseModel(ac, name); err != nil {
			t.Errorf("allowed principal, Converse on %q: %v", name, err)
		}
	}
	for _, name := range []string{e2eModel, e2eAlias} {
		if got := chatStatus(t, s.URL, deniedAPI, name); got != http.StatusForbidden {
			t.Errorf("denied principal, chat completions on %q: %d, want 403", name, got)
		}
		if got := chatStatus(t, s.URL, allowedAPI, name); got != http.StatusOK {
			t.Errorf("allowed principal, chat completions on %q: %d, want 200", name, got)
		}
	}
}

// TestModelQuotaCountsEveryName: a per-model quota written with the
// model's ID counts calls that name it by alias, ARN or profile ID.
func TestModelQuotaCountsEveryName(t *testing.T) {
	s := newServerWith(t, storetest.SQLite(t), quota.Config{Models: map[string]quota.Limit{e2eModel: {RPM: len(modelNames)}}},
		quota.Options{Now: fixedMinute}, false)
	u, _, _ := s.addUser(t, "alice", allowAll)
	c := sdkClient(s.URL, u.AccessKeyID, u.SecretAccessKey, nil)
	for _, name := range modelNames {
		if err := converseModel(c, name); err != nil {
			t.Fatalf("Converse on %q within the quota: %v", name, err)
		}
	}
	if got := errCode(converseModel(c, e2eAlias)); got != "ThrottlingException" {
		t.Errorf("call %d through the alias: %q, want ThrottlingException", len(modelNames)+1, got)
	}
}

// fixedMinute is a clock in the middle of a minute, so that the quota test
// never straddles a window boundary.
func fixedMinute() time.Time { return time.Date(2026, 11, 25, 12, 0, 30, 0, time.UTC) }
