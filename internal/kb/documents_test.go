package kb_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagent"
	agtypes "github.com/aws/aws-sdk-go-v2/service/bedrockagent/types"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime/document"
	rttypes "github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime/types"
)

func s3Doc(uri string) agtypes.DocumentIdentifier {
	return agtypes.DocumentIdentifier{DataSourceType: agtypes.ContentDataSourceTypeS3, S3: &agtypes.S3Location{Uri: aws.String(uri)}}
}

// TestDocumentsAndStopGoSDK drives StopIngestionJob and the document
// operations (List, Get, Delete, Ingest for S3 and CUSTOM documents) with
// aws-sdk-go-v2.
func TestDocumentsAndStopGoSDK(t *testing.T) {
	e := newEnvWith(t, false)
	ctx := context.Background()
	bucket := filepath.Join(e.root, "s3", "notes")
	for i := range 25 {
		write(t, filepath.Join(bucket, fmt.Sprintf("n%02d.md", i)), fmt.Sprintf("# Note %d\n\nThe meeting number %d discussed the %s budget for the coming quarter.", i, i, []string{"travel", "hardware", "training"}[i%3]))
	}
	write(t, filepath.Join(bucket, "n07.md.metadata.json"), `{"metadataAttributes":{"team":"red"}}`)
	kbOut, err := e.agent.CreateKnowledgeBase(ctx, &bedrockagent.CreateKnowledgeBaseInput{
		Name: aws.String("notes"), RoleArn: aws.String("arn:aws:iam::000000000000:role/kb"),
		KnowledgeBaseConfiguration: &agtypes.KnowledgeBaseConfiguration{Type: agtypes.KnowledgeBaseTypeVector,
			VectorKnowledgeBaseConfiguration: &agtypes.VectorKnowledgeBaseConfiguration{EmbeddingModelArn: aws.String("amazon.titan-embed-text-v2:0")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	kbID := kbOut.KnowledgeBase.KnowledgeBaseId
	dsOut, err := e.agent.CreateDataSource(ctx, &bedrockagent.CreateDataSourceInput{KnowledgeBaseId: kbID, Name: aws.String("notes"),
		DataSourceConfiguration: &agtypes.DataSourceConfiguration{Type: agtypes.DataSourceTypeS3, S3Configuration: &agtypes.S3DataSourceConfiguration{BucketArn: aws.String("arn:aws:s3:::notes")}}})
	if err != nil {
		t.Fatal(err)
	}
	dsID := dsOut.DataSource.DataSourceId

	// A job stopped before the runner picks it up ends STOPPED having
	// indexed nothing.
	start, err := e.agent.StartIngestionJob(ctx, &bedrockagent.StartIngestionJobInput{KnowledgeBaseId: kbID, DataSourceId: dsID})
	if err != nil {
		t.Fatal(err)
	}
	jobID := start.IngestionJob.IngestionJobId
	stop, err := e.agent.StopIngestionJob(ctx, &bedrockagent.StopIngestionJobInput{KnowledgeBaseId: kbID, DataSourceId: dsID, IngestionJobId: jobID})
	if err != nil || stop.IngestionJob.Status != agtypes.IngestionJobStatusStopping {
		t.Fatalf("StopIngestionJob = %+v, %v; want STOPPING", stop, err)
	}
	if err := e.queue.Start(ctx); err != nil {
		t.Fatal(err)
	}
	var job *agtypes.IngestionJob
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		got, err := e.agent.GetIngestionJob(ctx, &bedrockagent.GetIngestionJobInput{KnowledgeBaseId: kbID, DataSourceId: dsID, IngestionJobId: jobID})
		if err != nil {
			t.Fatal(err)
		}
		if job = got.IngestionJob; job.Status != agtypes.IngestionJobStatusStopping {
			break
		}
	}
	if job.Status != agtypes.IngestionJobStatusStopped || job.Statistics.NumberOfNewDocumentsIndexed != 0 {
		t.Fatalf("stopped job = %s %+v", job.Status, job.Statistics)
	}
	if _, err := e.agent.StopIngestionJob(ctx, &bedrockagent.StopIngestionJobInput{KnowledgeBaseId: kbID, DataSourceId: dsID, IngestionJobId: jobID}); errCode(err) != "ConflictException" {
		t.Errorf("stopping a stopped job: %v, want ConflictException", err)
	}
	if _, err := e.agent.StopIngestionJob(ctx, &bedrockagent.StopIngestionJobInput{KnowledgeBaseId: kbID, DataSourceId: dsID, IngestionJobId: aws.String("NOSUCHJOB1")}); errCode(err) != "ResourceNotFoundException" {
		t.Errorf("stopping an unknown job: %v, want ResourceNotFoundException", err)
	}
	list, err := e.agent.ListKnowledgeBaseDocuments(ctx, &bedrockagent.ListKnowledgeBaseDocumentsInput{KnowledgeBaseId: kbID, DataSourceId: dsID})
	if err != nil || len(list.DocumentDetails) != 0 {
		t.Fatalf("documents after a stopped job: %+v, %v", list, err)
	}

	if j := e.ingest(t, aws.ToString(kbID), aws.ToString(dsID)); j.Status != agtypes.IngestionJobStatusComplete || j.Statistics.NumberOfNewDocumentsIndexed != 25 {
		t.Fatalf("ingestion = %s %+v", j.Status, j.Statistics)
	}
	// Pages of 10 in URI order.
	var uris []string
	var token *string
	for page := 0; ; page++ {
		out, err := e.agent.ListKnowledgeBaseDocuments(ctx, &bedrockagent.ListKnowledgeBaseDocumentsInput{KnowledgeBaseId: kbID, DataSourceId: dsID, MaxResults: aws.Int32(10), NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range out.DocumentDetails {
			if d.Status != agtypes.DocumentStatusIndexed || d.Identifier.DataSourceType != agtypes.ContentDataSourceTypeS3 || aws.ToString(d.DataSourceId) != aws.ToString(dsID) {
				t.Errorf("document detail %+v", d)
			}
			uris = append(uris, aws.ToString(d.Identifier.S3.Uri))
		}
		if token = out.NextToken; token == nil {
			break
		}
		if page > 3 {
			t.Fatal("more pages than documents")
		}
	}
	if len(uris) != 25 || !slices.IsSorted(uris) || uris[0] != "s3://notes/n00.md" {
		t.Fatalf("listed %d documents: %v", len(uris), uris)
	}

	const victim = "s3://notes/n07.md"
	get := func(uri string) agtypes.DocumentStatus {
		t.Helper()
		out, err := e.agent.GetKnowledgeBaseDocuments(ctx, &bedrockagent.GetKnowledgeBaseDocumentsInput{KnowledgeBaseId: kbID, DataSourceId: dsID, DocumentIdentifiers: []agtypes.DocumentIdentifier{s3Doc(uri)}})
		if err != nil || len(out.DocumentDetails) != 1 {
			t.Fatalf("GetKnowledgeBaseDocuments(%s) = %+v, %v", uri, out, err)
		}
		return out.DocumentDetails[0].Status
	}
	if st := get(victim); st != agtypes.DocumentStatusIndexed {
		t.Errorf("status of %s = %s", victim, st)
	}
	if st := get("s3://notes/missing.md"); st != agtypes.DocumentStatusNotFound {
		t.Errorf("status of a missing document = %s", st)
	}
	hitsOf := func(uri string) int {
		t.Helper()
		out, err := e.rt.Retrieve(ctx, &bedrockagentruntime.RetrieveInput{KnowledgeBaseId: kbID, RetrievalQuery: &rttypes.KnowledgeBaseQuery{Text: aws.String("meeting budget")},
			RetrievalConfiguration: &rttypes.KnowledgeBaseRetrievalConfiguration{VectorSearchConfiguration: &rttypes.KnowledgeBaseVectorSearchConfiguration{
				NumberOfResults: aws.Int32(5), Filter: &rttypes.RetrievalFilterMemberEquals{Value: rttypes.FilterAttribute{Key: aws.String("x-amz-bedrock-kb-source-uri"), Value: document.NewLazyDocument(uri)}}}}})
		if err != nil {
			t.Fatal(err)
		}
		return len(out.RetrievalResults)
	}
	if hitsOf(victim) != 1 {
		t.Fatalf("%s not retrievable before deletion", victim)
	}
	del, err := e.agent.DeleteKnowledgeBaseDocuments(ctx, &bedrockagent.DeleteKnowledgeBaseDocumentsInput{KnowledgeBaseId: kbID, DataSourceId: dsID, DocumentIdentifiers: []agtypes.DocumentIdentifier{s3Doc(victim)}})
	if err != nil || len(del.DocumentDetails) != 1 || del.DocumentDetails[0].Status != agtypes.DocumentStatusDeleting {
		t.Fatalf("DeleteKnowledgeBaseDocuments = %+v, %v", del, err)
	}
	if st := get(victim); st != agtypes.DocumentStatusNotFound || hitsOf(victim) != 0 {
		t.Errorf("after deletion: status %s, %d hits", st, hitsOf(victim))
	}
	// Direct ingestion of an S3 document reads it (and its sidecar) from the bucket.
	ing, err := e.agent.IngestKnowledgeBaseDocuments(ctx, &bedrockagent.IngestKnowledgeBaseDocumentsInput{KnowledgeBaseId: kbID, DataSourceId: dsID, Documents: []agtypes.KnowledgeBaseDocument{
		{Content: &agtypes.DocumentContent{DataSourceType: agtypes.ContentDataSourceTypeS3, S3: &agtypes.S3Content{S3Location: &agtypes.S3Location{Uri: aws.String(victim)}}}},
		{Content: &agtypes.DocumentContent{DataSourceType: agtypes.ContentDataSourceTypeS3, S3: &agtypes.S3Content{S3Location: &agtypes.S3Location{Uri: aws.String("s3://other/n01.md")}}}},
	}})
	if err != nil || len(ing.DocumentDetails) != 2 || ing.DocumentDetails[0].Status != agtypes.DocumentStatusIndexed || ing.DocumentDetails[1].Status != agtypes.DocumentStatusFailed {
		t.Fatalf("IngestKnowledgeBaseDocuments (S3) = %+v, %v", ing, err)
	}
	if st := get(victim); st != agtypes.DocumentStatusIndexed || hitsOf(victim) != 1 {
		t.Errorf("after re-ingestion: status %s, %d hits", st, hitsOf(victim))
	}
	out, err := e.rt.Retrieve(ctx, &bedrockagentruntime.RetrieveInput{KnowledgeBaseId: kbID, RetrievalQuery: &rttypes.KnowledgeBaseQuery{Text: aws.String("meeting")},
		RetrievalConfiguration: &rttypes.KnowledgeBaseRetrievalConfiguration{VectorSearchConfiguration: &rttypes.KnowledgeBaseVectorSearchConfiguration{
			Filter: &rttypes.RetrievalFilterMemberEquals{Value: rttypes.FilterAttribute{Key: aws.String("team"), Value: document.NewLazyDocument("red")}}}}})
	if err != nil || len(out.RetrievalResults) != 1 {
		t.Errorf("the re-ingested document's sidecar metadata: %+v, %v", out, err)
	}

	// Bad input.
	eleven := make([]agtypes.DocumentIdentifier, 11)
	for i := range eleven {
		eleven[i] = s3Doc(fmt.Sprintf("s3://notes/n%02d.md", i))
	}
	if _, err := e.agent.GetKnowledgeBaseDocuments(ctx, &bedrockagent.GetKnowledgeBaseDocumentsInput{KnowledgeBaseId: kbID, DataSourceId: dsID, DocumentIdentifiers: eleven}); errCode(err) != "ValidationException" {
		t.Errorf("11 identifiers: %v", err)
	}
	if _, err := e.agent.ListKnowledgeBaseDocuments(ctx, &bedrockagent.ListKnowledgeBaseDocumentsInput{KnowledgeBaseId: kbID, DataSourceId: dsID, NextToken: aws.String("!!")}); errCode(err) != "ValidationException" {
		t.Errorf("bad nextToken: %v", err)
	}
	if _, err := e.agent.DeleteKnowledgeBaseDocuments(ctx, &bedrockagent.DeleteKnowledgeBaseDocumentsInput{KnowledgeBaseId: kbID, DataSourceId: aws.String("NOSUCHDS01"), DocumentIdentifiers: []agtypes.DocumentIdentifier{s3Doc(victim)}}); errCode(err) != "ResourceNotFoundException" {
		t.Errorf("unknown data source: %v", err)
	}

	// CUSTOM documents: ingest, list, delete.
	cds, err := e.agent.CreateDataSource(ctx, &bedrockagent.CreateDataSourceInput{KnowledgeBaseId: kbID, Name: aws.String("custom"),
		DataSourceConfiguration: &agtypes.DataSourceConfiguration{Type: agtypes.DataSourceTypeCustom}})
	if err != nil {
		t.Fatal(err)
	}
	custom := agtypes.DocumentIdentifier{DataSourceType: agtypes.ContentDataSourceTypeCustom, Custom: &agtypes.CustomDocumentIdentifier{Id: aws.String("memo-1")}}
	if _, err := e.agent.IngestKnowledgeBaseDocuments(ctx, &bedrockagent.IngestKnowledgeBaseDocumentsInput{KnowledgeBaseId: kbID, DataSourceId: cds.DataSource.DataSourceId, Documents: []agtypes.KnowledgeBaseDocument{{
		Content: &agtypes.DocumentContent{DataSourceType: agtypes.ContentDataSourceTypeCustom, Custom: &agtypes.CustomContent{
			CustomDocumentIdentifier: custom.Custom, SourceType: agtypes.CustomSourceTypeInLine,
			InlineContent: &agtypes.InlineContent{Type: agtypes.InlineContentTypeText, TextContent: &agtypes.TextContentDoc{Data: aws.String("A memo about the hardware budget.")}}}}}}}); err != nil {
		t.Fatal(err)
	}
	cl, err := e.agent.ListKnowledgeBaseDocuments(ctx, &bedrockagent.ListKnowledgeBaseDocumentsInput{KnowledgeBaseId: kbID, DataSourceId: cds.DataSource.DataSourceId})
	if err != nil || len(cl.DocumentDetails) != 1 || aws.ToString(cl.DocumentDetails[0].Identifier.Custom.Id) != "memo-1" {
		t.Fatalf("custom documents = %+v, %v", cl, err)
	}
	if _, err := e.agent.DeleteKnowledgeBaseDocuments(ctx, &bedrockagent.DeleteKnowledgeBaseDocumentsInput{KnowledgeBaseId: kbID, DataSourceId: cds.DataSource.DataSourceId, DocumentIdentifiers: []agtypes.DocumentIdentifier{custom}}); err != nil {
		t.Fatal(err)
	}
	if g, err := e.agent.GetKnowledgeBaseDocuments(ctx, &bedrockagent.GetKnowledgeBaseDocumentsInput{KnowledgeBaseId: kbID, DataSourceId: cds.DataSource.DataSourceId, DocumentIdentifiers: []agtypes.DocumentIdentifier{custom}}); err != nil || g.DocumentDetails[0].Status != agtypes.DocumentStatusNotFound {
		t.Errorf("custom document after deletion: %+v, %v", g, err)
	}
}
