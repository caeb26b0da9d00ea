package gateway

import (
	"time"

	"github.com/outcrop/outcrop/internal/llm"
)

// ModelInfo describes a served model to the API edge: what a listing shows
// and what token counting needs. It is a copy; changing it changes nothing.
type ModelInfo struct {
	// ID is the model's canonical ID, the one Call.Model carries.
	ID string
	// Aliases are other names the model answers to.
	Aliases []string
	// Profiles are the performance profiles the model offers.
	Profiles []llm.Latency
	// Created is reported in model listings (zero when unknown).
	Created time.Time
	// Type is the provider type of the first deployment ("openai", "local", …).
	Type string
	// Providers are the providers of the model's deployments, in order.
	Providers []llm.Provider
}

// Catalog resolves the model names clients send to the served models. The
// router implements it; the API edge and Gateway.Do consume it, so that
// every spelling of a model (its ID, an alias, a foundation-model or
// inference-profile ARN, a cross-region prefix such as "us.") becomes one
// canonical ID before any policy, quota or route sees it.
type Catalog interface {
	// Resolve returns the model name refers to.
	Resolve(name string) (ModelInfo, bool)
	// Catalog returns every served model, sorted by ID.
	Catalog() []ModelInfo
}

// Resolve returns the served model name refers to, through the catalog the
// gateway was built with; false when there is none or name is unknown.
// Callers that build Calls themselves (agents, flows, knowledge bases) may
// use it to refuse an unknown model up front; Do resolves Call.Model in
// any case.
func (g *Gateway) Resolve(name string) (ModelInfo, bool) {
	if g.models == nil || name == "" {
		return ModelInfo{}, false
	}
	return g.models.Resolve(name)
}

// canonicalize fills in c.Model for a call built without it (the internal
// callers: agents, flows, knowledge bases, which name a model as their
// user wrote it): the request's model name is resolved to its canonical ID,
// which becomes Call.Model and Request.Model, and Resource becomes the ARN
// of that ID, so an IAM Deny or a per-model quota on the canonical model
// also applies to a flow or an agent that names it by alias or ARN. A name
// the catalog does not know is left alone (the router refuses it).
func (g *Gateway) canonicalize(c *Call) {
	if c.Model != "" || c.Request == nil || c.Request.Model == "" || g.models == nil {
		return
	}
	m, ok := g.models.Resolve(c.Request.Model)
	if !ok {
		return
	}
	c.Model, c.Request.Model = m.ID, m.ID
	if g.resource != nil {
		c.Resource = g.resource(m.ID)
	}
}

// IAM actions of model calls, on every API (Converse and ConverseStream,
// InvokeModel, chat completions): AWS authorizes Converse as InvokeModel
// and ConverseStream as InvokeModelWithResponseStream.
const (
	ActionInvokeModel       = "bedrock:InvokeModel"
	ActionInvokeModelStream = "bedrock:InvokeModelWithResponseStream"
)

// InvokeAction is the IAM action of a model call: the streaming one when
// the client reads a stream.
func InvokeAction(stream bool) string {
	if stream {
		return ActionInvokeModelStream
	}
	return ActionInvokeModel
}

// IAMAction returns the action c is authorized as: Action when the caller
// set it, otherwise the model call's action for the operation, or
// "bedrock:" + Op for any other operation.
func (c *Call) IAMAction() string {
	if c.Action != "" {
		return c.Action
	}
	switch c.Op {
	case "Converse", "InvokeModel":
		return ActionInvokeModel
	case "ConverseStream", "InvokeModelWithResponseStream":
		return ActionInvokeModelStream
	case "ChatCompletions", "Completions":
		return InvokeAction(c.Stream)
	}
	return "bedrock:" + c.Op
}
