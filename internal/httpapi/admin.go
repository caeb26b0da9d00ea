package httpapi

import (
	"net/http"

	"github.com/outcrop/outcrop/internal/llm"
)

// Admin adapts h for a route of the admin API (/admin/v1/, served by
// internal/console): {"message"} bodies, 401 when unauthenticated, 409 on a
// conflict, 400 for validation errors.
func (a *Adapter) Admin(h HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			a.WriteAdminError(w, r, err)
		}
	})
}

// WriteAdminError writes err as an admin-API error response.
func (a *Adapter) WriteAdminError(w http.ResponseWriter, r *http.Request, err error) {
	a.writeBedrockError(w, r, err, AdminStatus)
}

// AdminStatus returns the HTTP status of e on admin-API routes.
func AdminStatus(e *llm.Error) int {
	switch e.Kind {
	case llm.KindUnauthenticated:
		return http.StatusUnauthorized
	case llm.KindConflict:
		return http.StatusConflict
	case llm.KindQuotaExceeded:
		return http.StatusTooManyRequests
	}
	return BedrockStatus(e)
}
