// Package routing resolves a model ID to its deployments and serves a call
// on them: it validates the requested performance profile, picks a
// deployment, queues for its capacity, retries retryable failures that
// happen before the client has received anything (invisibly to it) on other
// deployments and then on fallback models, breaks the circuit of failing
// deployments, and bounds every stream with TTFT, stall and deadline
// timeouts.
//
// The two profiles differ by construction. standard requests take the
// deployments in smooth weighted round robin. optimized requests are
// admitted ahead of queued standard ones, go to the replica that already
// served their cached prefix when it is not overloaded, otherwise to the
// better of two weighted-random replicas by live load × EWMA latency (power
// of two choices), and are hedged on a second replica when their first
// token is later than the deployment's recent P90 TTFT, within a budget.
//
// Nothing reaches a streaming client before its first token, so a failure
// before it is retried. A client that does not stream gets its answer only
// once it is complete, so the router reads the whole answer before handing
// it on: an upstream stream that breaks off part way fails that attempt,
// and the request goes on to the next deployment. When the attempt needs
// no stream timing (not hedged, no TTFT or stall timeout) and the provider
// prefers it (PreferUnary), it asks the upstream for one plain answer instead of
// a stream; the gateway then reports that answer's arrival as its first
// token.
//
// The Router's Route method is the gateway's final handler. A Router has no
// goroutines of its own: every goroutine it starts belongs to one request
// and ends with it.
package routing

import (
	"log/slog"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/llm"
)

// Deployment is one replica of a model.
type Deployment struct {
	Name     string
	Provider llm.Provider
	// Type is the provider type, e.g. "openai" or "local".
	Type string
	// Weight is the deployment's relative share of standard traffic and its
	// chance of being sampled by power-of-two-choices for optimized traffic.
	// A deployment with weight 0 is a standby: it only serves retries,
	// hedges and requests whose other deployments are all unavailable.
	Weight int
	// Profiles the deployment serves; empty means all of the model's.
	Profiles []llm.Latency
	// Timeout bounds one attempt; TTFTTimeout the wait for its first event
	// (0 = no limit).
	Timeout     time.Duration
	TTFTTimeout time.Duration
	// MaxConcurrency caps in-flight requests (0 = unlimited); further
	// requests wait in the deployment's priority queue.
	MaxConcurrency int
	// ReservedOptimized is how many of the MaxConcurrency slots standard
	// requests may never take, so that an optimized request finds a slot
	// without waiting behind standard ones (0 = none; must be below
	// MaxConcurrency).
	ReservedOptimized int
	// MaxRPS caps the rate at which attempts start, in requests per second
	// (0 = unlimited).
	MaxRPS float64
	// StallTimeout ends a stream idle for this long with a
	// ModelTimeoutException (0 = never).
	StallTimeout time.Duration

	st *state // set by New
}

func (d *Deployment) serves(p llm.Latency) bool {
	return len(d.Profiles) == 0 || slicesContains(d.Profiles, p)
}

func slicesContains(ps []llm.Latency, p llm.Latency) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}

// Model is a model clients can call.
type Model struct {
	ID          string
	Aliases     []string
	Description string
	Profiles    []llm.Latency
	Fallbacks   []string
	Deployments []*Deployment
	// Created is reported in model listings.
	Created time.Time

	rt   *modelState       // set by New
	info gateway.ModelInfo // set by New, returned by Resolve
}

// Offers reports whether the model offers profile p.
func (m *Model) Offers(p llm.Latency) bool { return slicesContains(m.Profiles, p) }

// modelState is the routing state shared by a model's deployments.
type modelState struct {
	mu       sync.Mutex // guards the deployments' wrrCurrent
	affinity *affinity  // nil when disabled
}

// Router serves calls on the deployments of the configured models.
type Router struct {
	models map[string]*Model // by ID and alias
	list   []*Model
	cfg    Config
	log    *slog.Logger
	now    func() time.Time

	// mu guards rng and the counters below.
	mu          sync.Mutex
	rng         *rand.Rand
	hedgeCredit float64 // hedges the budget currently allows
	requests    map[llm.Latency]uint64
	hedges      uint64
	retries     uint64
}

