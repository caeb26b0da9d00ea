package egress

import (
	"bufio"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAllowed(t *testing.T) {
	p, err := New(Config{Allow: []string{"api.anthropic.com", "*.googleapis.com", "10.0.0.0/8", "127.0.0.1:11434", "[::1]:8080", "Bedrock-Runtime.us-east-1.amazonaws.com."}}, nil)
	if err == nil {
		t.Fatalf("a trailing dot entry parsed; want an error")
	}
	p, err = New(Config{Allow: []string{"api.anthropic.com", "*.googleapis.com", "10.0.0.0/8", "127.0.0.1:11434", "[::1]:8080", "Bedrock-Runtime.us-east-1.amazonaws.com"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		host, port string
		want       bool
	}{
		{"api.anthropic.com", "443", true},
		{"API.Anthropic.com.", "443", true},
		{"evil-api.anthropic.com", "443", false},
		{"anthropic.com", "443", false},
		{"generativelanguage.googleapis.com", "443", true},
		{"googleapis.com", "443", false},
		{"googleapis.com.evil.net", "443", false},
		{"10.1.2.3", "80", true},
		{"11.1.2.3", "80", false},
		{"127.0.0.1", "11434", true},
		{"127.0.0.1", "11435", false},
		{"::1", "8080", true},
		{"[::1]", "8080", true},
		{"::1", "8081", false},
		{"::ffff:10.0.0.1", "80", true},
		{"bedrock-runtime.us-east-1.amazonaws.com", "443", true},
		{"169.254.169.254", "80", false},
	}
	for _, tc := range tests {
		if got := p.Allowed(tc.host, tc.port); got != tc.want {
			t.Errorf("Allowed(%q, %q) = %t, want %t", tc.host, tc.port, got, tc.want)
		}
	}
	var open *Policy
	if !open.Allowed("anything", "1") {
		t.Errorf("a nil policy refused a host")
	}
}

func TestBadRules(t *testing.T) {
	for _, entry := range []string{"", "http://x", "a..b", "host:99999", "*.", "a b", "10.0.0.0/33"} {
		if _, err := New(Config{Allow: []string{entry}}, nil); err == nil {
			t.Errorf("New(%q) = nil error, want one", entry)
		}
	}
}

// sentinelListener accepts connections on 127.0.0.1 and reports the first
// line each sends, in accept order.
func sentinelListener(t *testing.T) (addr string, lines chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	lines = make(chan string, 16)
	go func() { // ends when the listener is closed at cleanup
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			line, _ := bufio.NewReader(c).ReadString('\n')
			lines <- strings.TrimSpace(line)
			c.Close()
		}
	}()
	return ln.Addr().String(), lines
}

// TestRefusedHostNeverConnected proves that a host off the list is never
// connected to: the refused request comes first, then a marker connection
// that is allowed; the listener's first accepted connection must be the
// marker (accept order is connection order), so the refused request never
// reached the network.
func TestRefusedHostNeverConnected(t *testing.T) {
	addr, lines := sentinelListener(t)
	host, port, _ := net.SplitHostPort(addr)
	var logged strings.Builder
	p, err := New(Config{Allow: []string{"127.0.0.2"}}, slog.New(slog.NewTextHandler(&logged, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for _, proxy := range []string{"none", ""} {
		c, err := p.Client(Options{Proxy: proxy})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Get("http://" + addr + "/v1/models")
		if !errors.Is(err, ErrRefused) {
			t.Fatalf("GET to a refused host: err = %v, want ErrRefused", err)
		}
	}
	marker, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(marker, "marker\n")
	marker.Close()
	if first := <-lines; first != "marker" {
		t.Fatalf("first connection the host saw sent %q, want the marker: the refused request connected", first)
	}
	if p.Refused() != 2 {
		t.Errorf("Refused() = %d, want 2", p.Refused())
	}
	if !strings.Contains(logged.String(), "component=egress") || !strings.Contains(logged.String(), "host="+host) || !strings.Contains(logged.String(), "port="+port) {
		t.Errorf("refusal not logged with component, host and port: %q", logged.String())
	}
}

// TestRefusedThroughProxy: an allowed proxy must not be used to reach a
// host off the list; the proxy sees no connection at all.
func TestRefusedThroughProxy(t *testing.T) {
	proxyAddr, lines := sentinelListener(t)
	p, _ := New(Config{Allow: []string{proxyAddr}}, nil)
	c, err := p.Client(Options{Proxy: "http://" + proxyAddr})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Get("http://198.51.100.7/secret")
	if !errors.Is(err, ErrRefused) {
		t.Fatalf("GET through the proxy: err = %v, want ErrRefused", err)
	}
	marker, _ := net.Dial("tcp", proxyAddr)
	io.WriteString(marker, "marker\n")
	marker.Close()
	if first := <-lines; first != "marker" {
		t.Fatalf("the proxy saw %q first, want the marker", first)
	}
}

func TestAllowedHostWithCustomCA(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer srv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	cert := srv.Certificate()
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600)
	p, _ := New(Config{Allow: []string{srv.Listener.Addr().String()}}, nil)

	// Without the CA the server's certificate is unknown.
	c, _ := p.Client(Options{Proxy: "none"})
	if _, err := c.Get(srv.URL); err == nil || !errors.As(err, new(x509.UnknownAuthorityError)) {
		t.Fatalf("GET without the CA: err = %v, want an unknown authority", err)
	}
	c, err := p.Client(Options{Proxy: "none", CAFile: caFile})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatalf("GET with the CA: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "ok" {
		t.Errorf("body = %q", b)
	}
	if _, err := p.Client(Options{CAFile: filepath.Join(t.TempDir(), "missing.pem")}); err == nil {
		t.Errorf("a missing CA file was accepted")
	}
	if _, err := p.Client(Options{Proxy: "socks5://x"}); err == nil {
		t.Errorf("a socks5 proxy was accepted")
	}
}

func FuzzAllowed(f *testing.F) {
	f.Add("*.example.com", "a.example.com", "443")
	f.Add("10.0.0.0/8", "10.2.3.4", "80")
	f.Add("[::1]:8080", "::1", "8080")
	f.Fuzz(func(t *testing.T, entry, host, port string) {
		p, err := New(Config{Allow: []string{entry}}, nil)
		if err != nil {
			return
		}
		p.Allowed(host, port)
	})
}

// TestProxyAndHeaderTimeout: an allowed request goes through the configured
// proxy, and response_header_timeout bounds the wait for headers.
func TestProxyAndHeaderTimeout(t *testing.T) {
	var proxied []string
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxied = append(proxied, r.URL.String()) // a forward proxy sees the absolute URI
		io.WriteString(w, "via proxy")
	}))
	defer proxy.Close()
	p, _ := New(Config{Allow: []string{"upstream.example", proxy.Listener.Addr().String()}}, nil)
	c, err := p.Client(Options{Proxy: proxy.URL})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Get("http://upstream.example/v1/models")
	if err != nil {
		t.Fatalf("GET through the proxy: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "via proxy" || len(proxied) != 1 || proxied[0] != "http://upstream.example/v1/models" {
		t.Errorf("body %q, proxy saw %q", b, proxied)
	}

	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer slow.Close()
	defer close(release)
	open, _ := New(Config{}, nil)
	c, _ = open.Client(Options{Proxy: "none", ResponseHeaderTimeout: 50 * time.Millisecond})
	_, err = c.Get(slow.URL)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("GET to a server that sends no headers: err = %v, want a timeout", err)
	}
}
