package kb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/outcrop/outcrop/internal/embed"
	"github.com/outcrop/outcrop/internal/jobs"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/resource"
	"github.com/outcrop/outcrop/internal/vector"
)

// IngestionJob is the stored and returned shape of an ingestion job.
type IngestionJob struct {
	IngestionJobID  string     `json:"ingestionJobId"`
	KnowledgeBaseID string     `json:"knowledgeBaseId"`
	DataSourceID    string     `json:"dataSourceId"`
	Description     string     `json:"description,omitempty"`
	Status          string     `json:"status"`
	Statistics      Statistics `json:"statistics"`
	FailureReasons  []string   `json:"failureReasons,omitempty"`
	StartedAt       time.Time  `json:"startedAt"`
	UpdatedAt       time.Time  `json:"updatedAt"`
}

// Statistics are Bedrock's IngestionJobStatistics.
type Statistics struct {
	NumberOfDocumentsScanned          int `json:"numberOfDocumentsScanned"`
	NumberOfMetadataDocumentsScanned  int `json:"numberOfMetadataDocumentsScanned"`
	NumberOfNewDocumentsIndexed       int `json:"numberOfNewDocumentsIndexed"`
	NumberOfModifiedDocumentsIndexed  int `json:"numberOfModifiedDocumentsIndexed"`
	NumberOfMetadataDocumentsModified int `json:"numberOfMetadataDocumentsModified"`
	NumberOfDocumentsDeleted          int `json:"numberOfDocumentsDeleted"`
	NumberOfDocumentsFailed           int `json:"numberOfDocumentsFailed"`
}

type jobArgs struct {
	Account string `json:"account"`
	KB      string `json:"kb"`
	DS      string `json:"ds"`
	Job     string `json:"job"`
}

// StartIngestionJob queues an ingestion job of an S3 data source.
func (s *Service) StartIngestionJob(ctx context.Context, kbIdent, dsID, clientToken, description string) (*IngestionJob, error) {
	ds, err := s.GetDataSource(ctx, kbIdent, dsID)
	if err != nil {
		return nil, err
	}
	if ds.DataSourceConfiguration.Type != "S3" {
		return nil, resource.Invalidf("StartIngestionJob needs an S3 data source; a CUSTOM data source takes IngestKnowledgeBaseDocuments.")
	}
	acct := s.account(ctx)
	id := resource.NewID()
	now := s.Store.Now()
	j := IngestionJob{IngestionJobID: id, KnowledgeBaseID: ds.KnowledgeBaseID, DataSourceID: ds.DataSourceID, Description: description, Status: "STARTING", StartedAt: now, UpdatedAt: now}
	it, err := s.Store.Create(ctx, resource.Key{Account: acct, Kind: kindJob, Parent: ds.KnowledgeBaseID + "/" + ds.DataSourceID, ID: id}, "", clientToken, &j)
	if err != nil {
		return nil, err
	}
	got, err := resource.Decode[IngestionJob](it)
	if err != nil {
		return nil, err
	}
	if got.IngestionJobID != id { // the client token matched an earlier job
		return got, nil
	}
	payload, _ := json.Marshal(jobArgs{Account: acct, KB: ds.KnowledgeBaseID, DS: ds.DataSourceID, Job: id})
	if s.Queue == nil {
		return nil, llm.Errorf(llm.KindUnavailable, "the job runner is not available")
	}
	if _, _, err := s.Queue.Enqueue(ctx, jobs.Spec{Kind: JobKind, Key: id, Payload: payload}); err != nil {
		return nil, err
	}
	return got, nil
}

func jobKey(acct, kbID, dsID, id string) resource.Key {
	return resource.Key{Account: acct, Kind: kindJob, Parent: kbID + "/" + dsID, ID: id}
}

// GetIngestionJob returns an ingestion job.
func (s *Service) GetIngestionJob(ctx context.Context, kbIdent, dsID, jobID string) (*IngestionJob, error) {
	ds, err := s.GetDataSource(ctx, kbIdent, dsID)
	if err != nil {
		return nil, err
	}
	it, err := s.Store.Get(ctx, jobKey(s.account(ctx), ds.KnowledgeBaseID, ds.DataSourceID, jobID), "")
	if err != nil {
		return nil, err
	}
	return resource.Decode[IngestionJob](it)
}

