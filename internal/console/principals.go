package console

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/outcrop/outcrop/internal/auth"
	"github.com/outcrop/outcrop/internal/llm"
)

// principalRoutes serve principals, their keys, policies and sessions.
type principalRoutes struct {
	g         *Admin
	authorize func(r *http.Request, action, resource string) error
	readBody  func(r *http.Request) ([]byte, error)
}

type principalJSON struct {
	Name      string `json:"name"`
	ARN       string `json:"arn"`
	CreatedAt any    `json:"createdAt"`
}

type accessKeyJSON struct {
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey,omitempty"`
	Status          string `json:"status"`
	CreatedAt       any    `json:"createdAt"`
	ExpiresAt       any    `json:"expiresAt"`
}

type apiKeyJSON struct {
	APIKeyID  string `json:"apiKeyId"`
	APIKey    string `json:"apiKey,omitempty"`
	Status    string `json:"status"`
	CreatedAt any    `json:"createdAt"`
	ExpiresAt any    `json:"expiresAt"`
	RevokedAt any    `json:"revokedAt"`
}

type policyJSON struct {
	Name      string          `json:"name"`
	Document  json.RawMessage `json:"document"`
	CreatedAt any             `json:"createdAt"`
}

func (p *principalRoutes) arn(name string) string { return auth.UserARN(p.g.AccountID, name) }

func (p *principalRoutes) store() *auth.Store { return p.g.Auth.Store() }

