package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/outcrop/outcrop/internal/eval/evaljob"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/resource"
	"github.com/outcrop/outcrop/internal/routing"
	"github.com/outcrop/outcrop/internal/store/storetest"
)

// TestEvaluationJobsAuthorized: each evaluation-job operation asks for its
// IAM action on the job's ARN (or "*"), and a denial is Bedrock's
// AccessDeniedException (403) before the handler runs.
func TestEvaluationJobsAuthorized(t *testing.T) {
	svc := &evaljob.Service{Store: resource.NewStore(storetest.SQLite(t), resource.Scope{}, nil)}
	var mu sync.Mutex
	var asked []string
	deny := func(ctx context.Context, action, res string) error {
		mu.Lock()
		asked = append(asked, action+" "+res)
		mu.Unlock()
		return &llm.Error{Kind: llm.KindAccessDenied, Message: "not allowed: " + action}
	}
	srv := New(Deps{Router: routing.New(nil), Authorize: deny, Groups: []RouteGroup{&EvaluationJobs{Service: svc}}})
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	const arn = "arn:aws:bedrock:us-east-1:000000000000:evaluation-job/abcdefghijkl"
	for _, tc := range []struct {
		method, path, body, wantAsk string
		wantStatus                  int
		wantType                    string
	}{
		{"POST", "/evaluation-jobs", `{"jobName":"j"}`, "bedrock:CreateEvaluationJob *", 403, "AccessDeniedException"},
		{"GET", "/evaluation-jobs", "", "bedrock:ListEvaluationJobs *", 403, "AccessDeniedException"},
		{"GET", "/evaluation-jobs/abcdefghijkl", "", "bedrock:GetEvaluationJob " + arn, 403, "AccessDeniedException"},
		{"GET", "/evaluation-jobs/" + url.PathEscape(arn), "", "bedrock:GetEvaluationJob " + arn, 403, "AccessDeniedException"}, // as the SDKs send it
		{"POST", "/evaluation-job/abcdefghijkl/stop", "", "bedrock:StopEvaluationJob " + arn, 403, "AccessDeniedException"},
		{"POST", "/evaluation-jobs/batch-delete", `{"jobIdentifiers":["abcdefghijkl"]}`, "bedrock:BatchDeleteEvaluationJob " + arn, 403, "AccessDeniedException"},
		// A malformed identifier is a ValidationException, before any policy.
		{"GET", "/evaluation-jobs/NOT-A-JOB", "", "", 400, "ValidationException"},
	} {
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
			want := []string{tc.wantAsk}
			if tc.wantAsk == "" {
				want = nil
			}
			if strings.Join(asked, "|") != strings.Join(want, "|") {
				t.Errorf("authorized %q, want %q", asked, want)
			}
		})
	}
}