// ListIngestionJobs lists a data source's ingestion jobs.
func (s *Service) ListIngestionJobs(ctx context.Context, kbIdent, dsID string, p resource.Page) ([]*IngestionJob, string, error) {
	ds, err := s.GetDataSource(ctx, kbIdent, dsID)
	if err != nil {
		return nil, "", err
	}
	items, next, err := s.Store.List(ctx, resource.ListQuery{Account: s.account(ctx), Kind: kindJob, Parent: ds.KnowledgeBaseID + "/" + ds.DataSourceID, Page: p})
	if err != nil {
		return nil, "", err
	}
	out := make([]*IngestionJob, 0, len(items))
	for _, it := range items {
		j, err := resource.Decode[IngestionJob](it)
		if err != nil {
			return nil, "", err
		}
		out = append(out, j)
	}
	return out, next, nil
}

// updateJob applies fn to the stored job; an error from fn leaves it as
// it was.
func (s *Service) updateJob(ctx context.Context, k resource.Key, fn func(j *IngestionJob) error) error {
	_, err := s.Store.Update(ctx, k, func(it *resource.Item) error {
		j, err := resource.Decode[IngestionJob](it)
		if err != nil {
			return err
		}
		if err := fn(j); err != nil {
			return err
		}
		j.UpdatedAt = s.Store.Now()
		raw, err := json.Marshal(j)
		it.Body = raw
		return err
	})
	return err
}

