package auth

import (
	"context"
	"strconv"

	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/llm"
)

// Authorize evaluates p's policies for action on resource. It returns nil
// when allowed and an AccessDeniedException otherwise. Development-mode
// principals are allowed everything.
func Authorize(p *Principal, action, resource string, conds Conditions) error {
	if p == nil {
		return errMissingToken()
	}
	if p.open {
		return nil
	}
	switch Evaluate(p.policies, action, resource, conds) {
	case Allow:
		return nil
	case ExplicitDeny:
		return &llm.Error{Kind: llm.KindAccessDenied, Message: "User: " + p.ARN + " is not authorized to perform: " + action +
			" on resource: " + resource + " with an explicit deny in an identity-based policy"}
	}
	return &llm.Error{Kind: llm.KindAccessDenied, Message: "User: " + p.ARN + " is not authorized to perform: " + action +
		" on resource: " + resource + " because no identity-based policy allows the " + action + " action"}
}

// Check authorizes action on resource for the principal carried by ctx,
// for handlers outside the inference pipeline (control planes). conds may
// be nil; the principal's own keys (aws:username, aws:SourceIp, …) are
// added. The decision is noted in the request's audit entry.
func Check(ctx context.Context, action, resource string, conds Conditions) error {
	p, ok := PrincipalFrom(ctx)
	if !ok {
		return errMissingToken()
	}
	if conds == nil {
		conds = Conditions{}
	}
	principalConditions(conds, p)
	err := Authorize(p, action, resource, conds)
	noteDecision(ctx, p, action, resource, err)
	return err
}

// noteDecision reports an authorization decision for the request's record
// (gateway.RecordDecision).
func noteDecision(ctx context.Context, p *Principal, action, resource string, err error) {
	d := "allow"
	if p.open {
		d = "open"
	}
	if err != nil {
		d = "deny"
	}
	gateway.RecordDecision(ctx, gateway.Decision{Principal: p.Name, Action: action, Resource: resource, Outcome: d})
}

func principalConditions(c Conditions, p *Principal) {
	c["aws:username"] = p.Name
	c["aws:principalarn"] = p.ARN
	c["aws:sourceip"] = p.SourceIP
	c["aws:securetransport"] = strconv.FormatBool(p.SecureTransport)
	c["outcrop:authmethod"] = p.Method
}

// CallConditions returns the condition keys of an inference call; see
// docs/SECURITY.md for the list.
func CallConditions(c *gateway.Call, p *Principal) Conditions {
	conds := make(Conditions, 12)
	principalConditions(conds, p)
	conds["outcrop:api"] = c.API
	conds["outcrop:operation"] = c.Op
	conds["outcrop:stream"] = strconv.FormatBool(c.Stream)
	if r := c.Request; r != nil {
		lat := string(r.Performance)
		if lat == "" {
			lat = string(llm.LatencyStandard)
		}
		conds["bedrock:performanceconfiglatency"] = lat
		conds["outcrop:modelid"] = r.Model
		if r.Inference.MaxTokens != nil {
			conds["outcrop:maxtokens"] = strconv.Itoa(*r.Inference.MaxTokens)
		}
		if r.Guardrail != nil && r.Guardrail.ID != "" {
			conds["bedrock:guardrailidentifier"] = r.Guardrail.ID
		}
	}
	return conds
}

// ActionOf returns the IAM action of a call (gateway.Call.IAMAction).
func ActionOf(c *gateway.Call) string { return c.IAMAction() }

// Stage is the pipeline's authorization stage: it takes the principal put
// in the context by the middleware, records it on the call, and evaluates
// the principal's policies for the call's action, resource and request
// fields. A call without a principal is refused.
type Stage struct{}

// Name implements gateway.Stage.
func (Stage) Name() string { return "authorize" }

// Wrap implements gateway.Stage.
func (Stage) Wrap(next gateway.Handler) gateway.Handler {
	return func(ctx context.Context, c *gateway.Call) (llm.Stream, error) {
		p, ok := PrincipalFrom(ctx)
		if !ok {
			return nil, errMissingToken()
		}
		c.Principal = p.Name
		action := ActionOf(c)
		var conds Conditions
		if p.conditional {
			conds = CallConditions(c, p)
		}
		err := Authorize(p, action, c.Resource, conds)
		noteDecision(ctx, p, action, c.Resource, err)
		if err != nil {
			return nil, err
		}
		return next(ctx, c)
	}
}

var _ gateway.Stage = Stage{}
