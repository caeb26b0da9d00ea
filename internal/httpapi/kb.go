package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/outcrop/outcrop/internal/kb"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/resource"
)

// KnowledgeBases is the route group of Bedrock knowledge bases:
// bedrock-agent's knowledge-base, data-source and ingestion-job operations
// (StopIngestionJob included) and the document operations (Ingest, Get,
// List, DeleteKnowledgeBaseDocuments), and bedrock-agent-runtime's Retrieve,
// RetrieveAndGenerate and RetrieveAndGenerateStream
// (package kb does the work; docs/KNOWLEDGE_BASES.md).
type KnowledgeBases struct {
	Service *kb.Service
}

var _ RouteGroup = (*KnowledgeBases)(nil)

// Routes implements RouteGroup.
func (k *KnowledgeBases) Routes(mux *http.ServeMux, a *Adapter) {
	h := func(action string, fn func(w http.ResponseWriter, r *http.Request) error) http.Handler {
		return a.ControlPlane(func(w http.ResponseWriter, r *http.Request) error {
			res := "*"
			if id := r.PathValue("knowledgeBaseId"); id != "" {
				res = id
				if !strings.HasPrefix(id, "arn:") {
					res = k.Service.Store.Scope().ARN(resource.Account(r.Context(), k.Service.Store.Scope()), "knowledge-base", id)
				}
			}
			if err := a.Authorize(r, action, res); err != nil {
				return err
			}
			return fn(w, r)
		})
	}
	read := func(r *http.Request, v any) error {
		b, err := a.ReadBody(r)
		if err != nil {
			return err
		}
		if len(strings.TrimSpace(string(b))) == 0 {
			b = []byte("{}")
		}
		if err := json.Unmarshal(b, v); err != nil {
			return llm.Errorf(llm.KindValidation, "The request body is not valid JSON: %v", err)
		}
		return nil
	}
	mux.Handle("PUT /knowledgebases/{$}", h("bedrock:CreateKnowledgeBase", func(w http.ResponseWriter, r *http.Request) error {
		var in kb.KnowledgeBaseInput
		if err := read(r, &in); err != nil {
			return err
		}
		out, err := k.Service.CreateKnowledgeBase(r.Context(), &in)
		if err != nil {
			return err
		}
		return WriteJSON(w, http.StatusAccepted, map[string]any{"knowledgeBase": out})
	}))
	mux.Handle("POST /knowledgebases/{$}", h("bedrock:ListKnowledgeBases", func(w http.ResponseWriter, r *http.Request) error {
		var p resource.Page
		if err := read(r, &p); err != nil {
			return err
		}
		list, next, err := k.Service.ListKnowledgeBases(r.Context(), p)
		if err != nil {
			return err
		}
		sums := make([]map[string]any, len(list))
		for i, b := range list {
			sums[i] = map[string]any{"knowledgeBaseId": b.KnowledgeBaseID, "name": b.Name, "description": b.Description, "status": b.Status, "updatedAt": b.UpdatedAt}
		}
		return WriteJSON(w, http.StatusOK, map[string]any{"knowledgeBaseSummaries": sums, "nextToken": nullIfEmpty(next)})
	}))
	mux.Handle("GET /knowledgebases/{knowledgeBaseId}", h("bedrock:GetKnowledgeBase", func(w http.ResponseWriter, r *http.Request) error {
		out, err := k.Service.GetKnowledgeBase(r.Context(), r.PathValue("knowledgeBaseId"))
		if err != nil {
			return err
		}
		return WriteJSON(w, http.StatusOK, map[string]any{"knowledgeBase": out})
	}))
	mux.Handle("PUT /knowledgebases/{knowledgeBaseId}", h("bedrock:UpdateKnowledgeBase", func(w http.ResponseWriter, r *http.Request) error {
		var in kb.KnowledgeBaseInput
		if err := read(r, &in); err != nil {
			return err
		}
		out, err := k.Service.UpdateKnowledgeBase(r.Context(), r.PathValue("knowledgeBaseId"), &in)
		if err != nil {
			return err
		}
		return WriteJSON(w, http.StatusAccepted, map[string]any{"knowledgeBase": out})
	}))
	mux.Handle("DELETE /knowledgebases/{knowledgeBaseId}", h("bedrock:DeleteKnowledgeBase", func(w http.ResponseWriter, r *http.Request) error {
		id, err := k.Service.DeleteKnowledgeBase(r.Context(), r.PathValue("knowledgeBaseId"))
		if err != nil {
			return err
		}
		return WriteJSON(w, http.StatusAccepted, map[string]any{"knowledgeBaseId": id, "status": "DELETING"})
	}))
	mux.Handle("PUT /knowledgebases/{knowledgeBaseId}/datasources/{$}", h("bedrock:CreateDataSource", func(w http.ResponseWriter, r *http.Request) error {
		var in kb.DataSourceInput
		if err := read(r, &in); err != nil {
			return err
		}
		out, err := k.Service.CreateDataSource(r.Context(), r.PathValue("knowledgeBaseId"), &in)
		if err != nil {
			return err
		}
		return WriteJSON(w, http.StatusOK, map[string]any{"dataSource": out})
	}))
	mux.Handle("POST /knowledgebases/{knowledgeBaseId}/datasources/{$}", h("bedrock:ListDataSources", func(w http.ResponseWriter, r *http.Request) error {
		var p resource.Page
		if err := read(r, &p); err != nil {
			return err
		}
		list, next, err := k.Service.ListDataSources(r.Context(), r.PathValue("knowledgeBaseId"), p)
		if err != nil {
			return err
		}
		sums := make([]map[string]any, len(list))
		for i, d := range list {
			sums[i] = map[string]any{"dataSourceId": d.DataSourceID, "knowledgeBaseId": d.KnowledgeBaseID, "name": d.Name, "description": d.Description, "status": d.Status, "updatedAt": d.UpdatedAt}
		}
		return WriteJSON(w, http.StatusOK, map[string]any{"dataSourceSummaries": sums, "nextToken": nullIfEmpty(next)})
	}))
	mux.Handle("GET /knowledgebases/{knowledgeBaseId}/datasources/{dataSourceId}", h("bedrock:GetDataSource", func(w http.ResponseWriter, r *http.Request) error {
		out, err := k.Service.GetDataSource(r.Context(), r.PathValue("knowledgeBaseId"), r.PathValue("dataSourceId"))
		if err != nil {
			return err
		}
		return WriteJSON(w, http.StatusOK, map[string]any{"dataSource": out})
	}))
	mux.Handle("PUT /knowledgebases/{knowledgeBaseId}/datasources/{dataSourceId}", h("bedrock:UpdateDataSource", func(w http.ResponseWriter, r *http.Request) error {
		var in kb.DataSourceInput
		if err := read(r, &in); err != nil {
			return err
		}
		out, err := k.Service.UpdateDataSource(r.Context(), r.PathValue("knowledgeBaseId"), r.PathValue("dataSourceId"), &in)
		if err != nil {
			return err
		}
		return WriteJSON(w, http.StatusOK, map[string]any{"dataSource": out})
	}))
	mux.Handle("DELETE /knowledgebases/{knowledgeBaseId}/datasources/{dataSourceId}", h("bedrock:DeleteDataSource", func(w http.ResponseWriter, r *http.Request) error {
		kbID, dsID := r.PathValue("knowledgeBaseId"), r.PathValue("dataSourceId")
		if err := k.Service.DeleteDataSource(r.Context(), kbID, dsID); err != nil {
			return err
		}
		return WriteJSON(w, http.StatusAccepted, map[string]any{"knowledgeBaseId": kbID, "dataSourceId": dsID, "status": "DELETING"})
	}))
	mux.Handle("PUT /knowledgebases/{knowledgeBaseId}/datasources/{dataSourceId}/ingestionjobs/{$}", h("bedrock:StartIngestionJob", func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			ClientToken string `json:"clientToken"`
			Description string `json:"description"`
		}
		if err := read(r, &in); err != nil {
			return err
		}
		out, err := k.Service.StartIngestionJob(r.Context(), r.PathValue("knowledgeBaseId"), r.PathValue("dataSourceId"), in.ClientToken, in.Description)
		if err != nil {
			return err
		}
		return WriteJSON(w, http.StatusAccepted, map[string]any{"ingestionJob": out})
	}))
	mux.Handle("GET /knowledgebases/{knowledgeBaseId}/datasources/{dataSourceId}/ingestionjobs/{ingestionJobId}", h("bedrock:GetIngestionJob", func(w http.ResponseWriter, r *http.Request) error {
		out, err := k.Service.GetIngestionJob(r.Context(), r.PathValue("knowledgeBaseId"), r.PathValue("dataSourceId"), r.PathValue("ingestionJobId"))
		if err != nil {
			return err
		}
		return WriteJSON(w, http.StatusOK, map[string]any{"ingestionJob": out})
	}))
	mux.Handle("POST /knowledgebases/{knowledgeBaseId}/datasources/{dataSourceId}/ingestionjobs/{$}", h("bedrock:ListIngestionJobs", func(w http.ResponseWriter, r *http.Request) error {
		var p resource.Page
		if err := read(r, &p); err != nil {
			return err
		}
		list, next, err := k.Service.ListIngestionJobs(r.Context(), r.PathValue("knowledgeBaseId"), r.PathValue("dataSourceId"), p)
		if err != nil {
			return err
		}
		sums := make([]map[string]any, len(list))
		for i, j := range list {
			sums[i] = map[string]any{"ingestionJobId": j.IngestionJobID, "knowledgeBaseId": j.KnowledgeBaseID, "dataSourceId": j.DataSourceID, "status": j.Status, "statistics": j.Statistics, "startedAt": j.StartedAt, "updatedAt": j.UpdatedAt}
		}
		return WriteJSON(w, http.StatusOK, map[string]any{"ingestionJobSummaries": sums, "nextToken": nullIfEmpty(next)})
	}))
	mux.Handle("PUT /knowledgebases/{knowledgeBaseId}/datasources/{dataSourceId}/documents", h("bedrock:IngestKnowledgeBaseDocuments", func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			Documents []kb.Document `json:"documents"`
		}
		if err := read(r, &in); err != nil {
			return err
		}
		out, err := k.Service.IngestDocuments(r.Context(), r.PathValue("knowledgeBaseId"), r.PathValue("dataSourceId"), in.Documents)
		if err != nil {
			return err
		}
		return WriteJSON(w, http.StatusAccepted, map[string]any{"documentDetails": out})
	}))
	mux.Handle("POST /knowledgebases/{knowledgeBaseId}/datasources/{dataSourceId}/ingestionjobs/{ingestionJobId}/stop", h("bedrock:StopIngestionJob", func(w http.ResponseWriter, r *http.Request) error {
		out, err := k.Service.StopIngestionJob(r.Context(), r.PathValue("knowledgeBaseId"), r.PathValue("dataSourceId"), r.PathValue("ingestionJobId"))
		if err != nil {
			return err
		}
		return WriteJSON(w, http.StatusAccepted, map[string]any{"ingestionJob": out})
	}))
	mux.Handle("POST /knowledgebases/{knowledgeBaseId}/datasources/{dataSourceId}/documents", h("bedrock:ListKnowledgeBaseDocuments", func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			MaxResults int    `json:"maxResults"`
			NextToken  string `json:"nextToken"`
		}
		if err := read(r, &in); err != nil {
			return err
		}
		out, next, err := k.Service.ListDocuments(r.Context(), r.PathValue("knowledgeBaseId"), r.PathValue("dataSourceId"), in.MaxResults, in.NextToken)
		if err != nil {
			return err
		}
		if out == nil {
			out = []kb.DocumentDetail{}
		}
		return WriteJSON(w, http.StatusOK, map[string]any{"documentDetails": out, "nextToken": nullIfEmpty(next)})
	}))
	mux.Handle("POST /knowledgebases/{knowledgeBaseId}/datasources/{dataSourceId}/documents/getDocuments", h("bedrock:GetKnowledgeBaseDocuments", func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			DocumentIdentifiers []kb.DocumentIdentifier `json:"documentIdentifiers"`
		}
		if err := read(r, &in); err != nil {
			return err
		}
		out, err := k.Service.GetDocuments(r.Context(), r.PathValue("knowledgeBaseId"), r.PathValue("dataSourceId"), in.DocumentIdentifiers)
		if err != nil {
			return err
		}
		return WriteJSON(w, http.StatusOK, map[string]any{"documentDetails": out})
	}))
	mux.Handle("POST /knowledgebases/{knowledgeBaseId}/datasources/{dataSourceId}/documents/deleteDocuments", h("bedrock:DeleteKnowledgeBaseDocuments", func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			ClientToken         string                  `json:"clientToken"`
			DocumentIdentifiers []kb.DocumentIdentifier `json:"documentIdentifiers"`
		}
		if err := read(r, &in); err != nil {
			return err
		}
		out, err := k.Service.DeleteDocuments(r.Context(), r.PathValue("knowledgeBaseId"), r.PathValue("dataSourceId"), in.DocumentIdentifiers)
		if err != nil {
			return err
		}
		return WriteJSON(w, http.StatusAccepted, map[string]any{"documentDetails": out})
	}))
	// bedrock-agent-runtime
	mux.Handle("POST /knowledgebases/{knowledgeBaseId}/retrieve", h("bedrock:Retrieve", func(w http.ResponseWriter, r *http.Request) error {
		var in kb.RetrieveInput
		if err := read(r, &in); err != nil {
			return err
		}
		out, err := k.Service.Retrieve(r.Context(), r.PathValue("knowledgeBaseId"), &in)
		if err != nil {
			return err
		}
		return WriteJSON(w, http.StatusOK, map[string]any{"retrievalResults": out})
	}))
	// readRAG reads a RetrieveAndGenerate(Stream) body and checks that the
	// caller may also retrieve from the knowledge base it names.
	readRAG := func(r *http.Request, in *kb.RAGInput) error {
		if err := read(r, in); err != nil {
			return err
		}
		c := in.RetrieveAndGenerateConfiguration.KnowledgeBaseConfiguration
		if c == nil {
			return nil
		}
		scope := k.Service.Store.Scope()
		res := c.KnowledgeBaseID
		if !strings.HasPrefix(res, "arn:") {
			res = scope.ARN(resource.Account(r.Context(), scope), "knowledge-base", res)
		}
		return a.Authorize(r, "bedrock:Retrieve", res)
	}
	mux.Handle("POST /retrieveAndGenerate", h("bedrock:RetrieveAndGenerate", func(w http.ResponseWriter, r *http.Request) error {
		var in kb.RAGInput
		if err := readRAG(r, &in); err != nil {
			return err
		}
		out, err := k.Service.RetrieveAndGenerate(r.Context(), &in)
		if err != nil {
			return err
		}
		return WriteJSON(w, http.StatusOK, out)
	}))
	mux.Handle("POST /retrieveAndGenerateStream", h("bedrock:RetrieveAndGenerate", func(w http.ResponseWriter, r *http.Request) error {
		var in kb.RAGInput
		if err := readRAG(r, &in); err != nil {
			return err
		}
		st, err := k.Service.RetrieveAndGenerateStream(r.Context(), &in)
		if err != nil {
			return err
		}
		defer st.Close()
		// The first event is read before the status line, so that a model
		// call refused at once is a plain JSON error response.
		ev, err := st.Next()
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		w.Header().Set("x-amzn-bedrock-knowledge-base-session-id", st.SessionID)
		ew := newEventWriter(w, time.Now)
		ew.start()
		for ; ; ev, err = st.Next() {
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				if r.Context().Err() == nil {
					typ, p := agentException(err)
					_ = ew.Exception(typ, p)
				}
				return nil
			}
			var typ string
			var payload any
			switch {
			case ev.Output != nil:
				typ, payload = "output", map[string]string{"text": *ev.Output}
			case ev.Citation != nil:
				typ, payload = "citation", ev.Citation
			default:
				typ, payload = "guardrail", map[string]string{"action": ev.Guardrail}
			}
			b, merr := json.Marshal(payload)
			if merr != nil {
				typ, p := agentException(merr)
				_ = ew.Exception(typ, p)
				return nil
			}
			if err := ew.Event(typ, b); err != nil {
				return nil // the client went away
			}
		}
	}))
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
