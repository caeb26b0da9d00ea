package auth

import "context"

// Named returns the principal called name with its current policies, for
// work done later on its behalf outside a request (a flow execution that
// the job runner finishes after a crash). In development mode, with no
// principals stored, "anonymous" is the open anonymous principal.
func (a *Authenticator) Named(ctx context.Context, name string) (*Principal, error) {
	if name == Anonymous().Name && a.open(ctx) {
		return Anonymous(), nil
	}
	return a.principal(ctx, name, "resumed", "")
}
