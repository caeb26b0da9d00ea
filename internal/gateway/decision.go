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

// RecordDecision hands d to the request's DecisionRecorder, if any.
func RecordDecision(ctx context.Context, d Decision) {
	if r, ok := ctx.Value(decisionKey{}).(DecisionRecorder); ok && r != nil {
		r.RecordDecision(d)
	}
}
