// Package httpapi is Outcrop's HTTP surface: the Bedrock runtime (JSON and
// AWS event streams), the OpenAI chat API (JSON and SSE), and the control
// plane route groups other packages contribute. It only translates wire
// formats to and from the neutral llm model and gateway.Call; every decision
// is made in the gateway.
//
// Handlers return error; one adapter per API maps *llm.Error kinds to that
// API's error shape and status code (errors.go).
package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/outcrop/outcrop/internal/embed"
	"github.com/outcrop/outcrop/internal/gateway"
)

// RouteGroup contributes routes to the server, for control planes owned by
// other packages (guardrails, flows, …).
type RouteGroup interface {
	Routes(mux *http.ServeMux, a *Adapter)
}

// Deps are what the server needs from the rest of Outcrop.
type Deps struct {
	Logger  *slog.Logger
	Gateway *gateway.Gateway
	// Router resolves the model names of requests to canonical IDs and
	// lists the served models (the routing.Router, seen through the small
	// gateway.Catalog interface); nil serves no models.
	Router gateway.Catalog
	// Metrics serves /metrics; nil disables the route.
	Metrics http.Handler
	// MaxBodyBytes bounds request bodies.
	MaxBodyBytes int64
	// Region and AccountID appear in ARNs.
	Region    string
	AccountID string
	// Middleware wraps every API route, outermost first (e.g. authentication).
	Middleware []func(http.Handler) http.Handler
	// Groups are extra route groups.
	Groups []RouteGroup
	// Authorize decides whether the caller may perform an IAM action on a
	// resource, for routes that do not go through the gateway pipeline
	// (token counting, listings, control planes). Nil allows everything.
	Authorize func(ctx context.Context, action, resource string) error
	// Embeddings serves POST /v1/embeddings and InvokeModel on embedding
	// models (embeddings.go); nil serves neither.
	Embeddings *embed.Registry
	// EmbeddingGateway is the pipeline embedding calls go through
	// (authorization, limits and quotas, audit, metrics; its final handler
	// is embed.Final). Nil calls the model directly after authorizing the
	// route, as in tests that build no pipeline.
	EmbeddingGateway embed.Doer
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Console serves /console and everything under it outside the API
	// middleware (it authenticates its own pages); nil serves neither.
	Console http.Handler
	// Prompts renders a managed prompt for Converse calls whose modelId is
	// a prompt ARN; nil makes such calls ResourceNotFoundException.
	Prompts PromptRenderer
}

// Server holds the HTTP handlers.
type Server struct {
	d Deps
	a *Adapter
}

// New returns a server.
func New(d Deps) *Server {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.MaxBodyBytes <= 0 {
		d.MaxBodyBytes = 25 << 20
	}
	if d.Region == "" {
		d.Region = "us-east-1"
	}
	if d.AccountID == "" {
		d.AccountID = "000000000000"
	}
	return &Server{d: d, a: &Adapter{log: d.Logger.With("component", "httpapi"), MaxBodyBytes: d.MaxBodyBytes, authorize: d.Authorize}}
}

// Handler returns the root handler with every route.
func (s *Server) Handler() http.Handler {
	api := http.NewServeMux()
	s.bedrockRoutes(api)
	s.openaiRoutes(api)
	for _, g := range s.d.Groups {
		g.Routes(api, s.a)
	}
	var h http.Handler = api
	for i := len(s.d.Middleware) - 1; i >= 0; i-- {
		h = s.d.Middleware[i](h)
	}
	root := http.NewServeMux()
	root.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"ok"}`))
	})
	if s.d.Metrics != nil {
		root.Handle("GET /metrics", s.d.Metrics)
	}
	if s.d.Console != nil {
		root.Handle("/console/", s.d.Console)
		root.Handle("/console", s.d.Console)
	}
	root.Handle("/", h)
	return withRequestID(root)
}

// WriteError writes err in the error shape of the API that r's path belongs
// to (OpenAI under /v1/, Bedrock elsewhere), for middleware that fails
// requests before they reach a route (authentication).
func (s *Server) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	if strings.HasPrefix(r.URL.Path, "/v1/") {
		s.a.WriteOpenAIError(w, r, err)
		return
	}
	if strings.HasPrefix(r.URL.Path, "/admin/v1/") {
		s.a.WriteAdminError(w, r, err)
		return
	}
	s.a.WriteBedrockError(w, r, err)
}

type ctxKey int

const requestIDKey ctxKey = 0

// RequestID returns the ID assigned to the request carrying ctx.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// withRequestID gives every request an ID, echoed in X-Amzn-RequestId (read
// by the AWS SDKs) and x-request-id (read by the OpenAI SDKs).
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := newRequestID()
		w.Header().Set("X-Amzn-RequestId", id)
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey, id)))
	})
}

// newRequestID returns a random UUID (version 4).
func newRequestID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}
