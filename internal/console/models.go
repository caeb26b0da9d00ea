package console

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/modelstore"
	"github.com/outcrop/outcrop/internal/routing"
)

// modelRoutes serve the models' live state and the local model files.
type modelRoutes struct {
	g         *Admin
	authorize func(r *http.Request, action, resource string) error
	readBody  func(r *http.Request) ([]byte, error)
}

// modelStatusJSON is one served model with its deployments' live state.
type modelStatusJSON struct {
	ID          string                    `json:"id"`
	Aliases     []string                  `json:"aliases"`
	Description string                    `json:"description,omitempty"`
	Profiles    []string                  `json:"profiles"`
	Fallbacks   []string                  `json:"fallbacks"`
	Deployments []routing.DeploymentStats `json:"deployments"`
}

// status answers the served models, each with its deployments' health
// (breaker state, EWMA TTFT/OTPS, in-flight and queued requests), and the
// router's counters: /admin/routing's data grouped by model.
func (m *modelRoutes) status(w http.ResponseWriter, r *http.Request) error {
	if err := m.authorize(r, "outcrop:GetModelStatus", "*"); err != nil {
		return err
	}
	if m.g.Router == nil {
		return llm.Errorf(llm.KindNotFound, "no router")
	}
	st := m.g.Router.Stats()
	by := map[string][]routing.DeploymentStats{}
	for _, d := range st.Deployments {
		by[d.Model] = append(by[d.Model], d)
	}
	out := []modelStatusJSON{}
	for _, md := range m.g.Router.Models() {
		ms := modelStatusJSON{ID: md.ID, Aliases: nonNil(md.Aliases), Description: md.Description, Fallbacks: nonNil(md.Fallbacks),
			Profiles: []string{}, Deployments: by[md.ID]}
		for _, p := range md.Profiles {
			ms.Profiles = append(ms.Profiles, string(p))
		}
		if ms.Deployments == nil {
			ms.Deployments = []routing.DeploymentStats{}
		}
		out = append(out, ms)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"models": out, "requests": st.Requests, "hedges": st.Hedges, "hedgeRate": st.HedgeRate, "retries": st.Retries,
	})
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (m *modelRoutes) files() (*modelstore.Store, error) {
	if m.g.Models == nil {
		return nil, llm.Errorf(llm.KindNotFound, "no local model store")
	}
	return m.g.Models, nil
}

// listFiles answers `outcrop models ls`.
func (m *modelRoutes) listFiles(w http.ResponseWriter, r *http.Request) error {
	if err := m.authorize(r, "outcrop:ListModelFiles", "*"); err != nil {
		return err
	}
	s, err := m.files()
	if err != nil {
		return err
	}
	ms, err := s.List()
	if err != nil {
		return mapStoreError(err)
	}
	if ms == nil {
		ms = []modelstore.Model{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"models": ms, "pulls": m.g.pulls.list()})
	return nil
}

