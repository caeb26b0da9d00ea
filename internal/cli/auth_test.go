package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/outcrop/outcrop/internal/auth"
	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/store"
)

func runAuthCLI(t *testing.T, home string, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(k string) string {
		if k == "OUTCROP_HOME" {
			return home
		}
		return ""
	}}
	err := Run(context.Background(), env, append([]string{"auth"}, args...))
	return out.String(), err
}

// TestAuthCLI drives the auth commands against a store that a running
// authenticator (standing in for the server) uses at the same time.
func TestAuthCLI(t *testing.T) {
	home := t.TempDir()
	ctx := context.Background()
	cfg := config.Default()
	cfg.Home = home
	so, _ := store.OptionsFrom(cfg, nil)
	db, err := store.Open(ctx, so)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, _, err := auth.OpenStore(cfg, db)
	if err != nil {
		t.Fatal(err)
	}
	a := auth.New(st, auth.Options{})
	defer a.Close()

	if _, err := runAuthCLI(t, home, "add-principal", "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := runAuthCLI(t, home, "add-principal", "alice"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate add-principal: err = %v, want ErrConflict", err)
	}
	out, err := runAuthCLI(t, home, "create-access-key", "alice")
	if err != nil {
		t.Fatal(err)
	}
	var ak struct {
		AccessKey struct{ AccessKeyId, SecretAccessKey, Status string }
	}
	if err := json.Unmarshal([]byte(out), &ak); err != nil || ak.AccessKey.AccessKeyId == "" || ak.AccessKey.SecretAccessKey == "" {
		t.Fatalf("create-access-key printed %q (%v)", out, err)
	}
	// The key works at once on the running authenticator.
	a.Refresh(ctx)
	sign := func() error {
		req := httptest.NewRequest("POST", "/model/m/converse", strings.NewReader("{}"))
		v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: ak.AccessKey.AccessKeyId, SecretAccessKey: ak.AccessKey.SecretAccessKey},
			req, "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", "bedrock", "us-east-1", time.Now())
		_, err := a.Authenticate(req)
		return err
	}
	if err := sign(); err != nil {
		t.Fatalf("new key refused: %v", err)
	}
	out, err = runAuthCLI(t, home, "list-access-keys", "alice")
	if err != nil || !strings.Contains(out, ak.AccessKey.AccessKeyId) || strings.Contains(out, ak.AccessKey.SecretAccessKey) {
		t.Errorf("list-access-keys = %q, %v", out, err)
	}

	out, err = runAuthCLI(t, home, "create-api-key", "alice", "--expires", "24h")
	if err != nil {
		t.Fatal(err)
	}
	var apiKey struct{ ApiKeyId, ApiKey string }
	if err := json.Unmarshal([]byte(out), &apiKey); err != nil || apiKey.ApiKey == "" {
		t.Fatalf("create-api-key printed %q", out)
	}
	out, _ = runAuthCLI(t, home, "list-api-keys", "alice")
	if !strings.Contains(out, apiKey.ApiKeyId) || strings.Contains(out, apiKey.ApiKey) || !strings.Contains(out, "Expiration") {
		t.Errorf("list-api-keys = %q", out)
	}
	if _, err := runAuthCLI(t, home, "revoke-api-key", "alice", apiKey.ApiKeyId); err != nil {
		t.Fatal(err)
	}

	pol := filepath.Join(t.TempDir(), "invoke-only.json")
	os.WriteFile(pol, []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"bedrock:InvokeModel","Resource":"*"}]}`), 0o600)
	if _, err := runAuthCLI(t, home, "attach-policy", "alice", pol); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"Statement":[{"Effect":"Perhaps"}]}`), 0o600)
	if _, err := runAuthCLI(t, home, "attach-policy", "alice", bad); !errors.Is(err, auth.ErrInvalid) {
		t.Errorf("bad policy: err = %v, want ErrInvalid", err)
	}
	out, _ = runAuthCLI(t, home, "list-policies", "alice")
	if !strings.Contains(out, `"invoke-only"`) {
		t.Errorf("list-policies = %q", out)
	}
	if _, err := runAuthCLI(t, home, "detach-policy", "alice", "invoke-only"); err != nil {
		t.Fatal(err)
	}
	if _, err := runAuthCLI(t, home, "detach-policy", "alice", "invoke-only"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second detach: err = %v, want ErrNotFound", err)
	}

	if _, err := runAuthCLI(t, home, "delete-access-key", "alice", ak.AccessKey.AccessKeyId); err != nil {
		t.Fatal(err)
	}
	a.Refresh(ctx)
	if err := sign(); err == nil {
		t.Errorf("deleted key still accepted")
	}
	if _, err := runAuthCLI(t, home, "create-access-key"); !errors.Is(err, ErrUsage) {
		t.Errorf("missing argument: err = %v, want ErrUsage", err)
	}
	if _, err := runAuthCLI(t, home, "create-access-key", "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown principal: err = %v, want ErrNotFound", err)
	}
}