// RunJob is the jobs.Handler of JobKind: it scans the data source's folder
// and indexes new and changed documents, deletes vanished ones, and records
// statistics and per-document failures on the job. A retry after a crash
// starts over; documents already indexed are skipped by digest.
func (s *Service) RunJob(ctx context.Context, t *jobs.Task) error {
	var a jobArgs
	if err := json.Unmarshal(t.Payload, &a); err != nil {
		return jobs.Permanent(err)
	}
	k := jobKey(a.Account, a.KB, a.DS, a.Job)
	fail := func(err error) error {
		uerr := s.updateJob(ctx, k, func(j *IngestionJob) error {
			j.Status = "FAILED"
			j.FailureReasons = append(j.FailureReasons, llm.AsError(err).Error())
			return nil
		})
		return jobs.Permanent(errors.Join(err, uerr))
	}
	kbIt, err := s.Store.Get(ctx, resource.Key{Account: a.Account, Kind: kindKB, ID: a.KB}, "")
	if err != nil {
		return fail(err)
	}
	kbb, err := resource.Decode[kbBody](kbIt)
	if err != nil {
		return fail(err)
	}
	dsIt, err := s.Store.Get(ctx, resource.Key{Account: a.Account, Kind: kindDS, Parent: a.KB, ID: a.DS}, "")
	if err != nil {
		return fail(err)
	}
	ds, err := resource.Decode[DataSource](dsIt)
	if err != nil {
		return fail(err)
	}
	m, err := s.embeddingModel(kbb.EmbeddingModel)
	if err != nil {
		return fail(err)
	}
	stopped := false
	if err := s.updateJob(ctx, k, func(j *IngestionJob) error {
		switch j.Status {
		case "STOPPING", "STOPPED":
			// Stopped before it ran.
			j.Status, stopped = "STOPPED", true
			return nil
		}
		j.Status, j.Statistics, j.FailureReasons = "IN_PROGRESS", Statistics{}, nil
		return nil
	}); err != nil || stopped {
		return err
	}
	files, sidecars, err := s.scan(ds)
	if err != nil {
		return fail(err)
	}
	known, err := s.documents(ctx, a.Account, a.KB, a.DS)
	if err != nil {
		return err
	}
	var st Statistics
	var reasons []string
	st.NumberOfMetadataDocumentsScanned = sidecars
	seen := map[string]bool{}
	// finish records the outcome; a job asked to stop ends STOPPED with the
	// statistics of what it did (a cancelled context still writes it).
	finish := func(status string) error {
		return s.updateJob(context.WithoutCancel(ctx), k, func(j *IngestionJob) error {
			j.Statistics, j.FailureReasons, j.Status = st, reasons, status
			return nil
		})
	}
	for i, f := range files {
		if s.stopRequested(ctx, k) {
			return finish("STOPPED")
		}
		seen[f.uri] = true
		st.NumberOfDocumentsScanned++
		data, err := os.ReadFile(f.path)
		var side []byte
		if err == nil && f.sidecar != "" {
			side, err = os.ReadFile(f.sidecar)
		}
		if err != nil {
			st.NumberOfDocumentsFailed++
			reasons = append(reasons, f.uri+": "+err.Error())
			continue
		}
		d := digest(data, side)
		old, had := known[f.uri]
		if had && old == d {
			continue
		}
		var md map[string]any
		if side != nil {
			if md, err = ParseSidecar(side); err != nil {
				st.NumberOfDocumentsFailed++
				reasons = append(reasons, f.uri+": "+err.Error())
				continue
			}
		}
		n, err := s.indexDocument(ctx, a.Account, kbb, ds, m.Embedder, f.uri, f.path, data, md)
		if err != nil {
			if ctx.Err() != nil {
				if s.stopRequested(context.WithoutCancel(ctx), k) {
					return finish("STOPPED")
				}
				return ctx.Err()
			}
			st.NumberOfDocumentsFailed++
			reasons = append(reasons, f.uri+": "+llm.AsError(err).Error())
			continue
		}
		if _, err := s.Store.DB().Exec(ctx, `INSERT INTO kb_documents (account, kb_id, ds_id, uri, digest, chunks, status, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'INDEXED', ?)
			ON CONFLICT (account, kb_id, ds_id, uri) DO UPDATE SET digest = excluded.digest, chunks = excluded.chunks, status = excluded.status, updated_at = excluded.updated_at`,
			a.Account, a.KB, a.DS, f.uri, d, n, s.Store.Now().Format(time.RFC3339Nano)); err != nil {
			return err
		}
		if had {
			st.NumberOfModifiedDocumentsIndexed++
			if side != nil {
				st.NumberOfMetadataDocumentsModified++
			}
		} else {
			st.NumberOfNewDocumentsIndexed++
		}
		if i%10 == 9 {
			cur := st
			_ = s.updateJob(ctx, k, func(j *IngestionJob) error { j.Statistics = cur; return nil })
			_ = t.Heartbeat(ctx)
		}
	}
	if s.stopRequested(ctx, k) {
		// Vanished files are only deleted by a job that saw the whole folder.
		return finish("STOPPED")
	}
	for uri := range known {
		if seen[uri] {
			continue
		}
		if _, err := s.Index.DeleteDocument(ctx, collection(a.Account, a.KB), docID(a.DS, uri)); err != nil {
			return err
		}
		if _, err := s.Store.DB().Exec(ctx, `DELETE FROM kb_documents WHERE account = ? AND kb_id = ? AND ds_id = ? AND uri = ?`, a.Account, a.KB, a.DS, uri); err != nil {
			return err
		}
		st.NumberOfDocumentsDeleted++
	}
	return finish("COMPLETE")
}

// indexDocument parses, chunks, embeds and indexes one document, replacing
// its earlier chunks, and returns the number of chunks.
func (s *Service) indexDocument(ctx context.Context, acct string, kbb *kbBody, ds *DataSource, emb embed.Embedder, uri, name string, data []byte, md map[string]any) (int, error) {
	return s.indexInto(ctx, collection(acct, kbb.KnowledgeBaseID), kbb, ds, emb, uri, name, data, md)
}

