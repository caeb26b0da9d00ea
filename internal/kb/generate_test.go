package kb_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagent"
	agtypes "github.com/aws/aws-sdk-go-v2/service/bedrockagent/types"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime"
	rttypes "github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime/types"

	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/guardrail"
	"github.com/outcrop/outcrop/internal/provider/local"
	"github.com/outcrop/outcrop/internal/routing"
	"github.com/outcrop/outcrop/internal/testenv"
)

// TestRetrieveAndGenerateGoSDK answers with the built-in chat model
// (SmolLM2-135M through a real gateway and router) over a knowledge base,
// then follows up in the same session.
func TestRetrieveAndGenerateGoSDK(t *testing.T) {
	path := testenv.GGUF(t)
	e := newEnv(t)
	ctx := context.Background()
	eng, err := local.New(ctx, local.Config{Path: path, Name: "smollm2", Slots: 1}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	router := routing.New([]*routing.Model{{ID: "smollm2", Deployments: []*routing.Deployment{{Name: "local-0", Provider: eng, Type: "local", Weight: 1}}}})
	// The guardrail stage acts only on calls that name a guardrail.
	guards := guardrail.NewRegistry(e.svc.Store.DB(), guardrail.RegistryOptions{})
	gr, err := guards.Create(ctx, &guardrail.Definition{Name: "nofalcon", BlockedInputMessaging: "Sorry, input blocked.", BlockedOutputsMessaging: "Sorry, output blocked.",
		WordPolicyConfig: &guardrail.WordPolicyConfig{WordsConfig: []guardrail.Word{{Text: "Project Falcon"}}}})
	if err != nil {
		t.Fatal(err)
	}
	e.svc.Models = gateway.New(gateway.Options{Stages: []gateway.Stage{&guardrail.Stage{Resolver: guards}}, Final: router.Route})

	bucket := filepath.Join(e.root, "s3", "faq")
	write(t, filepath.Join(bucket, "office.md"), "The office opens at 8 am. The office closes at 6 pm. Parking is free for employees in the north garage.")
	kbOut, err := e.agent.CreateKnowledgeBase(ctx, &bedrockagent.CreateKnowledgeBaseInput{Name: aws.String("faq"), RoleArn: aws.String("arn:aws:iam::000000000000:role/kb"),
		KnowledgeBaseConfiguration: &agtypes.KnowledgeBaseConfiguration{Type: agtypes.KnowledgeBaseTypeVector,
			VectorKnowledgeBaseConfiguration: &agtypes.VectorKnowledgeBaseConfiguration{EmbeddingModelArn: aws.String("all-minilm-l6-v2")}}})
	if err != nil {
		t.Fatal(err)
	}
	kbID := kbOut.KnowledgeBase.KnowledgeBaseId
	ds, err := e.agent.CreateDataSource(ctx, &bedrockagent.CreateDataSourceInput{KnowledgeBaseId: kbID, Name: aws.String("faq"),
		DataSourceConfiguration: &agtypes.DataSourceConfiguration{Type: agtypes.DataSourceTypeS3, S3Configuration: &agtypes.S3DataSourceConfiguration{BucketArn: aws.String("arn:aws:s3:::faq")}}})
	if err != nil {
		t.Fatal(err)
	}
	if j := e.ingest(t, aws.ToString(kbID), aws.ToString(ds.DataSource.DataSourceId)); j.Statistics.NumberOfNewDocumentsIndexed != 1 {
		t.Fatalf("ingestion: %+v", j.Statistics)
	}
	ask := func(q string, session *string) *bedrockagentruntime.RetrieveAndGenerateOutput {
		t.Helper()
		out, err := e.rt.RetrieveAndGenerate(ctx, &bedrockagentruntime.RetrieveAndGenerateInput{
			Input:     &rttypes.RetrieveAndGenerateInput{Text: aws.String(q)},
			SessionId: session,
			RetrieveAndGenerateConfiguration: &rttypes.RetrieveAndGenerateConfiguration{Type: rttypes.RetrieveAndGenerateTypeKnowledgeBase,
				KnowledgeBaseConfiguration: &rttypes.KnowledgeBaseRetrieveAndGenerateConfiguration{KnowledgeBaseId: kbID, ModelArn: aws.String("smollm2"),
					GenerationConfiguration: &rttypes.GenerationConfiguration{
						PromptTemplate:  &rttypes.PromptTemplate{TextPromptTemplate: aws.String("Answer from these notes, repeating their words.\n$search_results$\nQuestion: $query$")},
						InferenceConfig: &rttypes.InferenceConfig{TextInferenceConfig: &rttypes.TextInferenceConfig{MaxTokens: aws.Int32(60), Temperature: aws.Float32(0)}}}}},
		})
		if err != nil {
			t.Fatalf("RetrieveAndGenerate(%q): %v", q, err)
		}
		return out
	}
	out := ask("When does the office open and close?", nil)
	text := aws.ToString(out.Output.Text)
	if text == "" || aws.ToString(out.SessionId) == "" {
		t.Fatalf("answer %q, session %q", text, aws.ToString(out.SessionId))
	}
	t.Logf("answer: %q, %d citations", text, len(out.Citations))
	for _, c := range out.Citations {
		p := c.GeneratedResponsePart.TextResponsePart
		start, end := int(aws.ToInt32(p.Span.Start)), int(aws.ToInt32(p.Span.End))
		runes := []rune(text)
		if start < 0 || end >= len(runes) || string(runes[start:end+1]) != aws.ToString(p.Text) {
			t.Errorf("citation span [%d,%d] does not cover %q in %q", start, end, aws.ToString(p.Text), text)
		}
		if len(c.RetrievedReferences) == 0 || !strings.Contains(aws.ToString(c.RetrievedReferences[0].Content.Text), "office") {
			t.Errorf("citation without the office passage: %+v", c.RetrievedReferences)
		}
	}
	// A follow-up in the same session keeps the session id.
	out2 := ask("And where can employees park?", out.SessionId)
	if aws.ToString(out2.SessionId) != aws.ToString(out.SessionId) || aws.ToString(out2.Output.Text) == "" {
		t.Errorf("follow-up: session %q, answer %q", aws.ToString(out2.SessionId), aws.ToString(out2.Output.Text))
	}
	// RetrieveAndGenerateStream with aws-sdk-go-v2: output events that add
	// up to the answer, citations whose spans cover it, the session id.
	streamAsk := func(q string, session *string) (string, string, []rttypes.CitationEvent) {
		t.Helper()
		out, err := e.rt.RetrieveAndGenerateStream(ctx, &bedrockagentruntime.RetrieveAndGenerateStreamInput{
			Input:     &rttypes.RetrieveAndGenerateInput{Text: aws.String(q)},
			SessionId: session,
			RetrieveAndGenerateConfiguration: &rttypes.RetrieveAndGenerateConfiguration{Type: rttypes.RetrieveAndGenerateTypeKnowledgeBase,
				KnowledgeBaseConfiguration: &rttypes.KnowledgeBaseRetrieveAndGenerateConfiguration{KnowledgeBaseId: kbID, ModelArn: aws.String("smollm2"),
					GenerationConfiguration: &rttypes.GenerationConfiguration{
						PromptTemplate:  &rttypes.PromptTemplate{TextPromptTemplate: aws.String("Answer from these notes, repeating their words.\n$search_results$\nQuestion: $query$")},
						InferenceConfig: &rttypes.InferenceConfig{TextInferenceConfig: &rttypes.TextInferenceConfig{MaxTokens: aws.Int32(60), Temperature: aws.Float32(0)}}}}},
		})
		if err != nil {
			t.Fatalf("RetrieveAndGenerateStream(%q): %v", q, err)
		}
		st := out.GetStream()
		defer st.Close()
		var text strings.Builder
		var cites []rttypes.CitationEvent
		outputs := 0
		for ev := range st.Events() {
			switch v := ev.(type) {
			case *rttypes.RetrieveAndGenerateStreamResponseOutputMemberOutput:
				text.WriteString(aws.ToString(v.Value.Text))
				outputs++
			case *rttypes.RetrieveAndGenerateStreamResponseOutputMemberCitation:
				cites = append(cites, v.Value)
			case *rttypes.RetrieveAndGenerateStreamResponseOutputMemberGuardrail:
				t.Errorf("guardrail event %+v without a guardrail", v.Value)
			}
		}
		if err := st.Err(); err != nil {
			t.Fatalf("stream: %v", err)
		}
		if outputs < 2 {
			t.Errorf("%d output events: the answer was not streamed", outputs)
		}
		return aws.ToString(out.SessionId), text.String(), cites
	}
	sid, stext, scites := streamAsk("When does the office open and close?", nil)
	if sid == "" || stext == "" {
		t.Fatalf("stream: session %q, answer %q", sid, stext)
	}
	t.Logf("streamed answer: %q, %d citations", stext, len(scites))
	if stext != text {
		t.Errorf("streamed answer %q differs from the unary one %q (temperature 0, same prompt)", stext, text)
	}
	if len(scites) != len(out.Citations) {
		t.Errorf("stream gave %d citations, the unary call %d", len(scites), len(out.Citations))
	}
	for _, c := range scites {
		p := c.GeneratedResponsePart.TextResponsePart
		start, end := int(aws.ToInt32(p.Span.Start)), int(aws.ToInt32(p.Span.End))
		runes := []rune(stext)
		if start < 0 || end >= len(runes) || string(runes[start:end+1]) != aws.ToString(p.Text) || len(c.RetrievedReferences) == 0 {
			t.Errorf("stream citation span [%d,%d] does not cover %q in %q", start, end, aws.ToString(p.Text), stext)
		}
	}
	if sid2, t2, _ := streamAsk("And where can employees park?", aws.String(sid)); sid2 != sid || t2 == "" {
		t.Errorf("stream follow-up: session %q (want %q), answer %q", sid2, sid, t2)
	}

	// A guardrail that blocks the question: the stream carries its message
	// and a guardrail event.
	gout, err := e.rt.RetrieveAndGenerateStream(ctx, &bedrockagentruntime.RetrieveAndGenerateStreamInput{
		Input: &rttypes.RetrieveAndGenerateInput{Text: aws.String("Is Project Falcon parked in the north garage?")},
		RetrieveAndGenerateConfiguration: &rttypes.RetrieveAndGenerateConfiguration{Type: rttypes.RetrieveAndGenerateTypeKnowledgeBase,
			KnowledgeBaseConfiguration: &rttypes.KnowledgeBaseRetrieveAndGenerateConfiguration{KnowledgeBaseId: kbID, ModelArn: aws.String("smollm2"),
				GenerationConfiguration: &rttypes.GenerationConfiguration{GuardrailConfiguration: &rttypes.GuardrailConfiguration{
					GuardrailId: aws.String(gr.GuardrailID), GuardrailVersion: aws.String("DRAFT")}}}},
	})
	if err != nil {
		t.Fatalf("RetrieveAndGenerateStream with a guardrail: %v", err)
	}
	var blocked strings.Builder
	var action rttypes.GuadrailAction
	for ev := range gout.GetStream().Events() {
		switch v := ev.(type) {
		case *rttypes.RetrieveAndGenerateStreamResponseOutputMemberOutput:
			blocked.WriteString(aws.ToString(v.Value.Text))
		case *rttypes.RetrieveAndGenerateStreamResponseOutputMemberGuardrail:
			action = v.Value.Action
		}
	}
	gout.GetStream().Close()
	if err := gout.GetStream().Err(); err != nil || blocked.String() != "Sorry, input blocked." || action != rttypes.GuadrailActionIntervened {
		t.Errorf("guarded stream: text %q, guardrail action %q, err %v", blocked.String(), action, err)
	}

	// The same with boto3.
	if py := os.Getenv("OUTCROP_TEST_PYTHON"); py != "" || os.Getenv("OUTCROP_TEST_REQUIRE") == "1" {
		py = testenv.Python(t)
		wd, _ := os.Getwd()
		cmd := exec.Command(py, filepath.Join(wd, "..", "..", "test", "interop", "python", "kb_generate_stream.py"))
		cmd.Env = append(os.Environ(), "OUTCROP_URL="+e.url, "KB_ID="+aws.ToString(kbID), "MODEL=smollm2")
		raw, err := cmd.Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				t.Fatalf("kb_generate_stream.py: %v\n%s", err, ee.Stderr)
			}
			t.Fatal(err)
		}
		type turn struct {
			SessionID string   `json:"sessionId"`
			Events    []string `json:"events"`
			Text      string   `json:"text"`
			Citations []struct {
				Text  string   `json:"text"`
				Start int      `json:"start"`
				End   int      `json:"end"`
				Refs  []string `json:"refs"`
			} `json:"citations"`
		}
		var got struct {
			First, FollowUp turn
			Missing         string
		}
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatalf("%v: %s", err, raw)
		}
		if got.First.SessionID == "" || got.First.Text != stext || got.FollowUp.SessionID != got.First.SessionID || got.FollowUp.Text == "" {
			t.Errorf("boto3 stream: first %+v, follow-up %+v (Go SDK answer %q)", got.First, got.FollowUp, stext)
		}
		if n := len(got.First.Events); n < 2 || got.First.Events[0] != "output" {
			t.Errorf("boto3 events %v", got.First.Events)
		}
		if len(got.First.Citations) != len(scites) {
			t.Errorf("boto3 saw %d citations, the Go SDK %d", len(got.First.Citations), len(scites))
		}
		if got.Missing != "ResourceNotFoundException" {
			t.Errorf("boto3 stream on an unknown knowledge base: %q", got.Missing)
		}
	}

	// Unknown session and bad configuration are client errors.
	_, err = e.rt.RetrieveAndGenerate(ctx, &bedrockagentruntime.RetrieveAndGenerateInput{Input: &rttypes.RetrieveAndGenerateInput{Text: aws.String("x")}, SessionId: aws.String("NOSUCHSESS"),
		RetrieveAndGenerateConfiguration: &rttypes.RetrieveAndGenerateConfiguration{Type: rttypes.RetrieveAndGenerateTypeKnowledgeBase,
			KnowledgeBaseConfiguration: &rttypes.KnowledgeBaseRetrieveAndGenerateConfiguration{KnowledgeBaseId: kbID, ModelArn: aws.String("smollm2")}}})
	if errCode(err) != "ResourceNotFoundException" {
		t.Errorf("unknown session: %v", err)
	}
	_, err = e.rt.RetrieveAndGenerate(ctx, &bedrockagentruntime.RetrieveAndGenerateInput{Input: &rttypes.RetrieveAndGenerateInput{Text: aws.String("x")},
		RetrieveAndGenerateConfiguration: &rttypes.RetrieveAndGenerateConfiguration{Type: rttypes.RetrieveAndGenerateTypeKnowledgeBase,
			KnowledgeBaseConfiguration: &rttypes.KnowledgeBaseRetrieveAndGenerateConfiguration{KnowledgeBaseId: kbID, ModelArn: aws.String("smollm2"),
				GenerationConfiguration: &rttypes.GenerationConfiguration{PromptTemplate: &rttypes.PromptTemplate{TextPromptTemplate: aws.String("no placeholder")}}}}})
	if errCode(err) != "ValidationException" {
		t.Errorf("template without $search_results$: %v", err)
	}
}
