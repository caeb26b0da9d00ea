package console

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/outcrop/outcrop/internal/auth"
	"github.com/outcrop/outcrop/internal/llm"
)

// sessionInfo is the session API's answer.
type sessionInfo struct {
	Principal string `json:"principal"`
	Account   string `json:"account"`
	CSRFToken string `json:"csrfToken"`
	ExpiresAt string `json:"expiresAt,omitempty"`
	OpenMode  bool   `json:"openMode"`
	// AuthMethod and KeyID name the key the session stands for.
	AuthMethod string `json:"authMethod,omitempty"`
	KeyID      string `json:"keyId,omitempty"`
}

// signIn is the body of POST /console/api/session.
type signIn struct {
	APIKey          string `json:"apiKey"`
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
}

// ParseSignIn decodes and checks a sign-in body: exactly one of an API key
// or an access-key pair.
func ParseSignIn(b []byte) (apiKey, accessKeyID, secret string, err error) {
	var in signIn
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return "", "", "", errors.New("the body must be a JSON object with apiKey, or accessKeyId and secretAccessKey")
	}
	if dec.More() {
		return "", "", "", errors.New("the body must hold one JSON object")
	}
	switch {
	case in.APIKey != "" && (in.AccessKeyID != "" || in.SecretAccessKey != ""):
		return "", "", "", errors.New("give either apiKey or accessKeyId and secretAccessKey, not both")
	case in.APIKey != "":
		return in.APIKey, "", "", nil
	case in.AccessKeyID != "" && in.SecretAccessKey != "":
		return "", in.AccessKeyID, in.SecretAccessKey, nil
	case in.AccessKeyID != "" || in.SecretAccessKey != "":
		return "", "", "", errors.New("accessKeyId and secretAccessKey go together")
	}
	return "", "", "", errors.New("apiKey, or accessKeyId and secretAccessKey, is required")
}

func (c *Console) postSession(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		writeJSONError(w, http.StatusForbidden, "cross-origin sign-in refused")
		return
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, c.o.MaxBodyBytes+1))
	if err != nil || int64(len(b)) > c.o.MaxBodyBytes {
		writeJSONError(w, http.StatusBadRequest, "the sign-in body is unreadable or too large")
		return
	}
	apiKey, akid, secret, err := ParseSignIn(b)
	if err != nil {
		writeJSONError(w, http.StatusBadRequest, err.Error())
		return
	}
	var p *auth.Principal
	if apiKey != "" {
		p, err = c.o.Auth.SignInAPIKey(r.Context(), apiKey)
	} else {
		p, err = c.o.Auth.SignInAccessKey(r.Context(), akid, secret)
	}
	if err != nil {
		e := llm.AsError(err)
		if e.Kind == llm.KindInternal {
			c.log.Error("sign-in failed", "error", err)
			writeJSONError(w, http.StatusInternalServerError, "internal error")
			return
		}
		c.log.Info("sign-in refused", "source_ip", clientIP(r), "reason", e.Message)
		writeJSONError(w, http.StatusUnauthorized, e.Message)
		return
	}
	sess, cookie, err := c.o.Sessions.Create(r.Context(), p, clientIP(r), r.UserAgent())
	if err != nil {
		c.log.Error("create session", "error", err)
		writeJSONError(w, http.StatusInternalServerError, "internal error")
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: cookie, Path: "/", Expires: sess.Expires,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
	c.log.Info("signed in", "principal", p.Name, "auth_method", p.Method, "key_id", p.KeyID, "session", sess.ID)
	_, csrf, _ := c.o.Sessions.Lookup(r.Context(), cookie)
	writeJSON(w, http.StatusOK, c.info(p, sess, csrf))
}

func (c *Console) getSession(w http.ResponseWriter, r *http.Request) {
	ck, err := r.Cookie(CookieName)
	if err != nil {
		if c.o.Auth.OpenMode(r.Context()) {
			p := auth.Anonymous()
			writeJSON(w, http.StatusOK, sessionInfo{Principal: p.Name, Account: accountOf(p.ARN), CSRFToken: c.openCSRF, OpenMode: true})
			return
		}
		writeJSONError(w, http.StatusUnauthorized, "not signed in")
		return
	}
	sess, csrf, err := c.o.Sessions.Lookup(r.Context(), ck.Value)
	if err != nil {
		c.sessionError(w, err)
		return
	}
	p, err := c.o.Auth.Authenticate(r) // the key behind the session must still be valid
	if err != nil {
		c.sessionError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, c.info(p, sess, csrf))
}

func (c *Console) deleteSession(w http.ResponseWriter, r *http.Request) {
	ck, err := r.Cookie(CookieName)
	if err != nil {
		writeJSONError(w, http.StatusUnauthorized, "not signed in")
		return
	}
	sess, csrf, err := c.o.Sessions.Lookup(r.Context(), ck.Value)
	if err != nil {
		c.sessionError(w, err)
		return
	}
	if !validCSRF(r.Header.Get(CSRFHeader), csrf) {
		writeJSONError(w, http.StatusForbidden, errCSRF.Message)
		return
	}
	if err := c.o.Sessions.Revoke(r.Context(), "", sess.ID); err != nil {
		c.sessionError(w, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	c.log.Info("signed out", "principal", sess.Principal, "session", sess.ID)
	w.WriteHeader(http.StatusNoContent)
}

func (c *Console) info(p *auth.Principal, s *Session, csrf string) sessionInfo {
	return sessionInfo{Principal: p.Name, Account: accountOf(p.ARN), CSRFToken: csrf, ExpiresAt: s.Expires.Format(time.RFC3339),
		AuthMethod: s.Method, KeyID: s.KeyID}
}

// sessionError answers a failed session lookup: 401 for a dead session,
// 500 (logged) for a store failure.
func (c *Console) sessionError(w http.ResponseWriter, err error) {
	e := llm.AsError(err)
	if e.Kind == llm.KindInternal {
		c.log.Error("session lookup", "error", err)
		writeJSONError(w, http.StatusInternalServerError, "internal error")
		return
	}
	writeJSONError(w, http.StatusUnauthorized, e.Message)
}

// accountOf returns the account of an IAM ARN (arn:aws:iam::ACCOUNT:…).
func accountOf(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 5 {
		return ""
	}
	return parts[4]
}

// sameOrigin reports whether a browser request came from this server's
// own pages: no Origin header (not a cross-origin browser request), or one
// whose host is the request's host.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeJSONError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"message": msg})
}
