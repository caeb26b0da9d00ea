// Package egress controls Outcrop's outgoing connections: an operator's
// allow-list of the hosts Outcrop may call (providers, MCP servers, action
// executors, MLflow), enforced where connections are made — in the dialer,
// before any packet leaves, and in the proxy choice, so that a proxy cannot
// be used to reach a host the list does not name — and the HTTP clients
// built on it (system roots plus an optional custom CA, proxy, connect and
// header timeouts, pool size).
//
// A refused connection is logged (component=egress) and fails with an error
// wrapping ErrRefused; it never reaches the network. A nil *Policy, or one
// built from an empty list, allows every host.
//
// Lifecycle: New validates the rules; a Policy is immutable and safe for
// concurrent use. Clients hold idle connections that their transports close
// after IdleConnTimeout; nothing needs closing.
package egress

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// ErrRefused is wrapped by the error of a connection the allow-list refuses.
var ErrRefused = errors.New("egress: host not in the allow-list")

// Config is the `egress` section of the configuration file.
type Config struct {
	// Allow lists the hosts Outcrop may connect to. Each entry is a host
	// name ("api.anthropic.com"), a wildcard for its subdomains
	// ("*.googleapis.com" — not the bare domain), an IP address or a CIDR
	// prefix ("10.0.0.0/8"), optionally with ":port" to allow that port
	// only ("127.0.0.1:11434"). Names match the name a request uses, not
	// what it resolves to. Empty (the default) allows every host.
	Allow []string `yaml:"allow"`
}

// rule is one parsed allow-list entry.
type rule struct {
	name   string       // exact host name, lower case
	suffix string       // ".googleapis.com" for "*.googleapis.com"
	prefix netip.Prefix // IP or CIDR (a single IP is a /32 or /128)
	port   string       // "" for any port
}

// Policy is a parsed allow-list.
type Policy struct {
	rules   []rule
	log     *slog.Logger
	refused atomic.Int64
}

// New parses cfg. log receives one line per refused connection.
func New(cfg Config, log *slog.Logger) (*Policy, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Policy{log: log.With("component", "egress")}
	for _, entry := range cfg.Allow {
		r, err := parseRule(entry)
		if err != nil {
			return nil, err
		}
		p.rules = append(p.rules, r)
	}
	return p, nil
}

func parseRule(entry string) (rule, error) {
	s := strings.ToLower(strings.TrimSpace(entry))
	var r rule
	if s == "" {
		return r, fmt.Errorf("egress.allow: empty entry")
	}
	// A port is split off when the entry is host:port or [v6]:port; a bare
	// IPv6 address has colons of its own.
	if h, port, err := net.SplitHostPort(s); err == nil {
		s, r.port = h, port
		if _, err := parsePort(port); err != nil {
			return r, fmt.Errorf("egress.allow %q: %w", entry, err)
		}
	}
	if pfx, err := netip.ParsePrefix(s); err == nil {
		r.prefix = pfx.Masked()
		return r, nil
	}
	if ip, err := netip.ParseAddr(s); err == nil {
		r.prefix = netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen())
		return r, nil
	}
	if rest, ok := strings.CutPrefix(s, "*."); ok {
		if !validName(rest) {
			return r, fmt.Errorf("egress.allow %q: not a host name, IP, CIDR or *.domain", entry)
		}
		r.suffix = "." + rest
		return r, nil
	}
	if !validName(s) {
		return r, fmt.Errorf("egress.allow %q: not a host name, IP, CIDR or *.domain", entry)
	}
	r.name = s
	return r, nil
}

func parsePort(s string) (int, error) {
	var n int
	if _, err := fmt.Sscanf(s, "%d", &n); err != nil || n < 1 || n > 65535 || fmt.Sprint(n) != s {
		return 0, fmt.Errorf("port %q is not 1-65535", s)
	}
	return n, nil
}

func validName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// Restricted reports whether the policy limits egress at all.
func (p *Policy) Restricted() bool { return p != nil && len(p.rules) > 0 }

// Refused returns how many connections the policy has refused.
func (p *Policy) Refused() int64 {
	if p == nil {
		return 0
	}
	return p.refused.Load()
}

