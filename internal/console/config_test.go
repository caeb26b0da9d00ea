package console_test

import (
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/console"
)

func TestParseConfig(t *testing.T) {
	parse := func(y string) (console.Config, error) {
		t.Helper()
		cfg, err := config.Parse([]byte(y))
		if err != nil {
			t.Fatalf("%q: %v", y, err)
		}
		return console.ParseConfig(cfg)
	}
	c, err := parse("listen: 127.0.0.1:0\n")
	if err != nil || c.SessionTTL.D() != 12*time.Hour || !c.Recording() || c.RecorderRetention.D() != 720*time.Hour {
		t.Errorf("defaults: %+v, %v", c, err)
	}
	c, err = parse("console:\n  session_ttl: 30m\n  request_recorder: false\n  recorder_retention: 48h\n")
	if err != nil || c.SessionTTL.D() != 30*time.Minute || c.Recording() || c.RecorderRetention.D() != 48*time.Hour {
		t.Errorf("set: %+v, %v", c, err)
	}
	for _, bad := range []string{
		"console:\n  session_ttl: 10s\n", "console:\n  session_ttl: 1000h\n", "console:\n  recorder_retention: 5m\n",
		"console:\n  sesion_ttl: 1h\n", "console:\n  request_recorder: maybe\n",
	} {
		if _, err := parse(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
