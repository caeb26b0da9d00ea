package kb

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/outcrop/outcrop/internal/resource"
	"github.com/outcrop/outcrop/internal/store"
)

// Document operations of bedrock-agent beside IngestKnowledgeBaseDocuments:
// GetKnowledgeBaseDocuments, ListKnowledgeBaseDocuments and
// DeleteKnowledgeBaseDocuments, over the documents an ingestion job or a
// direct ingestion recorded in kb_documents, and StopIngestionJob.

// DocumentIdentifier is Bedrock's DocumentIdentifier: a CUSTOM document's
// id or an S3 document's URI.
type DocumentIdentifier struct {
	DataSourceType string `json:"dataSourceType"`
	Custom         *struct {
		ID string `json:"id"`
	} `json:"custom,omitempty"`
	S3 *struct {
		URI string `json:"uri"`
	} `json:"s3,omitempty"`
}

// uri is the kb_documents key of the identified document.
func (d DocumentIdentifier) uri(field string) (string, error) {
	switch d.DataSourceType {
	case "CUSTOM":
		if d.Custom == nil || d.Custom.ID == "" || len(d.Custom.ID) > 2048 {
			return "", resource.Invalid(field+".custom.id", "Member must have length between 1 and 2048")
		}
		return d.Custom.ID, nil
	case "S3":
		if d.S3 == nil || !strings.HasPrefix(d.S3.URI, "s3://") || len(d.S3.URI) > 1024 {
			return "", resource.Invalid(field+".s3.uri", "Member must satisfy regular expression pattern: s3://.{1,128}")
		}
		return d.S3.URI, nil
	}
	return "", resource.Invalid(field+".dataSourceType", "Member must satisfy enum value set: [CUSTOM, S3]")
}

// identifierOf is the DocumentIdentifier of a recorded URI.
func identifierOf(uri string) map[string]any {
	if strings.HasPrefix(uri, "s3://") {
		return map[string]any{"dataSourceType": "S3", "s3": map[string]string{"uri": uri}}
	}
	return map[string]any{"dataSourceType": "CUSTOM", "custom": map[string]string{"id": uri}}
}

func checkIdentifiers(ids []DocumentIdentifier) ([]string, error) {
	if len(ids) < 1 || len(ids) > 10 {
		return nil, resource.Invalid("documentIdentifiers", "Member must have length between 1 and 10")
	}
	uris := make([]string, len(ids))
	for i, d := range ids {
		u, err := d.uri(fmt.Sprintf("documentIdentifiers.%d", i+1))
		if err != nil {
			return nil, err
		}
		uris[i] = u
	}
	return uris, nil
}

// GetDocuments returns the status of up to 10 documents of a data source;
// a document never ingested (or deleted) is NOT_FOUND.
func (s *Service) GetDocuments(ctx context.Context, kbIdent, dsID string, ids []DocumentIdentifier) ([]DocumentDetail, error) {
	uris, err := checkIdentifiers(ids)
	if err != nil {
		return nil, err
	}
	ds, err := s.GetDataSource(ctx, kbIdent, dsID)
	if err != nil {
		return nil, err
	}
	acct := s.account(ctx)
	out := make([]DocumentDetail, len(uris))
	for i, uri := range uris {
		det := DocumentDetail{KnowledgeBaseID: ds.KnowledgeBaseID, DataSourceID: ds.DataSourceID, Identifier: identifierOf(uri), Status: "NOT_FOUND"}
		var status, updated string
		err := s.Store.DB().QueryRow(ctx, `SELECT status, updated_at FROM kb_documents WHERE account = ? AND kb_id = ? AND ds_id = ? AND uri = ?`,
			[]any{acct, ds.KnowledgeBaseID, ds.DataSourceID, uri}, &status, &updated)
		switch {
		case err == nil:
			det.Status = status
			det.UpdatedAt, _ = time.Parse(time.RFC3339Nano, updated)
		case !errors.Is(err, store.ErrNotFound):
			return nil, err
		}
		out[i] = det
	}
	return out, nil
}

// ListDocuments lists a data source's documents in URI order, at most
// maxResults (1..1000, default 1000) per page.
func (s *Service) ListDocuments(ctx context.Context, kbIdent, dsID string, maxResults int, nextToken string) ([]DocumentDetail, string, error) {
	if maxResults == 0 {
		maxResults = 1000
	}
	if maxResults < 1 || maxResults > 1000 {
		return nil, "", resource.Invalid("maxResults", "Member must have value between 1 and 1000")
	}
	after := ""
	if nextToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(nextToken)
		if err != nil || len(b) == 0 {
			return nil, "", resource.Invalidf("The nextToken is not valid.")
		}
		after = string(b)
	}
	ds, err := s.GetDataSource(ctx, kbIdent, dsID)
	if err != nil {
		return nil, "", err
	}
	rows, err := s.Store.DB().Query(ctx, `SELECT uri, status, updated_at FROM kb_documents WHERE account = ? AND kb_id = ? AND ds_id = ? AND uri > ? ORDER BY uri LIMIT ?`,
		s.account(ctx), ds.KnowledgeBaseID, ds.DataSourceID, after, maxResults+1)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	var out []DocumentDetail
	for rows.Next() {
		var uri, status, updated string
		if err := rows.Scan(&uri, &status, &updated); err != nil {
			return nil, "", err
		}
		t, _ := time.Parse(time.RFC3339Nano, updated)
		out = append(out, DocumentDetail{KnowledgeBaseID: ds.KnowledgeBaseID, DataSourceID: ds.DataSourceID, Identifier: identifierOf(uri), Status: status, UpdatedAt: t})
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > maxResults {
		out = out[:maxResults]
		last := out[len(out)-1].Identifier.(map[string]any)
		next = base64.RawURLEncoding.EncodeToString([]byte(uriOfIdentifier(last)))
	}
	return out, next, nil
}

