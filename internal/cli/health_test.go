package cli

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHealth(t *testing.T) {
	healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"status":"ok"}`))
	}))
	defer healthy.Close()
	sick := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "draining", http.StatusServiceUnavailable)
	}))
	defer sick.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
		usage   bool
		out     string
	}{
		{name: "healthy", args: []string{"--url", healthy.URL + "/healthz"}, out: `{"status":"ok"}`},
		{name: "unhealthy status", args: []string{"--url", sick.URL}, wantErr: "503"},
		{name: "nobody listening", args: []string{"--url", closedURL}, wantErr: "connect"},
		{name: "bad url", args: []string{"--url", "http://[::1"}, usage: true},
		{name: "unknown flag", args: []string{"--nope"}, usage: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			err := Run(context.Background(), &Env{Stdout: &out, Stderr: &errb}, append([]string{"health"}, tc.args...))
			switch {
			case tc.usage:
				if !errors.Is(err, ErrUsage) {
					t.Fatalf("err = %v, want a usage error", err)
				}
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tc.wantErr)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if got := strings.TrimSpace(out.String()); got != tc.out {
					t.Fatalf("stdout = %q, want %q", got, tc.out)
				}
			}
		})
	}
}
