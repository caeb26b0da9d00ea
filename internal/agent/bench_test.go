package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/agent"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/resource"
	"github.com/outcrop/outcrop/internal/store/storetest"
)

// instantModel answers at once: a tool call to TravelActions__search_flights
// for the first calls of an invocation, then a final text. It stands in for
// the model so that the benchmark measures the loop, not inference.
type instantModel struct{ toolSteps int }

type evs struct{ e []llm.Event }

func (s *evs) Next() (llm.Event, error) {
	if len(s.e) == 0 {
		return llm.Event{}, io.EOF
	}
	ev := s.e[0]
	s.e = s.e[1:]
	return ev, nil
}
func (s *evs) Close() error { return nil }

func (m instantModel) converse(ctx context.Context, req *llm.Request) (llm.Stream, error) {
	calls := 0
	for _, msg := range req.Messages {
		for _, b := range msg.Content {
			if b.Kind == llm.KindToolUse {
				calls++
			}
		}
	}
	usage := &llm.Usage{InputTokens: 100, OutputTokens: 10}
	if calls < m.toolSteps {
		id := fmt.Sprintf("call_%d", calls)
		return &evs{e: []llm.Event{
			{Type: llm.EventMessageStart},
			{Type: llm.EventBlockStart, Index: 0, ToolUse: &llm.ToolUse{ID: id, Name: "TravelActions__search_flights"}},
			{Type: llm.EventBlockDelta, Index: 0, Delta: llm.DeltaToolInput, Text: `{"origin":"London","destination":"Paris",`},
			{Type: llm.EventBlockDelta, Index: 0, Delta: llm.DeltaToolInput, Text: `"date":"2026-12-24"}`},
			{Type: llm.EventBlockStop, Index: 0},
			{Type: llm.EventMessageStop, StopReason: llm.StopToolUse},
			{Type: llm.EventMetadata, Usage: usage},
		}}, nil
	}
	return &evs{e: []llm.Event{
		{Type: llm.EventMessageStart},
		{Type: llm.EventBlockDelta, Delta: llm.DeltaText, Text: "Flight BA304 is available."},
		{Type: llm.EventBlockStop},
		{Type: llm.EventMessageStop, StopReason: llm.StopEndTurn},
		{Type: llm.EventMetadata, Usage: usage},
	}}, nil
}

// BenchmarkLoopStep measures the agent loop's own time per step (one model
// call and the tool call it asks for), with an instant model and an
// instant Lambda endpoint on loopback: per invocation, the alias, agent and
// action groups are read, the session is loaded and saved in SQLite, and
// five steps run (four tool calls, authorized, sent as the Lambda input
// event and answered, then the final answer). Reported: mean and p50 time
// per step, which include the loopback HTTP round trip of each tool call.
func BenchmarkLoopStep(b *testing.B) {
	for _, tc := range []struct {
		name  string
		trace bool
	}{{"trace=off", false}, {"trace=on", true}} {
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			lambda := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				w.Write([]byte(`{"messageVersion":"1.0","response":{"actionGroup":"TravelActions","function":"search_flights","functionResponse":{"responseBody":{"TEXT":{"body":"{\"flights\":[{\"id\":\"BA304\"}]}"}}}}}`))
			}))
			defer lambda.Close()
			rs := resource.NewStore(storetest.SQLite(b), resource.Scope{}, nil)
			ctl := agent.NewControl(rs, nil)
			const steps = 5
			svc := agent.NewService(agent.Options{Control: ctl, Converse: instantModel{toolSteps: steps - 1}.converse,
				Authorize:       func(ctx context.Context, action, res string) error { return nil },
				LambdaEndpoints: map[string]string{travelLambda: lambda.URL}})
			acct := "000000000000"
			a, err := ctl.CreateAgent(ctx, acct, &agent.AgentInput{AgentName: "bench", FoundationModel: "m", Instruction: travelInstruction})
			if err != nil {
				b.Fatal(err)
			}
			_, err = ctl.CreateActionGroup(ctx, acct, a.AgentID, "DRAFT", &agent.ActionGroupInput{ActionGroupName: "TravelActions",
				ActionGroupExecutor: &agent.Executor{Lambda: travelLambda},
				FunctionSchema: &agent.FunctionSchema{Functions: []agent.Function{{Name: "search_flights", Parameters: map[string]agent.ParameterDetail{
					"origin": {Type: "string", Required: true}, "destination": {Type: "string", Required: true}, "date": {Type: "string", Required: true}}}}}})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := ctl.PrepareAgent(ctx, acct, a.AgentID); err != nil {
				b.Fatal(err)
			}
			durs := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				st, err := svc.Invoke(ctx, &agent.Invocation{AgentID: a.AgentID, AliasID: "TSTALIASID",
					SessionID: fmt.Sprintf("s-%d", i), InputText: "find me a flight", EnableTrace: tc.trace})
				if err != nil {
					b.Fatal(err)
				}
				n := 0
				for {
					ev, err := st.Next()
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					if ev.Trace != nil {
						json.Marshal(ev.Trace)
					}
					n++
				}
				st.Close()
				durs = append(durs, time.Since(start))
			}
			b.StopTimer()
			sort.Slice(durs, func(i, j int) bool { return durs[i] < durs[j] })
			p50 := durs[len(durs)/2]
			b.ReportMetric(float64(p50.Nanoseconds())/steps/1e3, "p50-µs/step")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/steps/1e3, "mean-µs/step")
		})
	}
}
