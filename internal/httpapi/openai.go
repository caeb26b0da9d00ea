package httpapi

import (
	"net/http"
	"time"
)

// openaiRoutes registers the OpenAI-compatible routes: chat completions
// (chat.go, chat_request.go, chat_stream.go) and the model list.
//
// Compatibility notes for POST /v1/chat/completions:
//   - n must be 1 (a 400 otherwise); logprobs are not returned.
//   - Images and files are accepted as base64 data: URLs only.
//   - response_format, frequency_penalty, presence_penalty, logit_bias,
//     reasoning_effort, min_p and repeat_penalty are passed to the provider
//     as-is (merged into an OpenAI-compatible upstream's request); top_k is
//     accepted as an extension.
//   - Reasoning comes back as message.reasoning_content and, when
//     streaming, delta.reasoning_content, as DeepSeek and vLLM send it.
//   - Outcrop extensions: "performance_config":{"latency":"optimized"} in the
//     body, or the X-Outcrop-Latency: optimized header, selects the
//     latency-optimized profile (Bedrock's performanceConfig; a model that
//     does not offer it answers 400). Responses carry X-Outcrop-Deployment and
//     X-Outcrop-Profile headers naming what served them, and non-streamed
//     responses a "metrics":{"latencyMs":…} member.
//   - Calls are authorized as bedrock:InvokeModel (streams:
//     bedrock:InvokeModelWithResponseStream) on the model's foundation-model
//     ARN, so one IAM-style policy covers both APIs.
func (s *Server) openaiRoutes(mux *http.ServeMux) {
	mux.Handle("POST /v1/chat/completions", s.a.OpenAI(s.chatCompletions))
	mux.Handle("POST /v1/embeddings", s.a.OpenAI(s.embeddings))
	mux.Handle("GET /v1/models", s.a.OpenAI(s.listAuthorized(s.openaiModels)))
	mux.Handle("GET /v1/models/{model...}", s.a.OpenAI(s.listAuthorized(s.openaiModel)))
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
	for _, m := range s.catalog() {
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
	if m, ok := s.resolve(id); ok {
		return WriteJSON(w, http.StatusOK, openaiModelWire{ID: m.ID, Object: "model", Created: unixOrZero(m.Created), OwnedBy: "outcrop"})
	}
	return chatNotFound(id)
}

// listAuthorized checks bedrock:ListFoundationModels, as the Bedrock
// listing does, before running h.
func (s *Server) listAuthorized(h HandlerFunc) HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := s.a.Authorize(r, "bedrock:ListFoundationModels", "*"); err != nil {
			return err
		}
		return h(w, r)
	}
}
