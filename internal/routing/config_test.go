package routing

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/outcrop/outcrop/internal/config"
)

func TestDecodeRoutingSection(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		want    Config
		wantErr bool
	}{
		{name: "empty", yaml: "listen: 127.0.0.1:1\n", want: Config{}},
		{name: "full", yaml: `
routing:
  max_attempts: 4
  backoff_base: 10ms
  backoff_max: 1s
  deadline: 2m
  queue_timeout: 5s
  max_queue: 64
  starvation_limit: 3
  ewma_alpha: 0.5
  affinity_entries: -1
  hedge: {disabled: false, budget: 0.05, min_samples: 20, min_delay: 30ms}
  breaker: {failures: 2, cooldown: 1s, max_cooldown: 10s}
`, want: Config{MaxAttempts: 4, BackoffBase: Duration(10 * time.Millisecond), BackoffMax: Duration(time.Second),
			Deadline: Duration(2 * time.Minute), QueueTimeout: Duration(5 * time.Second), MaxQueue: 64, StarvationLimit: 3,
			EWMAAlpha: 0.5, AffinityEntries: -1,
			Hedge:   Hedge{Budget: 0.05, MinSamples: 20, MinDelay: Duration(30 * time.Millisecond)},
			Breaker: Breaker{Failures: 2, Cooldown: Duration(time.Second), MaxCooldown: Duration(10 * time.Second)}}},
		{name: "unknown key", yaml: "routing:\n  hedging: {}\n", wantErr: true},
		{name: "bad duration", yaml: "routing:\n  deadline: soon\n", wantErr: true},
		{name: "negative duration", yaml: "routing:\n  deadline: -1s\n", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.Parse([]byte(tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			var got Config
			err = config.Decode(cfg.Routing, &got)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Decode() error = %v, want error %v", err, tc.wantErr)
			}
			if err == nil {
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("Decode() (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestConfigLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
	}{
		{name: "zero deployments", yaml: "models:\n  - id: m\n    deployments: []\n"},
		{name: "negative weight", yaml: "models:\n  - id: m\n    deployments: [{provider: openai, weight: -1}]\n"},
		{name: "weights sum to zero", yaml: "models:\n  - id: m\n    deployments: [{provider: openai, weight: 0}]\n"},
		{name: "unknown profile", yaml: "models:\n  - id: m\n    profiles: [fast]\n    deployments: [{provider: openai}]\n"},
		{name: "optimized offered but not served", yaml: "models:\n  - id: m\n    profiles: [standard, optimized]\n    deployments: [{provider: openai, profiles: [standard]}]\n"},
		{name: "reserved without max_concurrency", yaml: "models:\n  - id: m\n    deployments: [{provider: openai, reserved_optimized: 1}]\n"},
		{name: "reserved every slot", yaml: "models:\n  - id: m\n    deployments: [{provider: openai, max_concurrency: 2, reserved_optimized: 2}]\n"},
		{name: "negative max_rps", yaml: "models:\n  - id: m\n    deployments: [{provider: openai, max_rps: -1}]\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := config.Parse([]byte(tc.yaml)); err == nil {
				t.Errorf("Parse(%q) = nil error, want a load error", tc.yaml)
			}
		})
	}
}