// New returns a router over models. Model IDs and aliases must be unique
// (config validation ensures it). Options default to the zero Config and a
// discarding logger.
func New(models []*Model, opts ...Option) *Router {
	r := &Router{
		models:   map[string]*Model{},
		cfg:      Config{}.withDefaults(),
		log:      slog.New(slog.DiscardHandler),
		now:      time.Now,
		rng:      rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1)),
		requests: map[llm.Latency]uint64{},
	}
	for _, o := range opts {
		o(r)
	}
	r.log = r.log.With("component", "routing")
	for _, m := range models {
		r.list = append(r.list, m)
		r.models[m.ID] = m
		for _, a := range m.Aliases {
			r.models[a] = m
		}
		m.rt = &modelState{}
		if r.cfg.AffinityEntries > 0 {
			m.rt.affinity = newAffinity(r.cfg.AffinityEntries)
		}
		for _, d := range m.Deployments {
			d.st = newState(d, &r.cfg, r.now)
		}
		m.info = m.describe()
	}
	sort.Slice(r.list, func(i, j int) bool { return r.list[i].ID < r.list[j].ID })
	return r
}

// Models returns the models sorted by ID.
func (r *Router) Models() []*Model { return r.list }

// describe returns what the API edge may know of m.
func (m *Model) describe() gateway.ModelInfo {
	in := gateway.ModelInfo{ID: m.ID, Aliases: m.Aliases, Profiles: m.Profiles, Created: m.Created}
	for _, d := range m.Deployments {
		if in.Type == "" {
			in.Type = d.Type
		}
		in.Providers = append(in.Providers, d.Provider)
	}
	return in
}

var _ gateway.Catalog = (*Router)(nil)

// Resolve is Lookup for the API edge (gateway.Catalog): the model name
// refers to, described without the router's state.
func (r *Router) Resolve(name string) (gateway.ModelInfo, bool) {
	if r == nil {
		return gateway.ModelInfo{}, false
	}
	m, ok := r.Lookup(name)
	if !ok {
		return gateway.ModelInfo{}, false
	}
	return m.info, true
}

// Catalog returns every model, sorted by ID (gateway.Catalog).
func (r *Router) Catalog() []gateway.ModelInfo {
	if r == nil {
		return nil
	}
	out := make([]gateway.ModelInfo, len(r.list))
	for i, m := range r.list {
		out[i] = m.info
	}
	return out
}

// Lookup resolves a model ID, alias or ARN. ARNs resolve by their resource
// name (the part after the last "/" of foundation-model/…,
// inference-profile/…, …); a cross-region prefix such as "us." is dropped
// when the name alone is unknown.
func (r *Router) Lookup(id string) (*Model, bool) {
	if m, ok := r.models[id]; ok {
		return m, true
	}
	name := id
	if strings.HasPrefix(id, "arn:") {
		if i := strings.LastIndexByte(id, '/'); i >= 0 {
			name = id[i+1:]
		}
		if m, ok := r.models[name]; ok {
			return m, true
		}
	}
	for _, p := range []string{"us.", "eu.", "apac.", "global."} {
		if strings.HasPrefix(name, p) {
			if m, ok := r.models[strings.TrimPrefix(name, p)]; ok {
				return m, true
			}
		}
	}
	return nil, false
}

// Profile returns the profile a request gets on m, or a ValidationException
// when the request asks for one m does not offer or for an unknown one.
func Profile(m *Model, req *llm.Request) (llm.Latency, error) {
	p := req.Performance
	switch p {
	case "":
		return llm.LatencyStandard, nil
	case llm.LatencyStandard, llm.LatencyOptimized:
	default:
		return "", llm.Errorf(llm.KindValidation, "performanceConfig.latency %q is not one of standard, optimized", p)
	}
	if !m.Offers(p) {
		return "", llm.Errorf(llm.KindValidation, "The model %s does not support the %s latency profile", m.ID, p)
	}
	return p, nil
}

// chain returns m followed by its fallback models.
func (r *Router) chain(m *Model) []*Model {
	out := []*Model{m}
	for _, f := range m.Fallbacks {
		if fm, ok := r.Lookup(f); ok && !containsModel(out, fm) {
			out = append(out, fm)
		}
	}
	return out
}

func containsModel(ms []*Model, m *Model) bool {
	for _, x := range ms {
		if x == m {
			return true
		}
	}
	return false
}
