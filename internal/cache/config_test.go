package cache

import (
	"testing"

	"github.com/outcrop/outcrop/internal/config"
)

func TestParseConfig(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		ok         bool
	}{
		{"empty", "", true},
		{"full", "cache:\n  backend: memory\n  scope: account\n  ttl: 1h\n  models:\n    m: {ttl: 5m}\n    n: {enabled: false}\n  semantic:\n    models: {m: 0.8}\n", true},
		{"bad backend", "cache:\n  backend: disk\n", false},
		{"bad scope", "cache:\n  scope: everyone\n", false},
		{"redis without url", "cache:\n  backend: redis\n", false},
		{"unknown key", "cache:\n  tll: 1h\n", false},
		{"threshold above 1", "cache:\n  semantic:\n    models: {m: 1.5}\n", false},
		{"negative budget", "cache:\n  max_bytes: -1\n", false},
		{"semantic options", "cache:\n  scope: account\n  semantic:\n    models: {m: 0}\n    scope: account\n    verify: lexical\n    embedding_model: e\n", true},
		{"semantic wider than exact", "cache:\n  semantic:\n    scope: account\n", false},
		{"bad semantic scope", "cache:\n  semantic:\n    scope: everyone\n", false},
		{"bad verify", "cache:\n  semantic:\n    verify: judge\n", false},
	} {
		cfg, err := config.Parse([]byte(tc.yaml))
		if err != nil {
			t.Fatalf("%s: config.Parse: %v", tc.name, err)
		}
		_, err = ParseConfig(cfg)
		if (err == nil) != tc.ok {
			t.Errorf("%s: ParseConfig error = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}
