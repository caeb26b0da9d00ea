package httpapi

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime"
	rttypes "github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime/types"

	"github.com/outcrop/outcrop/internal/provider/providertest"
	"github.com/outcrop/outcrop/internal/store"
	"github.com/outcrop/outcrop/internal/store/storetest"
	"github.com/outcrop/outcrop/internal/testenv"
)

// TestFlowCrashRecovery kills (SIGKILL) a server process — a replica —
// once with an execution paused on the agent node and another in the
// middle of a prompt node, then serves the same database from a second
// replica: the paused execution resumes there, the running one is finished
// by the recovery job, and each emits its output exactly once. It runs on
// SQLite (a restart) and on PostgreSQL with River (a surviving replica).
func TestFlowCrashRecovery(t *testing.T) {
	run := func(t *testing.T, db *store.DB, dsn, helperDSN string) {
		var hang atomic.Bool
		guideSeen := make(chan struct{}, 4)
		var guideCalls atomic.Int32
		up := providertest.NewUpstreamFunc(t, func(c providertest.Call) *providertest.Fixture {
			if strings.Contains(string(c.Body), "AcmeGuide") {
				guideCalls.Add(1)
				if hang.Load() {
					guideSeen <- struct{}{}
					return &providertest.Fixture{Response: "@@ hang\n"}
				}
			}
			return tripPick(c)
		})

		urlFile := filepath.Join(t.TempDir(), "url")
		cmd := exec.Command(os.Args[0], "-test.run=^TestFlowCrashHelper$")
		cmd.Env = append(os.Environ(), "FLOW_CRASH_HELPER=1", "FLOW_CRASH_DSN="+helperDSN, "FLOW_CRASH_UPSTREAM="+up.URL, "FLOW_CRASH_URLFILE="+urlFile)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		t.Cleanup(func() { cmd.Process.Kill(); <-exited })
		var helperURL string
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if b, err := os.ReadFile(urlFile); err == nil && len(b) > 0 {
				helperURL = string(b)
				break
			}
			select {
			case <-exited:
				t.Fatal("helper exited before serving")
			default:
			}
			if time.Now().After(deadline) {
				t.Fatal("helper never served")
			}
		}
		ctl, rt := agentClients(helperURL)
		flowID, aliasID := deployTripPlanner(t, ctl)

		// Paused on the agent in replica 1.
		b1, err := invoke(t, rt, flowID, aliasID, "", firstInput("Book a flight to paris"), false)
		if err != nil || b1.reason != "INPUT_REQUIRED" {
			t.Fatalf("booking = %+v, %v", b1, err)
		}
		// Running the guide prompt in replica 1 when it dies.
		hang.Store(true)
		guideDone := make(chan string, 1)
		go func() {
			out, err := rt.InvokeFlow(context.Background(), &bedrockagentruntime.InvokeFlowInput{FlowIdentifier: aws.String(flowID),
				FlowAliasIdentifier: aws.String(aliasID), Inputs: []rttypes.FlowInput{firstInput("What's the weather in Paris?")}})
			if err != nil {
				guideDone <- ""
				return
			}
			guideDone <- aws.ToString(out.ExecutionId)
			out.GetStream().Close()
		}()
		select {
		case <-guideSeen:
		case <-time.After(30 * time.Second):
			t.Fatal("the guide prompt never reached the upstream")
		}
		var guideID string
		select {
		case guideID = <-guideDone:
		case <-time.After(30 * time.Second):
		}
		if guideID == "" {
			t.Fatal("InvokeFlow returned no execution id before the crash")
		}
		cmd.Process.Kill()
		<-exited
		hang.Store(false)

		// Replica 2 on the same database.
		srv := newFlowServer(t, db, dsn, up.URL, 2*time.Second)
		_, rt2 := agentClients(srv.URL)
		base := srv.URL + "/flows/" + flowID + "/aliases/" + aliasID + "/executions/"
		waitExecFor(t, base+guideID, "Succeeded", 120*time.Second)
		if n := countOutputs(t, base+guideID); n != 1 {
			t.Fatalf("the recovered execution emitted %d outputs, want 1", n)
		}
		if n := guideCalls.Load(); n != 2 {
			t.Fatalf("the guide prompt was called %d times, want 2 (the lost run and its one replay)", n)
		}

		b2, err := invoke(t, rt2, flowID, aliasID, b1.executionID, agentInput("MAD, 20250214"), false)
		if err != nil || b2.reason != "INPUT_REQUIRED" || b2.question != "At what time?" {
			t.Fatalf("resume after the crash = %+v, %v", b2, err)
		}
		b3, err := invoke(t, rt2, flowID, aliasID, b1.executionID, agentInput("20:43"), false)
		if err != nil || b3.reason != "SUCCESS" || len(b3.outputs) != 1 {
			t.Fatalf("final turn after the crash = %+v, %v", b3, err)
		}
		if n := countOutputs(t, base+b1.executionID); n != 1 {
			t.Fatalf("the resumed execution emitted %d outputs, want 1", n)
		}
	}
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "outcrop.db")
		db, err := store.Open(context.Background(), store.Options{Driver: "sqlite", DSN: path})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		run(t, db, "", path)
	})
	t.Run("postgres", func(t *testing.T) {
		db, dsn := storetest.PostgresSchema(t, testenv.PostgresDSN(t))
		run(t, db, dsn, dsn)
	})
}

func waitExecFor(t *testing.T, url, want string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		var v execView
		call(t, "GET", url, "", &v)
		if v.Status == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("execution is %q after %s, want %s", v.Status, d, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func countOutputs(t *testing.T, execURL string) int {
	t.Helper()
	var ev struct{ FlowExecutionEvents []map[string]json.RawMessage }
	call(t, "GET", execURL+"/events?eventType=Flow&maxResults=100", "", &ev)
	n := 0
	for _, e := range ev.FlowExecutionEvents {
		if _, ok := e["flowOutputEvent"]; ok {
			n++
		}
	}
	return n
}

// TestFlowCrashHelper is the replica TestFlowCrashRecovery kills.
func TestFlowCrashHelper(t *testing.T) {
	if os.Getenv("FLOW_CRASH_HELPER") != "1" {
		t.Skip("helper process for TestFlowCrashRecovery")
	}
	dsn := os.Getenv("FLOW_CRASH_DSN")
	o := store.Options{Driver: "sqlite", DSN: dsn}
	riverDSN := ""
	if !filepath.IsAbs(dsn) {
		o.Driver, riverDSN = "postgres", dsn
	}
	db, err := store.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	srv := newFlowServer(t, db, riverDSN, os.Getenv("FLOW_CRASH_UPSTREAM"), 2*time.Second)
	f := os.Getenv("FLOW_CRASH_URLFILE")
	os.WriteFile(f+".tmp", []byte(srv.URL), 0o600)
	os.Rename(f+".tmp", f)
	time.Sleep(3 * time.Minute)
}
