package httpapi

import (
	"encoding/json"
	"io"
	"net/http"

	"github.com/outcrop/outcrop/internal/kb"
	"github.com/outcrop/outcrop/internal/llm"
)

// VectorStores is the route group of the OpenAI files and vector-store API
// (/v1/files, /v1/vector_stores, their files and search) on package kb.
// Routes are authorized with the IAM-style actions openai:CreateFile,
// openai:GetFile, openai:DeleteFile, openai:CreateVectorStore,
// openai:GetVectorStore, openai:DeleteVectorStore and
// openai:SearchVectorStore on "*"; every object belongs to the caller's account.
type VectorStores struct {
	Service *kb.Service
}

var _ RouteGroup = (*VectorStores)(nil)

// Routes implements RouteGroup.
func (v *VectorStores) Routes(mux *http.ServeMux, a *Adapter) {
	h := func(action string, fn HandlerFunc) http.Handler {
		return a.OpenAI(func(w http.ResponseWriter, r *http.Request) error {
			if err := a.Authorize(r, action, "*"); err != nil {
				return err
			}
			return fn(w, r)
		})
	}
	read := func(r *http.Request, x any) error {
		b, err := a.ReadBody(r)
		if err != nil {
			return err
		}
		if len(b) == 0 {
			b = []byte("{}")
		}
		if err := json.Unmarshal(b, x); err != nil {
			return llm.Errorf(llm.KindValidation, "We could not parse the JSON body of your request.")
		}
		return nil
	}
	list := func(data any) map[string]any {
		return map[string]any{"object": "list", "data": data, "has_more": false, "first_id": nil, "last_id": nil}
	}
	mux.Handle("POST /v1/files", h("openai:CreateFile", func(w http.ResponseWriter, r *http.Request) error {
		r.Body = http.MaxBytesReader(w, r.Body, int64(kb.MaxDocumentBytes)+1<<20)
		if err := r.ParseMultipartForm(32 << 20); err != nil {
			return llm.Errorf(llm.KindValidation, "the body must be multipart/form-data with 'file' and 'purpose'")
		}
		file, hdr, err := r.FormFile("file")
		if err != nil {
			return llm.Errorf(llm.KindValidation, "'file' is a required property")
		}
		defer file.Close()
		data, err := io.ReadAll(file)
		if err != nil {
			return llm.Errorf(llm.KindValidation, "the file could not be read")
		}
		f, err := v.Service.UploadFile(r.Context(), hdr.Filename, r.FormValue("purpose"), data)
		if err != nil {
			return err
		}
		return WriteJSON(w, http.StatusOK, f)
	}))
	mux.Handle("GET /v1/files", h("openai:GetFile", func(w http.ResponseWriter, r *http.Request) error {
		fs, err := v.Service.ListFiles(r.Context())
		if err != nil {
			return err
		}
		return WriteJSON(w, http.StatusOK, list(fs))
	}))
	mux.Handle("GET /v1/files/{id}", h("openai:GetFile", func(w http.ResponseWriter, r *http.Request) error {
		f, err := v.Service.GetFile(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		return WriteJSON(w, http.StatusOK, f)
	}))
	mux.Handle("DELETE /v1/files/{id}", h("openai:DeleteFile", func(w http.ResponseWriter, r *http.Request) error {
		if err := v.Service.DeleteFile(r.Context(), r.PathValue("id")); err != nil {
			return err
		}
		return WriteJSON(w, http.StatusOK, map[string]any{"id": r.PathValue("id"), "object": "file", "deleted": true})
	}))
	mux.Handle("POST /v1/vector_stores", h("openai:CreateVectorStore", func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			Name     string         `json:"name"`
			FileIDs  []string       `json:"file_ids"`
			Metadata map[string]any `json:"metadata"`
		}
		if err := read(r, &in); err != nil {
			return err
		}
		vs, err := v.Service.CreateVectorStore(r.Context(), in.Name, in.FileIDs, in.Metadata)
		if err != nil {
			return err
		}
		return WriteJSON(w, http.StatusOK, vs)
	}))
	mux.Handle("GET /v1/vector_stores", h("openai:GetVectorStore", func(w http.ResponseWriter, r *http.Request) error {
		l, err := v.Service.ListVectorStores(r.Context())
		if err != nil {
			return err
		}
		return WriteJSON(w, http.StatusOK, list(l))
	}))
	mux.Handle("GET /v1/vector_stores/{id}", h("openai:GetVectorStore", func(w http.ResponseWriter, r *http.Request) error {
		vs, err := v.Service.GetVectorStore(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		return WriteJSON(w, http.StatusOK, vs)
	}))
	mux.Handle("DELETE /v1/vector_stores/{id}", h("openai:DeleteVectorStore", func(w http.ResponseWriter, r *http.Request) error {
		if err := v.Service.DeleteVectorStore(r.Context(), r.PathValue("id")); err != nil {
			return err
		}
		return WriteJSON(w, http.StatusOK, map[string]any{"id": r.PathValue("id"), "object": "vector_store.deleted", "deleted": true})
	}))
	mux.Handle("POST /v1/vector_stores/{id}/files", h("openai:CreateVectorStore", func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			FileID     string         `json:"file_id"`
			Attributes map[string]any `json:"attributes"`
		}
		if err := read(r, &in); err != nil {
			return err
		}
		if in.FileID == "" {
			return llm.Errorf(llm.KindValidation, "'file_id' is a required property")
		}
		f, err := v.Service.AddVectorStoreFile(r.Context(), r.PathValue("id"), in.FileID, in.Attributes)
		if err != nil {
			return err
		}
		return WriteJSON(w, http.StatusOK, f)
	}))
	mux.Handle("GET /v1/vector_stores/{id}/files", h("openai:GetVectorStore", func(w http.ResponseWriter, r *http.Request) error {
		l, err := v.Service.ListVectorStoreFiles(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		return WriteJSON(w, http.StatusOK, list(l))
	}))
	mux.Handle("POST /v1/vector_stores/{id}/search", h("openai:SearchVectorStore", func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			Query          json.RawMessage `json:"query"`
			MaxNumResults  int             `json:"max_num_results"`
			Filters        json.RawMessage `json:"filters"`
			RankingOptions *struct {
				Ranker string `json:"ranker"`
			} `json:"ranking_options"`
		}
		if err := read(r, &in); err != nil {
			return err
		}
		var q string
		if err := json.Unmarshal(in.Query, &q); err != nil {
			var qs []string
			if json.Unmarshal(in.Query, &qs) != nil || len(qs) == 0 {
				return llm.Errorf(llm.KindValidation, "'query' must be a string or a non-empty array of strings")
			}
			q = qs[0]
		}
		hybrid := in.RankingOptions != nil && in.RankingOptions.Ranker == "hybrid"
		res, err := v.Service.SearchVectorStore(r.Context(), r.PathValue("id"), q, in.MaxNumResults, in.Filters, hybrid)
		if err != nil {
			return err
		}
		return WriteJSON(w, http.StatusOK, map[string]any{"object": "vector_store.search_results.page", "search_query": []string{q}, "data": res, "has_more": false, "next_page": nil})
	}))
}