// removal is a handler that authorizes action on the principal named in
// the path, runs remove on it and the path's item (the path value named
// item: a key or session id, a policy name) and answers 204.
func (p *principalRoutes) removal(action, item string, remove func(ctx context.Context, principal, item string) error) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		name, err := p.principal(r, action)
		if err != nil {
			return err
		}
		if err := remove(r.Context(), name, r.PathValue(item)); err != nil {
			return mapStoreError(err)
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// principal authorizes action on the principal named in the path and
// returns its name.
func (p *principalRoutes) principal(r *http.Request, action string) (string, error) {
	name := r.PathValue("name")
	if err := p.authorize(r, action, p.arn(name)); err != nil {
		return "", err
	}
	return name, nil
}

func (p *principalRoutes) list(w http.ResponseWriter, r *http.Request) error {
	if err := p.authorize(r, "outcrop:ListPrincipals", "*"); err != nil {
		return err
	}
	ps, err := p.store().Principals(r.Context())
	if err != nil {
		return mapStoreError(err)
	}
	out := make([]principalJSON, 0, len(ps))
	for _, pi := range ps {
		out = append(out, principalJSON{Name: pi.Name, ARN: p.arn(pi.Name), CreatedAt: timeOrNil(pi.Created)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"principals": out})
	return nil
}

func (p *principalRoutes) create(w http.ResponseWriter, r *http.Request) error {
	b, err := p.readBody(r)
	if err != nil {
		return err
	}
	var in struct {
		Name string `json:"name"`
	}
	if err := decodeBody(b, &in); err != nil {
		return err
	}
	if in.Name == "" {
		return llm.Errorf(llm.KindValidation, "name is required")
	}
	if err := p.authorize(r, "outcrop:CreatePrincipal", p.arn(in.Name)); err != nil {
		return err
	}
	if err := p.store().AddPrincipal(r.Context(), in.Name); err != nil {
		return mapStoreError(err)
	}
	writeJSON(w, http.StatusCreated, principalJSON{Name: in.Name, ARN: p.arn(in.Name)})
	return nil
}

// get returns a principal with its keys, policies and live sessions.
func (p *principalRoutes) get(w http.ResponseWriter, r *http.Request) error {
	name, err := p.principal(r, "outcrop:GetPrincipal")
	if err != nil {
		return err
	}
	ctx := r.Context()
	aks, err := p.store().ListAccessKeys(ctx, name)
	if err != nil {
		return mapStoreError(err)
	}
	apks, err := p.store().ListAPIKeys(ctx, name)
	if err != nil {
		return mapStoreError(err)
	}
	pols, err := p.store().Policies(ctx, name)
	if err != nil {
		return mapStoreError(err)
	}
	sess, err := p.g.Sessions.List(ctx, name)
	if err != nil {
		return mapStoreError(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"name": name, "arn": p.arn(name),
		"accessKeys": accessKeys(aks), "apiKeys": apiKeys(apks), "policies": policies(pols), "sessions": sess,
	})
	return nil
}

func (p *principalRoutes) delete(w http.ResponseWriter, r *http.Request) error {
	name, err := p.principal(r, "outcrop:DeletePrincipal")
	if err != nil {
		return err
	}
	if err := p.store().DeletePrincipal(r.Context(), name); err != nil {
		return mapStoreError(err)
	}
	if err := p.g.Sessions.RevokeAll(r.Context(), name); err != nil {
		return mapStoreError(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func accessKeys(ks []auth.AccessKeyInfo) []accessKeyJSON {
	out := make([]accessKeyJSON, 0, len(ks))
	for _, k := range ks {
		out = append(out, accessKeyJSON{AccessKeyID: k.AccessKeyID, Status: k.Status, CreatedAt: timeOrNil(k.Created), ExpiresAt: timeOrNil(k.Expires)})
	}
	return out
}

func apiKeys(ks []auth.APIKeyInfo) []apiKeyJSON {
	out := make([]apiKeyJSON, 0, len(ks))
	for _, k := range ks {
		out = append(out, apiKeyJSON{APIKeyID: k.APIKeyID, Status: k.Status, CreatedAt: timeOrNil(k.Created), ExpiresAt: timeOrNil(k.Expires), RevokedAt: timeOrNil(k.Revoked)})
	}
	return out
}

func policies(ps []auth.PolicyInfo) []policyJSON {
	out := make([]policyJSON, 0, len(ps))
	for _, pi := range ps {
		out = append(out, policyJSON{Name: pi.Name, Document: rawDocument(pi.Document), CreatedAt: timeOrNil(pi.Created)})
	}
	return out
}

// rawDocument returns a stored policy document as JSON (it was validated
// when attached; anything else is returned as a JSON string).
func rawDocument(doc string) json.RawMessage {
	if json.Valid([]byte(doc)) {
		return json.RawMessage(doc)
	}
	b, _ := json.Marshal(doc)
	return b
}

func (p *principalRoutes) listAccessKeys(w http.ResponseWriter, r *http.Request) error {
	name, err := p.principal(r, "outcrop:ListAccessKeys")
	if err != nil {
		return err
	}
	ks, err := p.store().ListAccessKeys(r.Context(), name)
	if err != nil {
		return mapStoreError(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"accessKeys": accessKeys(ks)})
	return nil
}

// keyRequest is the optional body of key creation.
type keyRequest struct {
	TTL string `json:"ttl"`
}

func (p *principalRoutes) keyTTL(r *http.Request) (keyRequest, error) {
	var in keyRequest
	b, err := p.readBody(r)
	if err != nil {
		return in, err
	}
	return in, decodeBody(b, &in)
}

func (p *principalRoutes) createAccessKey(w http.ResponseWriter, r *http.Request) error {
	name, err := p.principal(r, "outcrop:CreateAccessKey")
	if err != nil {
		return err
	}
	in, err := p.keyTTL(r)
	if err != nil {
		return err
	}
	ttl, err := parseTTL(in.TTL)
	if err != nil {
		return err
	}
	k, err := p.store().CreateAccessKey(r.Context(), name, ttl)
	if err != nil {
		return mapStoreError(err)
	}
	out := accessKeyJSON{AccessKeyID: k.AccessKeyID, SecretAccessKey: k.SecretAccessKey, Status: k.Status, CreatedAt: timeOrNil(k.Created)}
	if ttl > 0 {
		out.ExpiresAt = timeOrNil(k.Created.Add(ttl))
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (p *principalRoutes) updateAccessKey(w http.ResponseWriter, r *http.Request) error {
	name, err := p.principal(r, "outcrop:UpdateAccessKey")
	if err != nil {
		return err
	}
	b, err := p.readBody(r)
	if err != nil {
		return err
	}
	var in struct {
		Status string `json:"status"`
	}
	if err := decodeBody(b, &in); err != nil {
		return err
	}
	if in.Status != auth.StatusActive && in.Status != auth.StatusInactive {
		return llm.Errorf(llm.KindValidation, "status must be %s or %s", auth.StatusActive, auth.StatusInactive)
	}
	if err := p.store().SetAccessKeyStatus(r.Context(), name, r.PathValue("id"), in.Status); err != nil {
		return mapStoreError(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (p *principalRoutes) listAPIKeys(w http.ResponseWriter, r *http.Request) error {
	name, err := p.principal(r, "outcrop:ListAPIKeys")
	if err != nil {
		return err
	}
	ks, err := p.store().ListAPIKeys(r.Context(), name)
	if err != nil {
		return mapStoreError(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"apiKeys": apiKeys(ks)})
	return nil
}

func (p *principalRoutes) createAPIKey(w http.ResponseWriter, r *http.Request) error {
	name, err := p.principal(r, "outcrop:CreateAPIKey")
	if err != nil {
		return err
	}
	in, err := p.keyTTL(r)
	if err != nil {
		return err
	}
	ttl, err := parseTTL(in.TTL)
	if err != nil {
		return err
	}
	info, key, err := p.store().CreateAPIKey(r.Context(), name, ttl)
	if err != nil {
		return mapStoreError(err)
	}
	writeJSON(w, http.StatusCreated, apiKeyJSON{APIKeyID: info.APIKeyID, APIKey: key, Status: info.Status,
		CreatedAt: timeOrNil(info.Created), ExpiresAt: timeOrNil(info.Expires)})
	return nil
}

func (p *principalRoutes) listPolicies(w http.ResponseWriter, r *http.Request) error {
	name, err := p.principal(r, "outcrop:ListPrincipalPolicies")
	if err != nil {
		return err
	}
	if err := p.exists(r, name); err != nil {
		return err
	}
	ps, err := p.store().Policies(r.Context(), name)
	if err != nil {
		return mapStoreError(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"policies": policies(ps)})
	return nil
}

// exists returns 404 for an unknown principal (Policies alone answers an
// empty list).
func (p *principalRoutes) exists(r *http.Request, name string) error {
	_, err := p.store().ListAccessKeys(r.Context(), name)
	return mapStoreError(err)
}

func (p *principalRoutes) getPolicy(w http.ResponseWriter, r *http.Request) error {
	name, err := p.principal(r, "outcrop:GetPrincipalPolicy")
	if err != nil {
		return err
	}
	ps, err := p.store().Policies(r.Context(), name)
	if err != nil {
		return mapStoreError(err)
	}
	for _, pi := range ps {
		if pi.Name == r.PathValue("policy") {
			writeJSON(w, http.StatusOK, policyJSON{Name: pi.Name, Document: rawDocument(pi.Document), CreatedAt: timeOrNil(pi.Created)})
			return nil
		}
	}
	return llm.Errorf(llm.KindNotFound, "principal %s has no policy %s", name, r.PathValue("policy"))
}

// putPolicy attaches the body (a policy document) under the path's name,
// validated exactly as `outcrop auth attach-policy` validates it; an invalid
// document is a 400 whose message is the validator's.
func (p *principalRoutes) putPolicy(w http.ResponseWriter, r *http.Request) error {
	name, err := p.principal(r, "outcrop:PutPrincipalPolicy")
	if err != nil {
		return err
	}
	b, err := p.readBody(r)
	if err != nil {
		return err
	}
	if err := p.store().AttachPolicy(r.Context(), name, r.PathValue("policy"), b); err != nil {
		return mapStoreError(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// validatePolicy checks a policy document without attaching it: 200
// {"valid":true}, or 400 with the validator's message. It needs no
// permission beyond being signed in.
func (p *principalRoutes) validatePolicy(w http.ResponseWriter, r *http.Request) error {
	b, err := p.readBody(r)
	if err != nil {
		return err
	}
	if _, ok := auth.PrincipalFrom(r.Context()); !ok {
		return &llm.Error{Kind: llm.KindUnauthenticated, Message: "Missing Authentication Token"}
	}
	if _, err := auth.ParsePolicy(b); err != nil {
		return &llm.Error{Kind: llm.KindValidation, Message: err.Error()}
	}
	writeJSON(w, http.StatusOK, map[string]bool{"valid": true})
	return nil
}

func (p *principalRoutes) listSessions(w http.ResponseWriter, r *http.Request) error {
	name, err := p.principal(r, "outcrop:ListSessions")
	if err != nil {
		return err
	}
	if err := p.exists(r, name); err != nil {
		return err
	}
	ss, err := p.g.Sessions.List(r.Context(), name)
	if err != nil {
		return mapStoreError(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions": ss})
	return nil
}
