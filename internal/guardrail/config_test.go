package guardrail

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/store/storetest"
)

func loadConfig(t *testing.T, yamlText string) *config.Config {
	t.Helper()
	p := filepath.Join(t.TempDir(), "outcrop.yaml")
	if err := os.WriteFile(p, []byte(yamlText), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(p)
	if err != nil {
		t.Fatalf("config.Load: %v", err)
	}
	return cfg
}

func TestConfigDefinitions(t *testing.T) {
	cfg := loadConfig(t, `
guardrails:
  sync_window: 400
  definitions:
    - name: support
      blockedInputMessaging: "Sorry, I can't help with that."
      blockedOutputsMessaging: "Sorry, I can't share that."
      sensitiveInformationPolicyConfig:
        piiEntitiesConfig: [{type: EMAIL, action: ANONYMIZE}]
`)
	ctx := context.Background()
	s, err := New(ctx, cfg, SubsystemOptions{DB: storetest.SQLite(t)})
	if err != nil {
		t.Fatal(err)
	}
	if s.Stage == nil || s.Stage.SyncWindow != 400 {
		t.Fatalf("stage = %+v", s.Stage)
	}
	c, err := s.Registry.Compiled(ctx, ConfigID("support"), Draft)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Engine.Apply(ctx, c, &ApplyRequest{Source: SourceInput, Content: []Content{{Text: &TextContent{Text: "mail me at x@example.com"}}}})
	if err != nil || res.Outputs[0].Text != "mail me at {EMAIL}" {
		t.Fatalf("Apply = %+v, %v", res, err)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"unknown key", "guardrails:\n  sync_windw: 1\n", "sync_windw"},
		{"unknown definition field", "guardrails:\n  definitions:\n    - name: a\n      blockedInputMessaging: x\n      blockedOutputsMessaging: y\n      colour: red\n", "colour"},
		{"invalid definition", "guardrails:\n  definitions:\n    - name: a\n      blockedInputMessaging: x\n      blockedOutputsMessaging: y\n      wordPolicyConfig: {wordsConfig: [{text: one two three four}]}\n", "wordsConfig.1.member.text"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "outcrop.yaml")
			os.WriteFile(p, []byte(tc.yaml), 0o644)
			cfg, err := config.Load(p)
			if err == nil {
				_, _, err = ParseConfig(cfg)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want mention of %q", err, tc.want)
			}
		})
	}
}