// indexInto is indexDocument on a named collection.
func (s *Service) indexInto(ctx context.Context, col string, kbb *kbBody, ds *DataSource, emb embed.Embedder, uri, name string, data []byte, md map[string]any) (int, error) {
	text, err := Parse(name, data)
	if err != nil {
		return 0, llm.Errorf(llm.KindValidation, "%v", err)
	}
	var cc *ChunkingConfiguration
	if ds.VectorIngestionConfiguration != nil {
		cc = ds.VectorIngestionConfiguration.ChunkingConfiguration
	}
	chunks, err := chunkText(text, cc, emb, ctx)
	if err != nil {
		return 0, err
	}
	recs := make([]vector.Record, len(chunks))
	const batch = 32
	for lo := 0; lo < len(chunks); lo += batch {
		hi := min(lo+batch, len(chunks))
		texts := make([]string, hi-lo)
		for i := range texts {
			texts[i] = chunks[lo+i].Text
		}
		r, err := emb.Embed(ctx, texts)
		if err != nil {
			return 0, err
		}
		for i, v := range r.Vectors {
			if len(v) > kbb.Dimensions {
				v = embed.Reduce(v, kbb.Dimensions, true)
			}
			c := chunks[lo+i]
			meta := map[string]any{}
			for k, x := range md {
				meta[k] = x
			}
			id := ds.DataSourceID + ":" + uri + "#" + strconv.Itoa(lo+i)
			meta[MetaSourceURI] = uri
			meta[MetaDataSource] = ds.DataSourceID
			meta[MetaChunkID] = id
			if c.Parent != "" {
				meta[metaParent] = c.Parent
			}
			recs[lo+i] = vector.Record{ID: id, DocID: docID(ds.DataSourceID, uri), Vector: v, Text: c.Text, Metadata: meta}
		}
	}
	if _, err := s.Index.DeleteDocument(ctx, col, docID(ds.DataSourceID, uri)); err != nil {
		return 0, err
	}
	if len(recs) > 0 {
		if err := s.Index.Upsert(ctx, col, recs); err != nil {
			return 0, err
		}
	}
	return len(recs), nil
}

// Document is one document of IngestKnowledgeBaseDocuments: inline text
// with an identifier and optional inline metadata.
type Document struct {
	Content struct {
		DataSourceType string `json:"dataSourceType"`
		Custom         *struct {
			CustomDocumentIdentifier struct {
				ID string `json:"id"`
			} `json:"customDocumentIdentifier"`
			SourceType    string `json:"sourceType"`
			InlineContent *struct {
				Type        string `json:"type"`
				TextContent *struct {
					Data string `json:"data"`
				} `json:"textContent"`
			} `json:"inlineContent"`
		} `json:"custom"`
		S3 *struct {
			S3Location struct {
				URI string `json:"uri"`
			} `json:"s3Location"`
		} `json:"s3"`
	} `json:"content"`
	Metadata *struct {
		Type             string `json:"type"`
		InlineAttributes []struct {
			Key   string `json:"key"`
			Value struct {
				Type            string   `json:"type"`
				StringValue     *string  `json:"stringValue"`
				NumberValue     *float64 `json:"numberValue"`
				BooleanValue    *bool    `json:"booleanValue"`
				StringListValue []string `json:"stringListValue"`
			} `json:"value"`
		} `json:"inlineAttributes"`
	} `json:"metadata"`
}

// DocumentDetail is one entry of the IngestKnowledgeBaseDocuments response.
type DocumentDetail struct {
	KnowledgeBaseID string    `json:"knowledgeBaseId"`
	DataSourceID    string    `json:"dataSourceId"`
	Status          string    `json:"status"`
	StatusReason    string    `json:"statusReason,omitempty"`
	Identifier      any       `json:"identifier"`
	UpdatedAt       time.Time `json:"updatedAt"`
}

