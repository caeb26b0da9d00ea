package guardrail

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/store"
)

// Config is the guardrails section of the configuration file:
//
//	guardrails:
//	  disabled: false          # true refuses requests that carry guardrailConfig (ValidationException)
//	  sync_window: 800         # bytes of streamed text held back per evaluation in sync mode
//	  cache_ttl: 2s            # how long a compiled guardrail version is reused
//	  entity_model: ""         # Outcrop model ID asked for NAME/ADDRESS (ModelEntityDetector); empty = off
//	  llama_guard_model: ""    # Outcrop model ID of a Llama Guard 3 model for content filters; empty = built-in
//	  definitions:             # guardrails kept in the store from config, CreateGuardrail shape
//	    - name: support
//	      blockedInputMessaging: Sorry, I can't help with that.
//	      blockedOutputsMessaging: Sorry, I can't share that.
//	      sensitiveInformationPolicyConfig:
//	        piiEntitiesConfig: [{type: EMAIL, action: ANONYMIZE}]
//
// A configured guardrail's ID is ConfigID(name) ("cfg" + 9 characters), the
// same on every start and every replica; its DRAFT is rewritten when the
// definition changes, and `outcrop guardrails version` freezes versions.
type Config struct {
	Disabled        bool            `yaml:"disabled"`
	SyncWindow      int             `yaml:"sync_window"`
	CacheTTL        config.Duration `yaml:"cache_ttl"`
	EntityModel     string          `yaml:"entity_model"`
	LlamaGuardModel string          `yaml:"llama_guard_model"`
	Definitions     []yaml.Node     `yaml:"definitions"`
}

// ParseConfig decodes the guardrails section strictly and validates the
// definitions in it.
func ParseConfig(cfg *config.Config) (Config, []*Definition, error) {
	var c Config
	if err := config.Decode(cfg.Guardrails, &c); err != nil {
		return c, nil, fmt.Errorf("guardrails: %w", err)
	}
	if c.SyncWindow < 0 {
		return c, nil, fmt.Errorf("guardrails.sync_window: %d is negative", c.SyncWindow)
	}
	var defs []*Definition
	for i, n := range c.Definitions {
		var v any
		if err := n.Decode(&v); err != nil {
			return c, nil, fmt.Errorf("guardrails.definitions[%d] (line %d): %w", i, n.Line, err)
		}
		b, err := json.Marshal(v)
		if err != nil {
			return c, nil, fmt.Errorf("guardrails.definitions[%d] (line %d): %w", i, n.Line, err)
		}
		var d Definition
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&d); err != nil {
			return c, nil, fmt.Errorf("guardrails.definitions[%d] (line %d): %w", i, n.Line, err)
		}
		if err := Validate(&d); err != nil {
			return c, nil, fmt.Errorf("guardrails.definitions[%d] (line %d): %w", i, n.Line, err)
		}
		defs = append(defs, &d)
	}
	return c, defs, nil
}

// Subsystem is the guardrail machinery app wires in: the registry behind
// the control plane and ApplyGuardrail, the engine, the pipeline stage and
// the intervention metrics.
type Subsystem struct {
	Registry *Registry
	Engine   *Engine
	Stage    *Stage
	Metrics  *Metrics
}

// SubsystemOptions are what New needs besides the configuration.
type SubsystemOptions struct {
	DB *store.DB
	// Metrics registers outcrop_guardrail_interventions_total; may be nil.
	Metrics prometheus.Registerer
	// Models calls a model served by Outcrop (normally Gateway.Do), for
	// entity_model and llama_guard_model; may be nil when neither is set.
	Models gateway.Handler
	// Upstream is Stage.Upstream: the models whose guardrails their
	// upstream applies. May be nil.
	Upstream func(model string) bool
}

// New builds the guardrail subsystem from cfg and writes the configured
// definitions to the store.
func New(ctx context.Context, cfg *config.Config, o SubsystemOptions) (*Subsystem, error) {
	c, defs, err := ParseConfig(cfg)
	if err != nil {
		return nil, err
	}
	reg := NewRegistry(o.DB, RegistryOptions{Region: cfg.Server.Region, AccountID: cfg.Server.AccountID, CacheTTL: time.Duration(c.CacheTTL)})
	for _, d := range defs {
		if _, err := reg.Ensure(ctx, d); err != nil {
			return nil, fmt.Errorf("guardrails: definition %s: %w", d.Name, err)
		}
	}
	// Load the embedded classifier and word list now rather than on the
	// first request.
	if _, err := BuiltinModel(); err != nil {
		return nil, err
	}
	profanity()
	s := &Subsystem{Registry: reg, Engine: &Engine{}, Metrics: NewMetrics(o.Metrics)}
	if c.EntityModel != "" || c.LlamaGuardModel != "" {
		if o.Models == nil {
			return nil, fmt.Errorf("guardrails: entity_model/llama_guard_model need a model handler")
		}
	}
	if c.EntityModel != "" {
		s.Engine.Entities = &ModelEntityDetector{Provider: HandlerProvider{H: o.Models}, Model: c.EntityModel}
	}
	if c.LlamaGuardModel != "" {
		m, err := BuiltinModel()
		if err != nil {
			return nil, err
		}
		s.Engine.Classifier = &LlamaGuardClassifier{Provider: HandlerProvider{H: o.Models}, Model: c.LlamaGuardModel, Fallback: m}
	}
	s.Stage = &Stage{Resolver: reg, Engine: s.Engine, Recorder: s.Metrics, SyncWindow: c.SyncWindow, Refuse: c.Disabled, Upstream: o.Upstream}
	return s, nil
}

// HandlerProvider adapts a gateway handler (such as Gateway.Do) to
// llm.Provider, so that detectors can call models served by Outcrop.
type HandlerProvider struct {
	H gateway.Handler
}

var _ llm.Provider = HandlerProvider{}

// ConverseStream implements llm.Provider.
func (p HandlerProvider) ConverseStream(ctx context.Context, req *llm.Request) (llm.Stream, error) {
	return p.H(ctx, &gateway.Call{API: "internal", Op: "ConverseStream", Action: "bedrock:InvokeModelWithResponseStream", Request: req, Stream: true})
}
