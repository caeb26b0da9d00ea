package httpapi

import "net/http"

// bedrockRoutes registers the Bedrock runtime routes.
func (s *Server) bedrockRoutes(mux *http.ServeMux) {
	// Filled in by the Bedrock runtime handlers (converse.go, invoke.go, …).
}
