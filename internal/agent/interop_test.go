package agent_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/outcrop/outcrop/internal/agent"
	"github.com/outcrop/outcrop/internal/store/storetest"
	"github.com/outcrop/outcrop/internal/testenv"
)

// TestBadInputBoto3 runs test/interop/python/agents_errors.py: every case
// of its bad-input table gets Bedrock's error code and HTTP status through
// boto3 (bedrock-agent and bedrock-agent-runtime), never a 5xx; and an
// inline agent's RETURN_CONTROL round trip works through boto3.
func TestBadInputBoto3(t *testing.T) {
	python := testenv.Python(t)
	e := newEnv(t, storetest.SQLite(t), agent.Limits{})
	e.up.setScript(travelScript)
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "..", "test", "interop", "python", "agents_errors.py")
	home := t.TempDir()
	k, other := e.keys["alice"], e.keys["bob"]
	cmd := exec.Command(python, script)
	cmd.Env = append(os.Environ(), "OUTCROP_URL="+e.URL, "MODEL_ID="+testModel,
		"AWS_ACCESS_KEY_ID="+k.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+k.SecretAccessKey,
		"OTHER_ACCESS_KEY_ID="+other.AccessKeyID, "OTHER_SECRET_ACCESS_KEY="+other.SecretAccessKey,
		"AWS_CONFIG_FILE="+filepath.Join(home, "c"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "k"), "AWS_EC2_METADATA_DISABLED=true")
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("agents_errors.py: %v\n%s", err, stderr)
	}
	var res struct {
		Cases []struct {
			Name      string
			Want, Got struct {
				Code   string
				Status int
			}
		}
		Inline struct {
			Function string
			Params   map[string]string
			Answer   string
		}
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("output %s: %v", out, err)
	}
	if len(res.Cases) < 30 {
		t.Fatalf("only %d cases ran", len(res.Cases))
	}
	for _, c := range res.Cases {
		if c.Got.Status >= 500 {
			t.Errorf("%s: %d %s, a server error for bad input", c.Name, c.Got.Status, c.Got.Code)
		}
		if c.Got != c.Want {
			t.Errorf("%s: got %s %d, want %s %d", c.Name, c.Got.Code, c.Got.Status, c.Want.Code, c.Want.Status)
		}
	}
	if res.Inline.Function != "HotelActions.search_hotels" || res.Inline.Params["city"] != "Paris" ||
		!strings.Contains(res.Inline.Answer, "Hotel Lumiere") {
		t.Fatalf("inline agent through boto3 = %+v", res.Inline)
	}
}
