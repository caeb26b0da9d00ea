package kb_test

import (
	"context"
	"errors"
	"github.com/outcrop/outcrop/internal/sdktest"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagent"
	agtypes "github.com/aws/aws-sdk-go-v2/service/bedrockagent/types"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime/document"
	rttypes "github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime/types"
	"github.com/aws/smithy-go"

	"github.com/outcrop/outcrop/internal/embed"
	"github.com/outcrop/outcrop/internal/embed/bertgguf"
	"github.com/outcrop/outcrop/internal/embed/llamaembed"
	"github.com/outcrop/outcrop/internal/httpapi"
	"github.com/outcrop/outcrop/internal/jobs"
	"github.com/outcrop/outcrop/internal/kb"
	"github.com/outcrop/outcrop/internal/resource"
	"github.com/outcrop/outcrop/internal/store"
	"github.com/outcrop/outcrop/internal/testenv"
	"github.com/outcrop/outcrop/internal/vector"
)

var (
	engOnce sync.Once
	engine  *llamaembed.Engine
	engErr  error
)

// minilm returns the built-in embedding model, converted once per test binary.
func minilm(t *testing.T) *llamaembed.Engine {
	t.Helper()
	dir := testenv.EmbedModelDir(t)
	engOnce.Do(func() {
		tmp, err := os.MkdirTemp("", "kb-test-*")
		if err != nil {
			engErr = err
			return
		}
		p := filepath.Join(tmp, "minilm.gguf")
		if _, engErr = bertgguf.Convert(dir, p, "all-MiniLM-L6-v2"); engErr != nil {
			return
		}
		engine, engErr = llamaembed.New(llamaembed.Config{Path: p}, nil)
	})
	if engErr != nil {
		t.Fatal(engErr)
	}
	return engine
}

type env struct {
	queue jobs.Queue
	svc   *kb.Service
	url   string
	root  string
	agent *bedrockagent.Client
	rt    *bedrockagentruntime.Client
}

func newEnv(t *testing.T) *env { t.Helper(); return newEnvWith(t, true) }

