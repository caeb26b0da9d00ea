package gateway

import "context"

// Decision is what a security step decided about a request: who called
// (once known), the IAM action and resource judged, and the outcome. The
// steps that decide (authentication, authorization, limits and quotas)
// report decisions here instead of writing to the audit log themselves, so
// that none of them depends on another; whoever keeps the request's record
// (the audit log) puts a DecisionRecorder in the context.
type Decision struct {
	Principal  string
	AuthMethod string // sigv4, apikey, open
	KeyID      string // access-key or API-key ID, never a secret
	SourceIP   string
	Action     string
	Resource   string
	// Outcome is allow, deny, open (development mode), unauthenticated,
	// throttled or limited.
	Outcome   string
	ErrorCode string // exception name of a refusal
}

// DecisionRecorder keeps the decisions made about one request. Empty fields
// of a Decision leave what was recorded before unchanged.
type DecisionRecorder interface {
	RecordDecision(Decision)
}

type decisionKey struct{}

// WithDecisionRecorder returns ctx carrying r.
func WithDecisionRecorder(ctx context.Context, r DecisionRecorder) context.Context {
	return context.WithValue(ctx, decisionKey{}, r)
}

// CheckRecorder is a DecisionRecorder that also lists the checks made on
// behalf of a request after its own decision (Nested).
type CheckRecorder interface {
	RecordCheck(Decision)
}

type nestedKey struct{}

// Nested returns ctx in which decisions are the request's nested checks,
// not its own decision: an agent's tool authorizations and the model calls
// of its steps run under the InvokeAgent request, whose record keeps the
// decision on InvokeAgent and lists the checks beside it
// (CheckRecorder.RecordCheck); a recorder without a list drops them.
func Nested(ctx context.Context) context.Context {
	return context.WithValue(ctx, nestedKey{}, true)
}

// RecordDecision hands d to the request's DecisionRecorder, if any: as
// the request's decision, or, under Nested, as one of its checks.
func RecordDecision(ctx context.Context, d Decision) {
	r, ok := ctx.Value(decisionKey{}).(DecisionRecorder)
	if !ok || r == nil {
		return
	}
	if nested, _ := ctx.Value(nestedKey{}).(bool); nested {
		if c, ok := r.(CheckRecorder); ok {
			c.RecordCheck(d)
		}
		return
	}
	r.RecordDecision(d)
}
