package auth

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/outcrop/outcrop/internal/audit"
	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/quota"
	"github.com/outcrop/outcrop/internal/store"
)

// Security bundles the security subsystems built from configuration, so
// that wiring them is three calls:
//
//	sec, err := auth.SetupSecurity(ctx, cfg, db, log, auth.Options{WriteError: …})
//	httpapi.Deps{Middleware: sec.Middleware(), …}
//	gateway.Options{Stages: append(sec.Stages(), guardrailStage, …), …}
//	defer sec.Close()
type Security struct {
	// Auth authenticates requests.
	Auth *Authenticator
	// Audit is the audit log; nil when audit.enabled is false.
	Audit *audit.Log
	// Quotas applies request limits and quotas.
	Quotas *quota.Quotas

	closeQuotas func() error
}

// SetupSecurity builds authentication (Setup), the audit log and quotas
// from cfg on db. It fails when the server may not run open (see
// OpenDecision) or a section is invalid.
func SetupSecurity(ctx context.Context, cfg *config.Config, db *store.DB, log *slog.Logger, opts Options) (*Security, error) {
	on, ao, err := audit.ParseConfig(cfg)
	if err != nil {
		return nil, err
	}
	a, err := Setup(ctx, cfg, db, log, opts)
	if err != nil {
		return nil, err
	}
	q, closeQ, err := quota.Setup(ctx, cfg, log)
	if err != nil {
		a.Close()
		return nil, err
	}
	s := &Security{Auth: a, Quotas: q, closeQuotas: closeQ}
	if on {
		ao.Logger = log
		s.Audit = audit.New(db, ao)
	}
	return s, nil
}

// Middleware returns the HTTP middleware, outermost first: the audit
// entry, then authentication.
func (s *Security) Middleware() []func(http.Handler) http.Handler {
	var mw []func(http.Handler) http.Handler
	if s.Audit != nil {
		mw = append(mw, s.Audit.Middleware)
	}
	return append(mw, s.Auth.Middleware)
}

// Stages returns the pipeline stages, in order: audit, authorization,
// limits and quotas. Later stages (guardrails, caches) go after them.
func (s *Security) Stages() []gateway.Stage {
	return []gateway.Stage{audit.Stage{}, Stage{}, s.Quotas}
}

// Close stops the authenticator, flushes the audit log and releases the
// quota backend.
func (s *Security) Close() error {
	var errs []error
	errs = append(errs, s.Auth.Close())
	if s.Audit != nil {
		errs = append(errs, s.Audit.Close())
	}
	if s.closeQuotas != nil {
		errs = append(errs, s.closeQuotas())
	}
	return errors.Join(errs...)
}
