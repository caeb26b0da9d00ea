package audit_test

import (
	"testing"

	"github.com/outcrop/outcrop/internal/audit"
	"github.com/outcrop/outcrop/internal/config"
)

// TestParseConfig reads the audit section as internal/app does.
func TestParseConfig(t *testing.T) {
	cfg, err := config.Parse([]byte("audit:\n  retention: 24h\n  prompt_chars: -1\n"))
	if err != nil {
		t.Fatal(err)
	}
	on, ao, err := audit.ParseConfig(cfg)
	if err != nil || !on || ao.Retention.Hours() != 24 || ao.PromptChars != -1 {
		t.Errorf("ParseConfig = %v, %+v, %v", on, ao, err)
	}
}
