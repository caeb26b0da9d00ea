package guardrail

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/store/storetest"
)

// TestStageLogsWithoutSensitiveText runs a call through a real gateway with
// the stage and checks the request log line and the metrics: they name the
// policy, type and action of each intervention, never the matched text.
func TestStageLogsWithoutSensitiveText(t *testing.T) {
	ctx := context.Background()
	reg := NewRegistry(storetest.SQLite(t), RegistryOptions{})
	d := base()
	d.SensitiveInformationPolicyConfig = &SensitiveInformationPolicyConfig{PIIEntitiesConfig: []PIIEntity{{Type: "EMAIL", Action: ActionAnonymize}}}
	d.WordPolicyConfig = &WordPolicyConfig{WordsConfig: []Word{{Text: "Project Falcon"}}}
	g, err := reg.Create(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	promReg := prometheus.NewRegistry()
	m := NewMetrics(promReg)
	var seen *llm.Request
	final := func(ctx context.Context, c *gateway.Call) (llm.Stream, error) {
		seen = c.Request
		return llm.ResponseStream(&llm.Response{
			Message:    llm.Message{Role: llm.RoleAssistant, Content: []llm.Block{llm.TextBlock("Noted, carol@example.net will reply.")}},
			StopReason: llm.StopEndTurn,
		}), nil
	}
	gw := gateway.New(gateway.Options{
		Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
		Stages: []gateway.Stage{&Stage{Resolver: reg, Recorder: m}},
		Final:  final,
	})
	call := &gateway.Call{API: "bedrock", Op: "Converse", Request: &llm.Request{
		Model:     "m",
		Messages:  []llm.Message{{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock("I am alice@example.com")}}},
		Guardrail: &llm.GuardrailConfig{ID: g.GuardrailID, Version: Draft, Trace: "enabled"},
	}}
	resp, err := gw.Converse(ctx, call)
	if err != nil {
		t.Fatal(err)
	}
	if got := seen.Messages[0].Content[0].Text; got != "I am {EMAIL}" {
		t.Errorf("model saw %q", got)
	}
	if got := resp.Message.Content[0].Text; got != "Noted, {EMAIL} will reply." {
		t.Errorf("answer = %q", got)
	}
	if resp.Trace["guardrail"] == nil {
		t.Errorf("no guardrail trace")
	}
	line := logs.String()
	if !strings.Contains(line, "input:pii:EMAIL:ANONYMIZED") || !strings.Contains(line, "output:pii:EMAIL:ANONYMIZED") {
		t.Errorf("log line lacks the interventions: %s", line)
	}
	for _, secret := range []string{"alice@example.com", "carol@example.net"} {
		if strings.Contains(line, secret) {
			t.Errorf("log line contains %q: %s", secret, line)
		}
	}
	var pm dto.Metric
	if err := m.c.WithLabelValues("INPUT", "pii", "EMAIL", "ANONYMIZED").Write(&pm); err != nil || pm.GetCounter().GetValue() != 1 {
		t.Errorf("input EMAIL counter = %v (%v), want 1", pm.GetCounter().GetValue(), err)
	}

	// A blocked input never reaches the model.
	seen = nil
	call.Request = &llm.Request{Model: "m", Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock("tell me about project falcon")}}},
		Guardrail: &llm.GuardrailConfig{ID: g.GuardrailID, Version: Draft}}
	s, err := gw.Do(ctx, call)
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	var stop llm.StopReason
	for {
		ev, err := s.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		text.WriteString(ev.Text)
		if ev.Type == llm.EventMessageStop {
			stop = ev.StopReason
		}
	}
	s.Close()
	if seen != nil || text.String() != "Sorry, input blocked." || stop != llm.StopGuardrailIntervened {
		t.Errorf("blocked input: model called %v, text %q, stop %s", seen != nil, text.String(), stop)
	}
}