// newEnvWith is newEnv whose job queue runs only if start (else the test
// starts e.queue).
func newEnvWith(t *testing.T, start bool) *env {
	t.Helper()
	ctx := context.Background()
	home := t.TempDir()
	db, err := store.Open(ctx, store.Options{DSN: filepath.Join(home, "outcrop.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	idx, err := vector.OpenEmbedded(filepath.Join(home, "vectors.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idx.Close() })
	reg, _ := embed.NewRegistry(&embed.Model{ID: "all-minilm-l6-v2", Aliases: []string{"amazon.titan-embed-text-v2:0"}, Embedder: minilm(t)})
	svc := &kb.Service{Store: resource.NewStore(db, resource.Scope{}, nil), Index: idx, Embeddings: reg, Root: filepath.Join(home, "kb-sources")}
	q, err := jobs.New(ctx, db, jobs.Options{Handlers: map[string]jobs.Handler{kb.JobKind: svc.RunJob}})
	if err != nil {
		t.Fatal(err)
	}
	if start {
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { q.Stop(context.Background()) })
	svc.Queue = q
	srv := httptest.NewServer(httpapi.New(httpapi.Deps{Embeddings: reg, Groups: []httpapi.RouteGroup{&httpapi.KnowledgeBases{Service: svc}, &httpapi.VectorStores{Service: svc}}}).Handler())
	t.Cleanup(srv.Close)
	creds := credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "SECRET", "")
	return &env{
		queue: q, svc: svc, url: srv.URL, root: svc.Root,
		agent: bedrockagent.New(bedrockagent.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: creds}),
		rt:    bedrockagentruntime.New(bedrockagentruntime.Options{HTTPClient: sdktest.HTTPClient(), Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: creds}),
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func errCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// ingest starts an ingestion job and waits for it to end.
func (e *env) ingest(t *testing.T, kbID, dsID string) *agtypes.IngestionJob {
	t.Helper()
	ctx := context.Background()
	out, err := e.agent.StartIngestionJob(ctx, &bedrockagent.StartIngestionJobInput{KnowledgeBaseId: aws.String(kbID), DataSourceId: aws.String(dsID)})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		got, err := e.agent.GetIngestionJob(ctx, &bedrockagent.GetIngestionJobInput{KnowledgeBaseId: aws.String(kbID), DataSourceId: aws.String(dsID), IngestionJobId: out.IngestionJob.IngestionJobId})
		if err != nil {
			t.Fatal(err)
		}
		if s := got.IngestionJob.Status; s == agtypes.IngestionJobStatusComplete || s == agtypes.IngestionJobStatusFailed {
			return got.IngestionJob
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("ingestion job did not end in 3 minutes")
	return nil
}

func TestKnowledgeBaseGoSDK(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	bucket := filepath.Join(e.root, "s3", "docs")
	write(t, filepath.Join(bucket, "handbook/security.md"), "# Password policy\n\nTo reset your password, open the account page and choose **Reset password**. Passwords expire every 90 days.")
	write(t, filepath.Join(bucket, "handbook/security.md.metadata.json"), `{"metadataAttributes":{"dept":"it","year":2024,"tags":["security","accounts"]}}`)
	write(t, filepath.Join(bucket, "handbook/travel.html"), "<html><body><h1>Travel</h1><p>Book flights through the travel portal at least two weeks ahead. Economy class for trips under six hours.</p></body></html>")
	write(t, filepath.Join(bucket, "handbook/travel.html.metadata.json"), `{"metadataAttributes":{"dept":"finance","year":2023}}`)
	write(t, filepath.Join(bucket, "reports/q3.pdf"), string(pdfFixture()))
	write(t, filepath.Join(bucket, "reports/q3.docx"), "not supported")

	kbOut, err := e.agent.CreateKnowledgeBase(ctx, &bedrockagent.CreateKnowledgeBaseInput{
		Name:    aws.String("handbook"),
		RoleArn: aws.String("arn:aws:iam::000000000000:role/kb"),
		KnowledgeBaseConfiguration: &agtypes.KnowledgeBaseConfiguration{
			Type: agtypes.KnowledgeBaseTypeVector,
			VectorKnowledgeBaseConfiguration: &agtypes.VectorKnowledgeBaseConfiguration{
				EmbeddingModelArn: aws.String("arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0"),
			},
		},
		StorageConfiguration: &agtypes.StorageConfiguration{Type: agtypes.KnowledgeBaseStorageTypeRds},
	})
	if err != nil {
		t.Fatal(err)
	}
	kbID := aws.ToString(kbOut.KnowledgeBase.KnowledgeBaseId)
	if kbOut.KnowledgeBase.Status != agtypes.KnowledgeBaseStatusActive || !strings.Contains(aws.ToString(kbOut.KnowledgeBase.KnowledgeBaseArn), ":knowledge-base/"+kbID) {
		t.Errorf("CreateKnowledgeBase = %+v", kbOut.KnowledgeBase)
	}
	dsOut, err := e.agent.CreateDataSource(ctx, &bedrockagent.CreateDataSourceInput{
		KnowledgeBaseId: aws.String(kbID),
		Name:            aws.String("docs"),
		DataSourceConfiguration: &agtypes.DataSourceConfiguration{
			Type:            agtypes.DataSourceTypeS3,
			S3Configuration: &agtypes.S3DataSourceConfiguration{BucketArn: aws.String("arn:aws:s3:::docs")},
		},
		VectorIngestionConfiguration: &agtypes.VectorIngestionConfiguration{ChunkingConfiguration: &agtypes.ChunkingConfiguration{
			ChunkingStrategy:               agtypes.ChunkingStrategyFixedSize,
			FixedSizeChunkingConfiguration: &agtypes.FixedSizeChunkingConfiguration{MaxTokens: aws.Int32(60), OverlapPercentage: aws.Int32(10)},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	dsID := aws.ToString(dsOut.DataSource.DataSourceId)

	job := e.ingest(t, kbID, dsID)
	st := job.Statistics
	if job.Status != agtypes.IngestionJobStatusComplete || st.NumberOfDocumentsScanned != 4 || st.NumberOfNewDocumentsIndexed != 3 ||
		st.NumberOfDocumentsFailed != 1 || st.NumberOfMetadataDocumentsScanned != 2 || len(job.FailureReasons) != 1 || !strings.Contains(job.FailureReasons[0], "q3.docx") {
		t.Fatalf("first ingestion: %s %+v %v", job.Status, *st, job.FailureReasons)
	}

	retrieve := func(q string, f rttypes.RetrievalFilter, search rttypes.SearchType) []rttypes.KnowledgeBaseRetrievalResult {
		t.Helper()
		out, err := e.rt.Retrieve(ctx, &bedrockagentruntime.RetrieveInput{
			KnowledgeBaseId: aws.String(kbID),
			RetrievalQuery:  &rttypes.KnowledgeBaseQuery{Text: aws.String(q)},
			RetrievalConfiguration: &rttypes.KnowledgeBaseRetrievalConfiguration{VectorSearchConfiguration: &rttypes.KnowledgeBaseVectorSearchConfiguration{
				NumberOfResults: aws.Int32(3), Filter: f, OverrideSearchType: search,
			}},
		})
		if err != nil {
			t.Fatalf("Retrieve(%q): %v", q, err)
		}
		return out.RetrievalResults
	}
	res := retrieve("How do I change my password?", nil, "")
	if len(res) == 0 || !strings.Contains(aws.ToString(res[0].Content.Text), "reset your password") || res[0].Location.S3Location == nil ||
		aws.ToString(res[0].Location.S3Location.Uri) != "s3://docs/handbook/security.md" {
		t.Fatalf("top result for the password question: %+v", res)
	}
	res = retrieve("quarterly revenue", nil, rttypes.SearchTypeHybrid)
	if len(res) == 0 || !strings.Contains(aws.ToString(res[0].Content.Text), "Revenue") {
		t.Errorf("hybrid: the PDF's text should come first: %+v", res)
	}
	// Filters: only finance documents; a list filter; a numeric one.
	for _, tc := range []struct {
		f    rttypes.RetrievalFilter
		want string
	}{
		{&rttypes.RetrievalFilterMemberEquals{Value: rttypes.FilterAttribute{Key: aws.String("dept"), Value: document.NewLazyDocument("finance")}}, "s3://docs/handbook/travel.html"},
		{&rttypes.RetrievalFilterMemberListContains{Value: rttypes.FilterAttribute{Key: aws.String("tags"), Value: document.NewLazyDocument("security")}}, "s3://docs/handbook/security.md"},
		{&rttypes.RetrievalFilterMemberAndAll{Value: []rttypes.RetrievalFilter{
			&rttypes.RetrievalFilterMemberGreaterThanOrEquals{Value: rttypes.FilterAttribute{Key: aws.String("year"), Value: document.NewLazyDocument(2024)}},
			&rttypes.RetrievalFilterMemberStartsWith{Value: rttypes.FilterAttribute{Key: aws.String("x-amz-bedrock-kb-source-uri"), Value: document.NewLazyDocument("s3://docs/handbook/")}},
		}}, "s3://docs/handbook/security.md"},
	} {
		res := retrieve("How do I change my password?", tc.f, "")
		if len(res) == 0 {
			t.Errorf("filter %T: no results", tc.f)
			continue
		}
		for _, r := range res {
			if got := aws.ToString(r.Location.S3Location.Uri); got != tc.want {
				t.Errorf("filter %T returned %s, want only %s", tc.f, got, tc.want)
			}
		}
	}

	// Incremental re-sync: one file changed, one deleted, one added.
	write(t, filepath.Join(bucket, "handbook/security.md"), "# Password policy\n\nPasswords are reset by the help desk on request, by phone.")
	os.Remove(filepath.Join(bucket, "handbook/travel.html"))
	os.Remove(filepath.Join(bucket, "handbook/travel.html.metadata.json"))
	write(t, filepath.Join(bucket, "handbook/holidays.txt"), "The office closes between Christmas and New Year.")
	job = e.ingest(t, kbID, dsID)
	st = job.Statistics
	if st.NumberOfModifiedDocumentsIndexed != 1 || st.NumberOfDocumentsDeleted != 1 || st.NumberOfNewDocumentsIndexed != 1 || st.NumberOfDocumentsFailed != 1 {
		t.Fatalf("re-sync statistics: %+v", *st)
	}
	res = retrieve("How do I change my password?", nil, "")
	for _, r := range res {
		if strings.Contains(aws.ToString(r.Content.Text), "account page") || strings.Contains(aws.ToString(r.Location.S3Location.Uri), "travel") {
			t.Errorf("stale content after re-sync: %+v", r)
		}
	}
	if len(res) == 0 || !strings.Contains(aws.ToString(res[0].Content.Text), "help desk") {
		t.Errorf("changed document not re-indexed: %+v", res)
	}

	// Listings and gets.
	lk, err := e.agent.ListKnowledgeBases(ctx, &bedrockagent.ListKnowledgeBasesInput{})
	if err != nil || len(lk.KnowledgeBaseSummaries) != 1 {
		t.Errorf("ListKnowledgeBases = %+v, %v", lk, err)
	}
	lj, err := e.agent.ListIngestionJobs(ctx, &bedrockagent.ListIngestionJobsInput{KnowledgeBaseId: aws.String(kbID), DataSourceId: aws.String(dsID)})
	if err != nil || len(lj.IngestionJobSummaries) != 2 {
		t.Errorf("ListIngestionJobs = %+v, %v", lj, err)
	}
	ld, err := e.agent.ListDataSources(ctx, &bedrockagent.ListDataSourcesInput{KnowledgeBaseId: aws.String(kbID)})
	if err != nil || len(ld.DataSourceSummaries) != 1 {
		t.Errorf("ListDataSources = %+v, %v", ld, err)
	}

	// Bad input gets Bedrock's error shapes.
	if _, err := e.agent.GetKnowledgeBase(ctx, &bedrockagent.GetKnowledgeBaseInput{KnowledgeBaseId: aws.String("ABCDEFGHIJ")}); errCode(err) != "ResourceNotFoundException" {
		t.Errorf("unknown knowledge base: %v", err)
	}
	_, err = e.agent.CreateDataSource(ctx, &bedrockagent.CreateDataSourceInput{KnowledgeBaseId: aws.String(kbID), Name: aws.String("bad"),
		DataSourceConfiguration: &agtypes.DataSourceConfiguration{Type: agtypes.DataSourceTypeS3, S3Configuration: &agtypes.S3DataSourceConfiguration{BucketArn: aws.String("arn:aws:s3:::docs")}},
		VectorIngestionConfiguration: &agtypes.VectorIngestionConfiguration{ChunkingConfiguration: &agtypes.ChunkingConfiguration{
			ChunkingStrategy: agtypes.ChunkingStrategyFixedSize, FixedSizeChunkingConfiguration: &agtypes.FixedSizeChunkingConfiguration{MaxTokens: aws.Int32(9000), OverlapPercentage: aws.Int32(10)}}}})
	if errCode(err) != "ValidationException" {
		t.Errorf("invalid chunking bounds: %v", err)
	}
	_, err = e.rt.Retrieve(ctx, &bedrockagentruntime.RetrieveInput{KnowledgeBaseId: aws.String(kbID), RetrievalQuery: &rttypes.KnowledgeBaseQuery{Text: aws.String("x")},
		RetrievalConfiguration: &rttypes.KnowledgeBaseRetrievalConfiguration{VectorSearchConfiguration: &rttypes.KnowledgeBaseVectorSearchConfiguration{
			Filter: &rttypes.RetrievalFilterMemberAndAll{Value: []rttypes.RetrievalFilter{&rttypes.RetrievalFilterMemberEquals{Value: rttypes.FilterAttribute{Key: aws.String("a"), Value: document.NewLazyDocument("b")}}}}}}})
	if errCode(err) != "ValidationException" {
		t.Errorf("andAll with one member: %v", err)
	}
	_, err = e.agent.CreateKnowledgeBase(ctx, &bedrockagent.CreateKnowledgeBaseInput{Name: aws.String("x"), RoleArn: aws.String("arn:aws:iam::000000000000:role/kb"),
		KnowledgeBaseConfiguration: &agtypes.KnowledgeBaseConfiguration{Type: agtypes.KnowledgeBaseTypeVector, VectorKnowledgeBaseConfiguration: &agtypes.VectorKnowledgeBaseConfiguration{EmbeddingModelArn: aws.String("arn:aws:bedrock:us-east-1::foundation-model/no-such-model")}}})
	if errCode(err) != "ValidationException" {
		t.Errorf("unknown embedding model: %v", err)
	}

	// Direct ingestion into a CUSTOM data source.
	cds, err := e.agent.CreateDataSource(ctx, &bedrockagent.CreateDataSourceInput{KnowledgeBaseId: aws.String(kbID), Name: aws.String("direct"),
		DataSourceConfiguration: &agtypes.DataSourceConfiguration{Type: agtypes.DataSourceTypeCustom}})
	if err != nil {
		t.Fatal(err)
	}
	ing, err := e.agent.IngestKnowledgeBaseDocuments(ctx, &bedrockagent.IngestKnowledgeBaseDocumentsInput{KnowledgeBaseId: aws.String(kbID), DataSourceId: cds.DataSource.DataSourceId,
		Documents: []agtypes.KnowledgeBaseDocument{{Content: &agtypes.DocumentContent{DataSourceType: agtypes.ContentDataSourceTypeCustom, Custom: &agtypes.CustomContent{
			CustomDocumentIdentifier: &agtypes.CustomDocumentIdentifier{Id: aws.String("note-1")}, SourceType: agtypes.CustomSourceTypeInLine,
			InlineContent: &agtypes.InlineContent{Type: agtypes.InlineContentTypeText, TextContent: &agtypes.TextContentDoc{Data: aws.String("The cafeteria serves vegetarian lunch on Fridays.")}}}},
			Metadata: &agtypes.DocumentMetadata{Type: agtypes.MetadataSourceTypeInLineAttribute, InlineAttributes: []agtypes.MetadataAttribute{{Key: aws.String("dept"), Value: &agtypes.MetadataAttributeValue{Type: agtypes.MetadataValueTypeString, StringValue: aws.String("facilities")}}}}}}})
	if err != nil || len(ing.DocumentDetails) != 1 || ing.DocumentDetails[0].Status != agtypes.DocumentStatusIndexed {
		t.Fatalf("IngestKnowledgeBaseDocuments = %+v, %v", ing, err)
	}
	res = retrieve("what is for lunch on friday", &rttypes.RetrievalFilterMemberEquals{Value: rttypes.FilterAttribute{Key: aws.String("dept"), Value: document.NewLazyDocument("facilities")}}, "")
	if len(res) != 1 || !strings.Contains(aws.ToString(res[0].Content.Text), "vegetarian") || res[0].Location.Type != rttypes.RetrievalResultLocationTypeCustom {
		t.Errorf("direct document: %+v", res)
	}

	if _, err := e.agent.DeleteKnowledgeBase(ctx, &bedrockagent.DeleteKnowledgeBaseInput{KnowledgeBaseId: aws.String(kbID)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.rt.Retrieve(ctx, &bedrockagentruntime.RetrieveInput{KnowledgeBaseId: aws.String(kbID), RetrievalQuery: &rttypes.KnowledgeBaseQuery{Text: aws.String("x")}}); errCode(err) != "ResourceNotFoundException" {
		t.Errorf("Retrieve after delete: %v", err)
	}
}
