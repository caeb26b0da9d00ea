package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/outcrop/outcrop/internal/llm"
)

type errGroup struct{}

func (errGroup) Routes(mux *http.ServeMux, a *Adapter) {
	mux.Handle("GET /cp/{kind}", a.ControlPlane(func(w http.ResponseWriter, r *http.Request) error {
		switch r.PathValue("kind") {
		case "conflict":
			return llm.Errorf(llm.KindConflict, "A thing named x already exists.")
		case "quota":
			return llm.Errorf(llm.KindQuotaExceeded, "Too many things.")
		case "missing":
			return llm.Errorf(llm.KindNotFound, "No such thing.")
		}
		return WriteJSON(w, http.StatusOK, struct{}{})
	}))
}

func TestControlPlaneStatuses(t *testing.T) {
	srv := httptest.NewServer(New(Deps{Groups: []RouteGroup{errGroup{}}}).Handler())
	defer srv.Close()
	tests := []struct {
		kind, wantType string
		wantStatus     int
	}{
		{"conflict", "ConflictException", http.StatusConflict},
		{"quota", "ServiceQuotaExceededException", http.StatusPaymentRequired},
		{"missing", "ResourceNotFoundException", http.StatusNotFound},
		{"ok", "", http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.kind, func(t *testing.T) {
			resp, err := http.Get(srv.URL + "/cp/" + tc.kind)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.wantStatus || resp.Header.Get("X-Amzn-ErrorType") != tc.wantType {
				t.Fatalf("GET /cp/%s = %d %q, want %d %q", tc.kind, resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), tc.wantStatus, tc.wantType)
			}
			if tc.wantType != "" {
				var body struct{ Message string }
				if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Message == "" {
					t.Fatalf("error body: %v %+v", err, body)
				}
			}
		})
	}
}
