package config

import (
	"strings"
	"testing"
	"time"
)

func TestParseMinimal(t *testing.T) {
	t.Setenv("UPSTREAM_KEY", "sekrit")
	c, err := Parse([]byte(`
listen: 127.0.0.1:8080
models:
  - id: acme.chat-v1                 # what clients send as modelId / model
    deployments:
      - provider: openai
        base_url: http://127.0.0.1:11434/v1
        model: smollm2:135m          # the upstream's model name
        api_key: env:UPSTREAM_KEY    # optional; secrets are references, never logged
`))
	if err != nil {
		t.Fatal(err)
	}
	d := c.Models[0].Deployments[0]
	if d.Name != "openai-0" || *d.Weight != 1 || d.Timeout.D() != 10*time.Minute {
		t.Errorf("defaults not applied: %+v", d)
	}
	if got, _ := d.APIKey.Resolve(); got != "sekrit" {
		t.Errorf("APIKey.Resolve() = %q, want sekrit", got)
	}
	if got := d.APIKey.Redacted(); got != "env:UPSTREAM_KEY" {
		t.Errorf("Redacted() = %q", got)
	}
	if got := Secret("literal-key").String(); got != "REDACTED" {
		t.Errorf("String() of a literal = %q, want REDACTED", got)
	}
	if c.Models[0].Profiles[0] != "standard" {
		t.Errorf("profiles = %v, want [standard]", c.Models[0].Profiles)
	}
}

func TestParseEmpty(t *testing.T) {
	c, err := Parse(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:8080" || c.Store.Driver != "sqlite" {
		t.Errorf("defaults = %+v", c)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown key", "listne: x:1\n", "field listne not found"},
		{"bad duration", "server:\n  idle_timeout: soon\n", "invalid duration"},
		{"no deployments", "models:\n  - id: a\n", "at least one deployment"},
		{"zero weights", "models:\n  - id: a\n    deployments:\n      - provider: openai\n        weight: 0\n", "weights sum to zero"},
		{"negative weight", "models:\n  - id: a\n    deployments:\n      - provider: openai\n        weight: -1\n", "negative"},
		{"bad profile", "models:\n  - id: a\n    profiles: [fast]\n    deployments:\n      - provider: openai\n", `"fast" is not standard or optimized`},
		{"duplicate id", "models:\n  - id: a\n    deployments: [{provider: openai}]\n  - id: a\n    deployments: [{provider: openai}]\n", "used twice"},
		{"unknown fallback", "models:\n  - id: a\n    fallbacks: [b]\n    deployments: [{provider: openai}]\n", `unknown model "b"`},
		{"missing provider", "models:\n  - id: a\n    deployments: [{model: x}]\n", "provider: required"},
		{"bad listen", "listen: nowhere\n", "not host:port"},
		{"wrong type", "models: 3\n", "cannot unmarshal"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse(%q) error = %v, want one containing %q", tc.yaml, err, tc.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("listen: 127.0.0.1:8080\nmodels:\n  - id: a\n    deployments: [{provider: openai}]\n"))
	f.Add([]byte("models: [{id: x, profiles: [optimized], deployments: [{provider: local, weight: 2}]}]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b)
		if err == nil && c.Listen == "" {
			t.Fatal("parsed config without defaults")
		}
	})
}
