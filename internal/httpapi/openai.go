package httpapi

import "net/http"

// openaiRoutes registers the OpenAI-compatible routes.
func (s *Server) openaiRoutes(mux *http.ServeMux) {
	// Filled in by the OpenAI handlers (chat.go, models.go).
}
