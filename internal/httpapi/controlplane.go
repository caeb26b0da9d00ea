package httpapi

import (
	"net/http"

	"github.com/outcrop/outcrop/internal/llm"
)

// ControlPlane adapts h for a bedrock-agent or bedrock-agent-runtime route
// (agents, prompts, flows, knowledge bases): the Bedrock error shape with
// those services' statuses, where ConflictException is 409 and
// ServiceQuotaExceededException 402 (bedrock-api.md §5.8), unlike the
// runtime's 400 for both.
func (a *Adapter) ControlPlane(h HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			a.WriteControlPlaneError(w, r, err)
		}
	})
}

// WriteControlPlaneError writes err as a bedrock-agent error response.
func (a *Adapter) WriteControlPlaneError(w http.ResponseWriter, r *http.Request, err error) {
	a.writeBedrockError(w, r, err, ControlPlaneStatus)
}

// ControlPlaneStatus returns the HTTP status of e on bedrock-agent routes.
func ControlPlaneStatus(e *llm.Error) int {
	switch e.Kind {
	case llm.KindConflict:
		return http.StatusConflict
	case llm.KindQuotaExceeded:
		return http.StatusPaymentRequired
	}
	return BedrockStatus(e)
}