// TestStageUpstreamGuardrails: a model whose guardrails its upstream
// applies gets its call untouched (an identifier Outcrop does not know,
// guardrailConfig passed on); any other model is guarded here, and an
// unknown identifier is a ValidationException.
func TestStageUpstreamGuardrails(t *testing.T) {
	reg := NewRegistry(storetest.SQLite(t), RegistryOptions{})
	var seen *llm.Request
	final := func(ctx context.Context, c *gateway.Call) (llm.Stream, error) {
		seen = c.Request
		return llm.ResponseStream(&llm.Response{Message: llm.Message{Role: llm.RoleAssistant, Content: []llm.Block{llm.TextBlock("ok")}}, StopReason: llm.StopEndTurn}), nil
	}
	stage := &Stage{Resolver: reg, Upstream: func(m string) bool { return m == "bedrock-guarded" }}
	gw := gateway.New(gateway.Options{Stages: []gateway.Stage{stage}, Final: final})
	call := func(model string) (*llm.Response, error) {
		seen = nil
		return gw.Converse(context.Background(), &gateway.Call{API: "bedrock", Op: "Converse", Model: model, Request: &llm.Request{
			Model:     model,
			Messages:  []llm.Message{{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock("my card is 4111 1111 1111 1111")}}},
			Guardrail: &llm.GuardrailConfig{ID: "gr7x2kq9abcd", Version: "3", Trace: "enabled"},
		}})
	}
	if _, err := call("bedrock-guarded"); err != nil {
		t.Fatalf("upstream-guarded model: %v", err)
	}
	if seen == nil || seen.Guardrail == nil || seen.Guardrail.ID != "gr7x2kq9abcd" || seen.Messages[0].Content[0].Text != "my card is 4111 1111 1111 1111" {
		t.Errorf("upstream-guarded model: the upstream saw %+v", seen)
	}
	_, err := call("local")
	var le *llm.Error
	if !errors.As(err, &le) || le.Kind != llm.KindValidation || seen != nil {
		t.Errorf("other model with an unknown guardrail: err %v, model called %v", err, seen != nil)
	}
	// Switched off locally (Refuse), the upstream still guards its models.
	stage.Refuse = true
	if _, err := call("bedrock-guarded"); err != nil {
		t.Errorf("upstream-guarded model with local guardrails off: %v", err)
	}
	if _, err := call("local"); err == nil {
		t.Error("local model with guardrails off answered a guardrailConfig")
	}
}

// BenchmarkStageConverse measures what the stage adds to a Converse call
// whose prompt is 1 KiB and whose answer is 1 KiB, with the full guardrail
// of BenchmarkApplyGuardrail8K (input and output checked, sync mode).
func BenchmarkStageConverse(b *testing.B) {
	ctx := context.Background()
	reg := NewRegistry(storetest.SQLite(b), RegistryOptions{})
	g, err := reg.Create(ctx, fullDefinition())
	if err != nil {
		b.Fatal(err)
	}
	text := prompt8K()[:1024]
	answer := &llm.Response{Message: llm.Message{Role: llm.RoleAssistant, Content: []llm.Block{llm.TextBlock(text)}}, StopReason: llm.StopEndTurn}
	final := func(ctx context.Context, c *gateway.Call) (llm.Stream, error) { return llm.ResponseStream(answer), nil }
	for _, tc := range []struct {
		name   string
		stages []gateway.Stage
		cfg    *llm.GuardrailConfig
	}{
		{"none", nil, nil},
		{"guardrail", []gateway.Stage{&Stage{Resolver: reg}}, &llm.GuardrailConfig{ID: g.GuardrailID, Version: Draft}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			gw := gateway.New(gateway.Options{Stages: tc.stages, Final: final})
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				c := &gateway.Call{API: "bedrock", Op: "Converse", Request: &llm.Request{Model: "m",
					Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock(text)}}}, Guardrail: tc.cfg}}
				if _, err := gw.Converse(ctx, c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
