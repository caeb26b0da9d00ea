package app

import (
	"context"
	"net/http"

	"github.com/outcrop/outcrop/internal/audit"
	"github.com/outcrop/outcrop/internal/auth"
	"github.com/outcrop/outcrop/internal/console"
	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/promptrouter"
	"github.com/outcrop/outcrop/internal/quota"
	"github.com/outcrop/outcrop/internal/store"
)

// security holds the subsystems that decide who may do what: the
// authenticator, the audit log (nil when audit.enabled is false) and the
// limits and quotas. Each is built here from its own package; none of those
// packages builds or imports another.
type security struct {
	auth   *auth.Authenticator
	audit  *audit.Log
	quotas *quota.Quotas
	// sessions are the web console's sessions, which the authenticator
	// accepts as the keys they were made from (internal/console).
	sessions *console.Sessions
}

// buildSecurity builds authentication, the audit log and quotas from the
// configuration, registering a closer for each. writeError writes
// authentication failures in the API's error shape (httpapi's); resolve
// gives the canonical ID of a model named in the quotas and limits sections.
func (a *App) buildSecurity(ctx context.Context, db *store.DB, writeError func(http.ResponseWriter, *http.Request, error), resolve func(string) (string, bool)) (*security, error) {
	cfg, log := a.cfg, a.log
	on, ao, err := audit.ParseConfig(cfg)
	if err != nil {
		return nil, err
	}
	cc, err := console.ParseConfig(cfg)
	if err != nil {
		return nil, err
	}
	sessions := console.NewSessions(db, cc.SessionTTL.D())
	authn, err := auth.Setup(ctx, cfg, db, log, auth.Options{WriteError: writeError, Sessions: sessions})
	if err != nil {
		return nil, err
	}
	a.onClose(authn.Close)
	q, closeQ, err := quota.Setup(ctx, cfg, log, resolve)
	if err != nil {
		return nil, err
	}
	a.onClose(closeQ)
	s := &security{auth: authn, quotas: q, sessions: sessions}
	if on {
		ao.Logger = log
		s.audit = audit.New(db, ao)
		a.onClose(s.audit.Close)
	}
	return s, nil
}

// middleware is the HTTP middleware of every API route, outermost first:
// the audit entry, then authentication.
func (s *security) middleware() []func(http.Handler) http.Handler {
	var mw []func(http.Handler) http.Handler
	if s.audit != nil {
		mw = append(mw, s.audit.Middleware)
	}
	return append(mw, s.auth.Middleware)
}

// pipeline is the list of inference stages, declared here and nowhere
// else, in order (their post sides run in reverse): the audit record,
// authorization (IAM policy on the call's canonical model), request limits
// and quotas, the input/output guardrail, the prompt-router trace (a call
// on a prompt router arrives with the chosen model; this reports the
// choice), then the response cache when one is configured (nil otherwise),
// after the input guardrail so that the guardrail's output side also sees
// cached answers. The router is the final handler after them.
func pipeline(sec *security, guard, cache gateway.Stage) []gateway.Stage {
	stages := []gateway.Stage{audit.Stage{}, auth.Stage{}, sec.quotas, guard, promptrouter.Stage{}}
	if cache != nil {
		stages = append(stages, cache)
	}
	return stages
}

// embeddingPipeline is the list of stages of embedding calls
// (/v1/embeddings, Titan InvokeModel): the audit record, authorization and
// request limits and quotas, as for model calls; guardrails, caches and
// prompt routers are about generated text and do not apply. Its final
// handler is embed.Final.
func embeddingPipeline(sec *security) []gateway.Stage {
	return []gateway.Stage{audit.Stage{}, auth.Stage{}, sec.quotas}
}