// removeFile answers `outcrop models rm ID`.
func (m *modelRoutes) removeFile(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := modelstore.CheckID(id); err != nil {
		return &llm.Error{Kind: llm.KindValidation, Message: err.Error()}
	}
	if err := m.authorize(r, "outcrop:DeleteModelFile", "arn:aws:bedrock:::model-file/"+id); err != nil {
		return err
	}
	s, err := m.files()
	if err != nil {
		return err
	}
	if err := s.Remove(id); err != nil {
		return mapStoreError(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// pull starts `outcrop models pull REF` in the background and answers 202
// with the pull's ID; GET /admin/v1/local-models/pulls/{id} reports its
// progress.
func (m *modelRoutes) pull(w http.ResponseWriter, r *http.Request) error {
	b, err := m.readBody(r)
	if err != nil {
		return err
	}
	var in struct {
		Ref    string `json:"ref"`
		ID     string `json:"id"`
		SHA256 string `json:"sha256"`
	}
	if err := decodeBody(b, &in); err != nil {
		return err
	}
	if in.Ref == "" || len(in.Ref) > 2048 {
		return llm.Errorf(llm.KindValidation, "ref is required: a catalog name, owner/repo/file.gguf or an http(s) URL")
	}
	if in.ID != "" {
		if err := modelstore.CheckID(in.ID); err != nil {
			return &llm.Error{Kind: llm.KindValidation, Message: err.Error()}
		}
	}
	if in.SHA256 != "" && (len(in.SHA256) != 64 || strings.Trim(strings.ToLower(in.SHA256), "0123456789abcdef") != "") {
		return llm.Errorf(llm.KindValidation, "sha256 must be 64 hex digits")
	}
	if _, _, err := modelstore.Resolve(in.Ref, ""); err != nil {
		return &llm.Error{Kind: llm.KindValidation, Message: err.Error()}
	}
	if err := m.authorize(r, "outcrop:PullModelFile", "*"); err != nil {
		return err
	}
	if _, err := m.files(); err != nil {
		return err
	}
	if m.g.Pull == nil {
		return llm.Errorf(llm.KindValidation, "pulling models is not enabled on this server")
	}
	p := m.g.pulls.start(in.Ref)
	// The pull outlives the request: it runs on a context of its own,
	// bounded by an hour, and ends by itself.
	base := context.WithoutCancel(r.Context())
	go func() {
		ctx, cancel := context.WithTimeout(base, time.Hour)
		defer cancel()
		md, err := m.g.Pull(ctx, in.Ref, modelstore.PullOptions{ID: in.ID, SHA256: strings.ToLower(in.SHA256), Progress: p.progress})
		p.finish(md, err)
	}()
	writeJSON(w, http.StatusAccepted, p.snapshot())
	return nil
}

func (m *modelRoutes) pullStatus(w http.ResponseWriter, r *http.Request) error {
	if err := m.authorize(r, "outcrop:ListModelFiles", "*"); err != nil {
		return err
	}
	p, ok := m.g.pulls.get(r.PathValue("id"))
	if !ok {
		return llm.Errorf(llm.KindNotFound, "no pull %s", r.PathValue("id"))
	}
	writeJSON(w, http.StatusOK, p.snapshot())
	return nil
}

// pulls are the model downloads started through the API, kept in memory
// (a pull belongs to the replica that runs it).
type pulls struct {
	// mu guards m.
	mu sync.Mutex
	m  map[string]*pullState
}

func newPulls() *pulls { return &pulls{m: map[string]*pullState{}} }

// pullState is one download's progress.
type pullState struct {
	// mu guards the fields below.
	mu       sync.Mutex
	id, ref  string
	started  time.Time
	done     int64
	total    int64
	finished bool
	err      string
	model    *modelstore.Model
}

// PullJSON is a pull's progress.
type PullJSON struct {
	ID        string            `json:"pullId"`
	Ref       string            `json:"ref"`
	StartedAt time.Time         `json:"startedAt"`
	Bytes     int64             `json:"bytes"`
	Total     int64             `json:"total"` // -1 when unknown
	State     string            `json:"state"` // running, done, failed
	Error     string            `json:"error,omitempty"`
	Model     *modelstore.Model `json:"model,omitempty"`
}

func (p *pulls) start(ref string) *pullState {
	s := &pullState{id: "pull-" + randomToken(6), ref: ref, started: time.Now().UTC(), total: -1}
	p.mu.Lock()
	if len(p.m) >= 100 { // forget finished pulls first
		for id, o := range p.m {
			o.mu.Lock()
			f := o.finished
			o.mu.Unlock()
			if f {
				delete(p.m, id)
			}
		}
	}
	p.m[s.id] = s
	p.mu.Unlock()
	return s
}

func (p *pulls) get(id string) (*pullState, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.m[id]
	return s, ok
}

func (p *pulls) list() []PullJSON {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := []PullJSON{}
	for _, s := range p.m {
		out = append(out, s.snapshot())
	}
	return out
}

func (s *pullState) progress(done, total int64) {
	s.mu.Lock()
	s.done, s.total = done, total
	s.mu.Unlock()
}

func (s *pullState) finish(m modelstore.Model, err error) {
	s.mu.Lock()
	s.finished = true
	if err != nil {
		s.err = err.Error()
	} else {
		s.model = &m
	}
	s.mu.Unlock()
}

func (s *pullState) snapshot() PullJSON {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := "running"
	switch {
	case s.finished && s.err != "":
		st = "failed"
	case s.finished:
		st = "done"
	}
	return PullJSON{ID: s.id, Ref: s.ref, StartedAt: s.started, Bytes: s.done, Total: s.total, State: st, Error: s.err, Model: s.model}
}
