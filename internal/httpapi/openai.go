package httpapi

import (
	"net/http"
	"time"
)

// openaiRoutes registers the OpenAI-compatible routes: chat completions
// (chat.go, chat_stream.go) and the model list.
func (s *Server) openaiRoutes(mux *http.ServeMux) {
	mux.Handle("POST /v1/chat/completions", s.a.OpenAI(s.chatCompletions))
	mux.Handle("GET /v1/models", s.a.OpenAI(s.openaiModels))
	mux.Handle("GET /v1/models/{model...}", s.a.OpenAI(s.openaiModel))
}

// openaiModelWire is a model in OpenAI's list shape.
type openaiModelWire struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

func (s *Server) openaiModelsList() []openaiModelWire {
	out := []openaiModelWire{}
	if s.d.Router == nil {
		return out
	}
	for _, m := range s.d.Router.Models() {
		out = append(out, openaiModelWire{ID: m.ID, Object: "model", Created: unixOrZero(m.Created), OwnedBy: "outcrop"})
	}
	return out
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// openaiModels serves GET /v1/models from the router's models.
func (s *Server) openaiModels(w http.ResponseWriter, r *http.Request) error {
	return WriteJSON(w, http.StatusOK, struct {
		Object string            `json:"object"`
		Data   []openaiModelWire `json:"data"`
	}{"list", s.openaiModelsList()})
}

// openaiModel serves GET /v1/models/{model}; aliases resolve to their model.
func (s *Server) openaiModel(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("model")
	if s.d.Router != nil {
		if m, ok := s.d.Router.Lookup(id); ok {
			return WriteJSON(w, http.StatusOK, openaiModelWire{ID: m.ID, Object: "model", Created: unixOrZero(m.Created), OwnedBy: "outcrop"})
		}
	}
	return chatNotFound(id)
}