// IngestDocuments indexes up to 10 documents synchronously: inline text of
// a CUSTOM data source, or files of an S3 data source named by their
// s3://bucket/key URI (read from the bucket's folder with their sidecar).
// Each gets its own status (a failure does not stop the rest).
func (s *Service) IngestDocuments(ctx context.Context, kbIdent, dsID string, docs []Document) ([]DocumentDetail, error) {
	if len(docs) < 1 || len(docs) > 10 {
		return nil, resource.Invalid("documents", "Member must have length between 1 and 10")
	}
	ds, err := s.GetDataSource(ctx, kbIdent, dsID)
	if err != nil {
		return nil, err
	}
	acct := s.account(ctx)
	kbIt, err := s.Store.Get(ctx, resource.Key{Account: acct, Kind: kindKB, ID: ds.KnowledgeBaseID}, "")
	if err != nil {
		return nil, err
	}
	kbb, err := resource.Decode[kbBody](kbIt)
	if err != nil {
		return nil, err
	}
	m, err := s.embeddingModel(kbb.EmbeddingModel)
	if err != nil {
		return nil, err
	}
	out := make([]DocumentDetail, len(docs))
	for i, d := range docs {
		det := DocumentDetail{KnowledgeBaseID: ds.KnowledgeBaseID, DataSourceID: ds.DataSourceID, UpdatedAt: s.Store.Now()}
		if ds.DataSourceConfiguration.Type == "S3" {
			out[i] = s.ingestS3Document(ctx, acct, kbb, ds, m.Embedder, d, det)
			continue
		}
		c := d.Content.Custom
		if d.Content.DataSourceType != "CUSTOM" || c == nil || c.CustomDocumentIdentifier.ID == "" || c.InlineContent == nil || c.InlineContent.TextContent == nil {
			det.Status, det.StatusReason = "FAILED", "only CUSTOM documents with an id and inline text content are supported"
			out[i] = det
			continue
		}
		det.Identifier = map[string]any{"dataSourceType": "CUSTOM", "custom": map[string]string{"id": c.CustomDocumentIdentifier.ID}}
		md := map[string]any{}
		if d.Metadata != nil {
			for _, at := range d.Metadata.InlineAttributes {
				switch {
				case at.Value.StringValue != nil:
					md[at.Key] = *at.Value.StringValue
				case at.Value.NumberValue != nil:
					md[at.Key] = *at.Value.NumberValue
				case at.Value.BooleanValue != nil:
					md[at.Key] = *at.Value.BooleanValue
				case at.Value.StringListValue != nil:
					md[at.Key] = at.Value.StringListValue
				}
			}
		}
		uri := c.CustomDocumentIdentifier.ID
		data := []byte(c.InlineContent.TextContent.Data)
		if len(data) > MaxDocumentBytes {
			det.Status, det.StatusReason = "FAILED", fmt.Sprintf("the document is over %d bytes", MaxDocumentBytes)
			out[i] = det
			continue
		}
		n, err := s.indexDocument(ctx, acct, kbb, ds, m.Embedder, uri, "inline.txt", data, md)
		if err != nil {
			det.Status, det.StatusReason = "FAILED", llm.AsError(err).Error()
			out[i] = det
			continue
		}
		if _, err := s.Store.DB().Exec(ctx, `INSERT INTO kb_documents (account, kb_id, ds_id, uri, digest, chunks, status, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'INDEXED', ?)
			ON CONFLICT (account, kb_id, ds_id, uri) DO UPDATE SET digest = excluded.digest, chunks = excluded.chunks, status = excluded.status, updated_at = excluded.updated_at`,
			acct, kbb.KnowledgeBaseID, ds.DataSourceID, uri, digest(data, nil), n, s.Store.Now().Format(time.RFC3339Nano)); err != nil {
			return nil, err
		}
		det.Status = "INDEXED"
		out[i] = det
	}
	return out, nil
}

// ingestS3Document indexes one S3 document of IngestKnowledgeBaseDocuments.
func (s *Service) ingestS3Document(ctx context.Context, acct string, kbb *kbBody, ds *DataSource, emb embed.Embedder, d Document, det DocumentDetail) DocumentDetail {
	if d.Content.DataSourceType != "S3" || d.Content.S3 == nil || d.Content.S3.S3Location.URI == "" {
		det.Status, det.StatusReason = "FAILED", "an S3 data source takes S3 documents with content.s3.s3Location.uri"
		return det
	}
	uri := d.Content.S3.S3Location.URI
	det.Identifier = identifierOf(uri)
	data, side, path, err := s.readS3Document(ds, uri)
	var md map[string]any
	if err == nil && side != nil {
		md, err = ParseSidecar(side)
	}
	if err != nil {
		det.Status, det.StatusReason = "FAILED", err.Error()
		return det
	}
	n, err := s.indexDocument(ctx, acct, kbb, ds, emb, uri, path, data, md)
	if err == nil {
		_, err = s.Store.DB().Exec(ctx, `INSERT INTO kb_documents (account, kb_id, ds_id, uri, digest, chunks, status, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'INDEXED', ?)
			ON CONFLICT (account, kb_id, ds_id, uri) DO UPDATE SET digest = excluded.digest, chunks = excluded.chunks, status = excluded.status, updated_at = excluded.updated_at`,
			acct, kbb.KnowledgeBaseID, ds.DataSourceID, uri, digest(data, side), n, s.Store.Now().Format(time.RFC3339Nano))
	}
	if err != nil {
		det.Status, det.StatusReason = "FAILED", llm.AsError(err).Error()
		return det
	}
	det.Status = "INDEXED"
	return det
}
