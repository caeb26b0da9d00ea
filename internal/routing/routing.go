// Package routing resolves a model ID to its deployments and serves a call
// on one of them: it validates the requested performance profile, picks a
// deployment, retries retryable failures that happen before the first event
// (invisibly to the client) on other deployments and then on fallback models.
//
// The Router's Route method is the gateway's final handler.
package routing

import (
	"context"
	"errors"
	"fmt"
	"io"
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
	// Weight is the deployment's relative share of traffic.
	Weight int
	// Profiles the deployment serves; empty means all of the model's.
	Profiles []llm.Latency
	// Timeout bounds one attempt; TTFTTimeout the wait for its first event.
	Timeout     time.Duration
	TTFTTimeout time.Duration
	// MaxConcurrency caps in-flight requests (0 = unlimited).
	MaxConcurrency int
	// StallTimeout ends a stream idle for this long (0 = never).
	StallTimeout time.Duration
}

func (d *Deployment) serves(p llm.Latency) bool {
	if len(d.Profiles) == 0 {
		return true
	}
	for _, q := range d.Profiles {
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
}

// Offers reports whether the model offers profile p.
func (m *Model) Offers(p llm.Latency) bool {
	for _, q := range m.Profiles {
		if q == p {
			return true
		}
	}
	return false
}

// Router serves calls on the deployments of the configured models.
type Router struct {
	models map[string]*Model // by ID and alias
	list   []*Model

	mu  sync.Mutex // guards rng
	rng *rand.Rand
}

// New returns a router over models. Model IDs and aliases must be unique
// (config validation ensures it).
func New(models []*Model) *Router {
	r := &Router{models: map[string]*Model{}, rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))}
	for _, m := range models {
		r.list = append(r.list, m)
		r.models[m.ID] = m
		for _, a := range m.Aliases {
			r.models[a] = m
		}
	}
	sort.Slice(r.list, func(i, j int) bool { return r.list[i].ID < r.list[j].ID })
	return r
}

// Models returns the models sorted by ID.
func (r *Router) Models() []*Model { return r.list }

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
// when the request asks for one m does not offer.
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

// Route serves c: it is the gateway's final handler.
func (r *Router) Route(ctx context.Context, c *gateway.Call) (llm.Stream, error) {
	m, ok := r.Lookup(c.Request.Model)
	if !ok {
		return nil, llm.Errorf(llm.KindNotFound, "The model %s does not exist or you do not have access to it", c.Request.Model)
	}
	profile, err := Profile(m, c.Request)
	if err != nil {
		return nil, err
	}
	var lastErr error
	attempts := 0
	tried := map[string]bool{}
	for _, mm := range r.chain(m) {
		if tried[mm.ID] {
			continue
		}
		tried[mm.ID] = true
		for _, d := range r.order(mm, profile) {
			attempts++
			c.SetServed(llm.Served{Model: mm.ID, Deployment: d.Name, Provider: d.Type, Profile: profile, Attempts: attempts})
			s, err := r.attempt(ctx, c, mm, d)
			if err == nil {
				return s, nil
			}
			lastErr = err
			if ctx.Err() != nil {
				return nil, llm.AsError(ctx.Err())
			}
			if !llm.IsRetryable(err) {
				return nil, err
			}
		}
	}
	if lastErr == nil {
		lastErr = llm.Errorf(llm.KindUnavailable, "no deployment of %s serves the %s profile", m.ID, profile)
	}
	return nil, lastErr
}

// chain returns m followed by its fallback models.
func (r *Router) chain(m *Model) []*Model {
	out := []*Model{m}
	for _, f := range m.Fallbacks {
		if fm, ok := r.Lookup(f); ok {
			out = append(out, fm)
		}
	}
	return out
}

// order returns the deployments of m that serve profile, in the order to
// try them: a weighted random permutation.
func (r *Router) order(m *Model, profile llm.Latency) []*Deployment {
	var ds []*Deployment
	total := 0
	for _, d := range m.Deployments {
		if d.serves(profile) && d.Weight > 0 {
			ds = append(ds, d)
			total += d.Weight
		}
	}
	out := make([]*Deployment, 0, len(ds))
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(ds) > 0 {
		x := r.rng.IntN(total)
		for i, d := range ds {
			if x < d.Weight {
				out = append(out, d)
				total -= d.Weight
				ds = append(ds[:i], ds[i+1:]...)
				break
			}
			x -= d.Weight
		}
	}
	return out
}

// attempt calls one deployment and waits for its first event, so that a
// failure before anything reaches the client can be retried elsewhere.
func (r *Router) attempt(ctx context.Context, c *gateway.Call, m *Model, d *Deployment) (llm.Stream, error) {
	actx, cancel := context.WithCancel(ctx)
	if d.Timeout > 0 {
		actx, cancel = context.WithTimeout(ctx, d.Timeout)
	}
	req := c.Request
	if req.Model != m.ID {
		req = req.Clone()
		req.Model = m.ID
	}
	idx := c.AddAttempt(gateway.Attempt{Deployment: d.Name, Start: time.Now()})
	fail := func(err error) (llm.Stream, error) {
		cancel()
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			err = &llm.Error{Kind: llm.KindTimeout, Message: fmt.Sprintf("deployment %s did not answer in time", d.Name), Err: err}
		}
		c.UpdateAttempt(idx, func(a *gateway.Attempt) { a.Err = err })
		return nil, err
	}
	s, err := d.Provider.ConverseStream(actx, req)
	if err != nil {
		return fail(err)
	}
	var first llm.Event
	var ferr error
	if d.TTFTTimeout > 0 {
		first, ferr = nextWithin(s, d.TTFTTimeout, cancel)
	} else {
		first, ferr = s.Next()
	}
	if ferr != nil && !errors.Is(ferr, io.EOF) {
		s.Close()
		return fail(ferr)
	}
	c.UpdateAttempt(idx, func(a *gateway.Attempt) { a.FirstEvent = time.Now(); a.Winner = true })
	return &peeked{first: first, firstErr: ferr, s: s, cancel: cancel}, nil
}

// nextWithin returns s.Next() or a timeout error after d, cancelling the
// attempt so that the pending Next returns.
func nextWithin(s llm.Stream, d time.Duration, cancel context.CancelFunc) (llm.Event, error) {
	type result struct {
		ev  llm.Event
		err error
	}
	ch := make(chan result, 1)
	go func() { // ends when Next returns, which cancel guarantees
		ev, err := s.Next()
		ch <- result{ev, err}
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case r := <-ch:
		return r.ev, r.err
	case <-t.C:
		cancel()
		<-ch
		return llm.Event{}, &llm.Error{Kind: llm.KindTimeout, Message: fmt.Sprintf("no first token within %v", d)}
	}
}

// peeked is a stream whose first event was already read.
type peeked struct {
	first    llm.Event
	firstErr error
	used     bool
	s        llm.Stream
	cancel   context.CancelFunc
}

func (p *peeked) Next() (llm.Event, error) {
	if !p.used {
		p.used = true
		return p.first, p.firstErr
	}
	return p.s.Next()
}

func (p *peeked) Close() error {
	err := p.s.Close()
	p.cancel()
	return err
}