// Allowed reports whether a connection to host:port is allowed.
func (p *Policy) Allowed(host, port string) bool {
	if !p.Restricted() {
		return true
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	ip, ipErr := netip.ParseAddr(host)
	for _, r := range p.rules {
		if r.port != "" && r.port != port {
			continue
		}
		switch {
		case r.prefix.IsValid():
			if ipErr == nil && r.prefix.Contains(ip.Unmap()) {
				return true
			}
		case r.suffix != "":
			if ipErr != nil && strings.HasSuffix(host, r.suffix) {
				return true
			}
		case host == r.name:
			return true
		}
	}
	return false
}

// check returns an error wrapping ErrRefused, and logs, when addr is not
// allowed.
func (p *Policy) check(addr, why string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		host, port = addr, ""
	}
	if p.Allowed(host, port) {
		return nil
	}
	p.refused.Add(1)
	p.log.Warn("connection refused by the egress allow-list", "host", host, "port", port, "via", why)
	return fmt.Errorf("connect %s: %w", addr, ErrRefused)
}

// DialFunc is the signature of net.Dialer.DialContext.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Dial wraps dial so that a connection to a host the policy does not allow
// is refused before dial is called.
func (p *Policy) Dial(dial DialFunc) DialFunc {
	if !p.Restricted() {
		return dial
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if err := p.check(addr, "dial"); err != nil {
			return nil, err
		}
		return dial(ctx, network, addr)
	}
}

// Proxy wraps a transport's proxy choice so that a request to a host the
// policy does not allow fails before any proxy is contacted (the dialer
// only sees the proxy's address).
func (p *Policy) Proxy(proxy func(*http.Request) (*url.URL, error)) func(*http.Request) (*url.URL, error) {
	if !p.Restricted() {
		return proxy
	}
	return func(r *http.Request) (*url.URL, error) {
		port := r.URL.Port()
		if port == "" {
			port = map[string]string{"http": "80", "https": "443"}[r.URL.Scheme]
		}
		if err := p.check(net.JoinHostPort(r.URL.Hostname(), port), "proxy"); err != nil {
			return nil, err
		}
		if proxy == nil {
			return nil, nil
		}
		return proxy(r)
	}
}

// Options configure one outgoing HTTP client (one per deployment).
type Options struct {
	// Proxy is an http:// or https:// proxy URL. Empty: the HTTPS_PROXY,
	// HTTP_PROXY and NO_PROXY environment; "none": no proxy.
	Proxy string `yaml:"proxy"`
	// CAFile is a PEM file of certificates trusted in addition to the
	// system roots, for upstreams behind a private CA.
	CAFile string `yaml:"ca_file"`
	// ConnectTimeout bounds TCP connect plus TLS handshake. Default 10s.
	ConnectTimeout time.Duration `yaml:"-"`
	// ResponseHeaderTimeout bounds the wait for the response headers
	// after the request is sent; 0 (default) waits as long as the request's
	// context allows.
	ResponseHeaderTimeout time.Duration `yaml:"-"`
	// MaxIdleConnsPerHost is the keep-alive pool size. Default 32.
	MaxIdleConnsPerHost int `yaml:"max_idle_conns"`
}

// Transport builds an *http.Transport that obeys the policy.
func (p *Policy) Transport(o Options) (*http.Transport, error) {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	if o.MaxIdleConnsPerHost <= 0 {
		o.MaxIdleConnsPerHost = 32
	}
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		MaxIdleConnsPerHost:   o.MaxIdleConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   o.ConnectTimeout,
		ResponseHeaderTimeout: o.ResponseHeaderTimeout,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
	}
	switch o.Proxy {
	case "":
	case "none":
		t.Proxy = nil
	default:
		u, err := url.Parse(o.Proxy)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("proxy %q: must be an http:// or https:// URL", o.Proxy)
		}
		t.Proxy = http.ProxyURL(u)
	}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		roots, err := x509.SystemCertPool()
		if err != nil || roots == nil {
			roots = x509.NewCertPool()
		}
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s: no PEM certificates", o.CAFile)
		}
		t.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	}
	d := &net.Dialer{Timeout: o.ConnectTimeout, KeepAlive: 30 * time.Second}
	t.DialContext = p.Dial(d.DialContext)
	t.Proxy = p.Proxy(t.Proxy)
	return t, nil
}

// Client builds an *http.Client on Transport. It has no overall timeout:
// streams are bounded by their request's context.
func (p *Policy) Client(o Options) (*http.Client, error) {
	t, err := p.Transport(o)
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: t}, nil
}