func uriOfIdentifier(m map[string]any) string {
	if s3, ok := m["s3"].(map[string]string); ok {
		return s3["uri"]
	}
	return m["custom"].(map[string]string)["id"]
}

// DeleteDocuments removes up to 10 documents of a data source from the
// index and the document records. Each is reported DELETING, as Bedrock
// does; the deletion is done when the call returns (GetKnowledgeBaseDocuments
// then says NOT_FOUND). A file still in an S3 data source's folder comes
// back with the next ingestion job, as in Bedrock.
func (s *Service) DeleteDocuments(ctx context.Context, kbIdent, dsID string, ids []DocumentIdentifier) ([]DocumentDetail, error) {
	uris, err := checkIdentifiers(ids)
	if err != nil {
		return nil, err
	}
	ds, err := s.GetDataSource(ctx, kbIdent, dsID)
	if err != nil {
		return nil, err
	}
	acct := s.account(ctx)
	out := make([]DocumentDetail, len(uris))
	for i, uri := range uris {
		if _, err := s.Index.DeleteDocument(ctx, collection(acct, ds.KnowledgeBaseID), docID(ds.DataSourceID, uri)); err != nil {
			return nil, err
		}
		if _, err := s.Store.DB().Exec(ctx, `DELETE FROM kb_documents WHERE account = ? AND kb_id = ? AND ds_id = ? AND uri = ?`, acct, ds.KnowledgeBaseID, ds.DataSourceID, uri); err != nil {
			return nil, err
		}
		out[i] = DocumentDetail{KnowledgeBaseID: ds.KnowledgeBaseID, DataSourceID: ds.DataSourceID, Identifier: identifierOf(uri), Status: "DELETING", UpdatedAt: s.Store.Now()}
	}
	return out, nil
}

// readS3Document reads an S3 document of ds from its folder, with its
// sidecar; the URI must name a file in the data source's bucket.
func (s *Service) readS3Document(ds *DataSource, uri string) (data, sidecar []byte, path string, err error) {
	dir, err := s.bucketDir(ds)
	if err != nil {
		return nil, nil, "", err
	}
	bucket := strings.TrimPrefix(ds.DataSourceConfiguration.S3Configuration.BucketArn, "arn:aws:s3:::")
	rel, ok := strings.CutPrefix(uri, "s3://"+bucket+"/")
	if !ok || rel == "" || strings.Contains(rel, "..") || strings.HasPrefix(rel, "/") {
		return nil, nil, "", fmt.Errorf("%s is not a document of the bucket %s", uri, bucket)
	}
	path = filepath.Join(dir, filepath.FromSlash(rel))
	st, err := os.Stat(path)
	if err != nil {
		return nil, nil, "", fmt.Errorf("%s: %w", uri, err)
	}
	if st.Size() > MaxDocumentBytes {
		return nil, nil, "", fmt.Errorf("the document is over %d bytes", MaxDocumentBytes)
	}
	if data, err = os.ReadFile(path); err != nil {
		return nil, nil, "", err
	}
	if sidecar, err = os.ReadFile(path + ".metadata.json"); errors.Is(err, os.ErrNotExist) {
		sidecar, err = nil, nil
	}
	return data, sidecar, path, err
}

// StopIngestionJob asks a running ingestion job to stop: it is STOPPING
// until the job notices (before its next document, or before it starts)
// and records STOPPED with the statistics of what it did. A finished job
// is a ConflictException.
func (s *Service) StopIngestionJob(ctx context.Context, kbIdent, dsID, jobID string) (*IngestionJob, error) {
	ds, err := s.GetDataSource(ctx, kbIdent, dsID)
	if err != nil {
		return nil, err
	}
	var out *IngestionJob
	err = s.updateJob(ctx, jobKey(s.account(ctx), ds.KnowledgeBaseID, ds.DataSourceID, jobID), func(j *IngestionJob) error {
		switch j.Status {
		case "STARTING", "IN_PROGRESS":
			j.Status = "STOPPING"
		case "STOPPING":
		default:
			return resource.Conflict("The ingestion job %s is %s; only a STARTING or IN_PROGRESS job can be stopped.", jobID, j.Status)
		}
		out = j
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// stopRequested reports whether the stored job asks to stop.
func (s *Service) stopRequested(ctx context.Context, k resource.Key) bool {
	it, err := s.Store.Get(ctx, k, "")
	if err != nil {
		return false
	}
	j, err := resource.Decode[IngestionJob](it)
	return err == nil && j.Status == "STOPPING"
}
