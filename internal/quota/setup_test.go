package quota_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/quota"
)

// TestSetup builds the quota stage from configuration the way internal/app
// does, including the resolution of model names in the file.
func TestSetup(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	parse := func(y string) *config.Config {
		t.Helper()
		cfg, err := config.Parse([]byte(y))
		if err != nil {
			t.Fatalf("config: %v", err)
		}
		cfg.Home = t.TempDir()
		return cfg
	}
	q, closeQ, err := quota.Setup(ctx, parse("quotas:\n  default: {rpm: 10}\n  backend: memory\nlimits:\n  max_tokens: 100\n"), log, nil)
	if err != nil || q == nil {
		t.Fatalf("Setup: %v", err)
	}
	closeQ()
	if _, _, err := quota.Setup(ctx, parse("quotas:\n  backend: redis\n"), log, nil); err == nil {
		t.Errorf("redis backend without redis.url accepted")
	}
}

// TestModelQuotaByCanonicalID: a per-model quota written with an alias
// counts every call of that model, which the API edge hands over by its
// canonical ID (gateway.Call.Model) whatever name the client used.
func TestModelQuotaByCanonicalID(t *testing.T) {
	resolve := func(name string) (string, bool) {
		switch name {
		case "acme.chat-v1", "chat", "arn:aws:bedrock:us-east-1::foundation-model/acme.chat-v1":
			return "acme.chat-v1", true
		}
		return "", false
	}
	for _, key := range []string{"chat", "acme.chat-v1", "arn:aws:bedrock:us-east-1::foundation-model/acme.chat-v1"} {
		t.Run(key, func(t *testing.T) {
			q := quota.New(quota.Config{Models: map[string]quota.Limit{key: {RPM: 2}}, OnBackendError: "deny"},
				quota.LimitsConfig{ModelLimits: quota.ModelLimits{MaxMessages: 10, MaxInputTokens: 1000, MaxTokens: 100}},
				quota.Options{Now: fixedClock(), ResolveModel: resolve})
			gw := newGateway(q, nil)
			for i := range 3 {
				c := call("alice", "acme.chat-v1", nil)
				c.Model = "acme.chat-v1"
				_, err := gw.Converse(context.Background(), c)
				if i < 2 && err != nil {
					t.Fatalf("call %d: %v", i, err)
				}
				if i == 2 {
					throttledErr(t, err)
				}
			}
		})
	}
	// A model that is not served keeps its key and limits nothing else.
	q := quota.New(quota.Config{Models: map[string]quota.Limit{"other": {RPM: 1}}, OnBackendError: "deny"},
		quota.LimitsConfig{ModelLimits: quota.ModelLimits{MaxMessages: 10, MaxInputTokens: 1000, MaxTokens: 100}},
		quota.Options{Now: fixedClock(), ResolveModel: resolve})
	gw := newGateway(q, nil)
	for i := range 3 {
		c := call("alice", "acme.chat-v1", nil)
		c.Model = "acme.chat-v1"
		if _, err := gw.Converse(context.Background(), c); err != nil {
			t.Fatalf("call %d under another model's quota: %v", i, err)
		}
	}
}
