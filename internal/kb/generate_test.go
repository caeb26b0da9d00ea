package kb_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagent"
	agtypes "github.com/aws/aws-sdk-go-v2/service/bedrockagent/types"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime"
	rttypes "github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime/types"

	"github.com/outcrop/outcrop/internal/gateway"
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
	e.svc.Models = gateway.New(gateway.Options{Final: router.Route})

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
