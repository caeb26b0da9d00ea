package providertest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/eventstream"
)

// Fixture is one recorded (or hand-made) upstream exchange, stored as a text
// file under testdata/ in sections:
//
//	# comments, then options, one per line:
//	mode: stream | converse      how the suite calls the provider (default stream)
//	timeout: 100ms               context deadline for the call (default none)
//	stop: ###                    a stop sequence to put in the request
//	max_tokens: 12               the request's output token limit
//	close-after: 2               close the stream after this many events and
//	                             check that the upstream saw the disconnect
//	additional: {"thinking":…}   the request's additionalModelRequestFields
//	cache: system                a cache point after the system prompt
//	recorded: ollama v0.17.4 …   provenance; absent for hand-made fixtures
//	-- request --
//	the body that was sent when the fixture was recorded (informational)
//	-- response --
//	HTTP/1.1 200 OK
//	Content-Type: text/event-stream
//
//	data: {…}
//
//	data: [DONE]
//	-- expect --
//	the neutral events a provider must produce, one per line (golden; see
//	RunFixtures and the -providertest.update flag)
//
// Response bodies may contain directive lines starting with "@@ " that the
// fake upstream acts on instead of sending: "@@ sleep 200ms" (flush, then
// pause), "@@ reset" (abort the TCP connection with a RST), "@@ hang" (stop
// sending until the client goes away). A directive before the status line
// acts before any byte of the response is sent. "@@ event <type> <json>"
// and "@@ exception <type> <json>" send one AWS event-stream frame
// (application/vnd.amazon.eventstream, as Bedrock's ConverseStream does)
// with that :event-type or :exception-type and payload.
type Fixture struct {
	Name     string // file name without .txt
	Path     string
	Comment  string // the leading "#" lines, without the "# "
	Options  map[string]string
	Request  string
	Response string // status line, headers, blank line, body (with directives)
	Expect   string
}

// Option returns the fixture option name, or def.
func (f *Fixture) Option(name, def string) string {
	if v, ok := f.Options[name]; ok {
		return v
	}
	return def
}

// TestdataDir is the directory holding this package's fixtures.
func TestdataDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "testdata")
}

// LoadFixtures reads every testdata/*.txt fixture.
func LoadFixtures(t testing.TB) []*Fixture {
	t.Helper()
	return LoadFixturesDir(t, TestdataDir())
}

// LoadFixturesDir reads every *.txt fixture in dir, for providers that keep
// fixtures of their own wire format beside their code.
func LoadFixturesDir(t testing.TB, dir string) []*Fixture {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures in %s: %v", dir, err)
	}
	var out []*Fixture
	for _, p := range paths {
		out = append(out, LoadFixture(t, p))
	}
	return out
}

// LoadFixture reads one fixture file; a bare name is looked up in testdata.
func LoadFixture(t testing.TB, path string) *Fixture {
	t.Helper()
	if !strings.ContainsRune(path, os.PathSeparator) {
		path = filepath.Join(TestdataDir(), strings.TrimSuffix(path, ".txt")+".txt")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := ParseFixture(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	f.Path = path
	f.Name = strings.TrimSuffix(filepath.Base(path), ".txt")
	return f
}

// ParseFixture parses the text form of a fixture.
func ParseFixture(b []byte) (*Fixture, error) {
	f := &Fixture{Options: map[string]string{}}
	sections := map[string]*string{"request": &f.Request, "response": &f.Response, "expect": &f.Expect}
	var cur *string
	var sb strings.Builder
	flush := func() {
		if cur != nil {
			*cur = sb.String()
		}
		sb.Reset()
	}
	for _, line := range strings.SplitAfter(string(b), "\n") {
		trimmed := strings.TrimRight(line, "\r\n")
		if strings.HasPrefix(trimmed, "-- ") && strings.HasSuffix(trimmed, " --") {
			name := strings.TrimSuffix(strings.TrimPrefix(trimmed, "-- "), " --")
			p, ok := sections[name]
			if !ok {
				return nil, fmt.Errorf("unknown section %q", name)
			}
			flush()
			cur = p
			continue
		}
		if cur != nil {
			sb.WriteString(line)
			continue
		}
		if c, ok := strings.CutPrefix(trimmed, "#"); ok {
			f.Comment += strings.TrimPrefix(c, " ") + "\n"
			continue
		}
		if trimmed == "" {
			continue
		}
		k, v, ok := strings.Cut(trimmed, ":")
		if !ok {
			return nil, fmt.Errorf("option line %q is not name: value", trimmed)
		}
		f.Options[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	flush()
	if f.Response == "" {
		return nil, fmt.Errorf("no -- response -- section")
	}
	return f, nil
}

// Format renders f in its text form.
func (f *Fixture) Format() []byte {
	var b bytes.Buffer
	for _, c := range strings.Split(strings.TrimSuffix(f.Comment, "\n"), "\n") {
		if c != "" {
			b.WriteString("# " + c + "\n")
		}
	}
	keys := make([]string, 0, len(f.Options))
	for k := range f.Options {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\n", k, f.Options[k])
	}
	if f.Request != "" {
		b.WriteString("-- request --\n")
		b.WriteString(ensureNL(f.Request))
	}
	b.WriteString("-- response --\n")
	b.WriteString(ensureNL(f.Response))
	if f.Expect != "" {
		b.WriteString("-- expect --\n")
		b.WriteString(ensureNL(f.Expect))
	}
	return b.Bytes()
}

func ensureNL(s string) string {
	if s != "" && !strings.HasSuffix(s, "\n") {
		return s + "\n"
	}
	return s
}

// Upstream is a fake server on 127.0.0.1 that answers every POST with the
// next fixture (the last one repeats) and GET …/models with an
// OpenAI-style list holding Model. The POST's path is not checked, so the
// same server replays any provider's wire format (chat completions,
// Anthropic messages, Gemini generateContent); Calls records what was
// asked. It is a real HTTP server: providers reach it through their
// ordinary transport.
type Upstream struct {
	// URL is the base URL to configure providers with, ending in /v1.
	URL string
	// Model is the model name listed by /v1/models.
	Model string

	srv  *httptest.Server
	pick func(Call) *Fixture // nil: the fixtures in turn

	mu           sync.Mutex // guards the fields below
	fixtures     []*Fixture
	next         int
	requests     [][]byte
	calls        []Call
	disconnected int
	finished     int
}

// NewUpstream starts a fake upstream serving fixtures in turn. It is closed
// when t ends.
func NewUpstream(t testing.TB, fixtures ...*Fixture) *Upstream {
	t.Helper()
	u := &Upstream{Model: "fixture-model", fixtures: fixtures}
	u.srv = httptest.NewServer(http.HandlerFunc(u.serve))
	u.URL = u.srv.URL + "/v1"
	t.Cleanup(u.srv.Close)
	return u
}

// NewUpstreamTLS is NewUpstream over HTTPS (for clients that refuse
// bearer tokens over plain HTTP, as the AWS SDK does); Client trusts it.
func NewUpstreamTLS(t testing.TB, fixtures ...*Fixture) *Upstream {
	t.Helper()
	u := &Upstream{Model: "fixture-model", fixtures: fixtures}
	u.srv = httptest.NewTLSServer(http.HandlerFunc(u.serve))
	u.URL = u.srv.URL + "/v1"
	t.Cleanup(u.srv.Close)
	return u
}

// Client returns an HTTP client that trusts the upstream's certificate.
func (u *Upstream) Client() *http.Client { return u.srv.Client() }

// NewUpstreamFunc starts a fake upstream that answers each POST with the
// fixture pick chooses for it (by path, headers or body), so that one
// server can stand in for a provider across the conformance suite's varied
// requests. A nil fixture is answered with a 500.
func NewUpstreamFunc(t testing.TB, pick func(Call) *Fixture) *Upstream {
	t.Helper()
	u := NewUpstream(t)
	u.pick = pick
	return u
}

// Requests returns the bodies received so far.
func (u *Upstream) Requests() [][]byte {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([][]byte(nil), u.requests...)
}

// Call is one request the upstream received.
type Call struct {
	Method string
	// Path is the request URI: path and query.
	Path   string
	Header http.Header
	Body   []byte
}

// Calls returns the requests received so far, in order.
func (u *Upstream) Calls() []Call {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]Call(nil), u.calls...)
}

// Disconnected returns how many responses the client abandoned before the
// fixture had been sent completely.
func (u *Upstream) Disconnected() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.disconnected
}

func (u *Upstream) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/models"):
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"object":"list","data":[{"id":%q,"object":"model","created":0,"owned_by":"providertest"}]}`, u.Model)
		return
	case r.Method == http.MethodPost:
	default:
		http.NotFound(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	u.mu.Lock()
	u.requests = append(u.requests, body)
	call := Call{Method: r.Method, Path: r.URL.RequestURI(), Header: r.Header.Clone(), Body: body}
	u.calls = append(u.calls, call)
	var f *Fixture
	if u.pick != nil {
		f = u.pick(call)
	} else if len(u.fixtures) > 0 {
		i := u.next
		if i >= len(u.fixtures) {
			i = len(u.fixtures) - 1
		}
		f = u.fixtures[i]
		u.next++
	}
	u.mu.Unlock()
	if f == nil {
		http.Error(w, `{"error":{"message":"no fixture"}}`, http.StatusInternalServerError)
		return
	}
	if !replay(w, r, f.Response) {
		u.mu.Lock()
		u.disconnected++
		u.mu.Unlock()
	}
}

// replay writes a recorded response, acting on directives. It reports
// whether the whole response was delivered.
func replay(w http.ResponseWriter, r *http.Request, resp string) bool {
	rc := http.NewResponseController(w)
	lines := strings.SplitAfter(resp, "\n")
	i := 0
	// Directives before the status line, then the status line and headers.
	status := 0
	for ; i < len(lines); i++ {
		line := strings.TrimRight(lines[i], "\r\n")
		if strings.HasPrefix(line, "@@ ") {
			if !directive(w, r, rc, line) {
				return false
			}
			continue
		}
		if status == 0 {
			fs := strings.Fields(line)
			if len(fs) < 2 {
				continue
			}
			status, _ = strconv.Atoi(fs[1])
			continue
		}
		if line == "" {
			i++
			break
		}
		k, v, _ := strings.Cut(line, ":")
		if strings.EqualFold(k, "Content-Length") || strings.EqualFold(k, "Transfer-Encoding") {
			continue
		}
		w.Header().Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	rc.Flush()
	// The body, flushed at each blank line (SSE event boundary) and before
	// each directive.
	var pending strings.Builder
	send := func() bool {
		if pending.Len() == 0 {
			return true
		}
		_, err := io.WriteString(w, pending.String())
		pending.Reset()
		return err == nil && rc.Flush() == nil
	}
	for ; i < len(lines); i++ {
		line := lines[i]
		if strings.HasPrefix(line, "@@ ") {
			if !send() || !directive(w, r, rc, strings.TrimRight(line, "\r\n")) {
				return false
			}
			continue
		}
		pending.WriteString(line)
		if strings.TrimRight(line, "\r\n") == "" && !send() {
			return false
		}
	}
	if !send() {
		return false
	}
	return r.Context().Err() == nil
}

// directive acts on one "@@ " line; false means the response ends here.
func directive(w http.ResponseWriter, r *http.Request, rc *http.ResponseController, line string) bool {
	fs := strings.Fields(strings.TrimPrefix(line, "@@ "))
	if len(fs) == 0 {
		return true
	}
	switch fs[0] {
	case "sleep":
		d, _ := time.ParseDuration(fs[1])
		select {
		case <-time.After(d):
			return true
		case <-r.Context().Done():
			return false
		}
	case "hang":
		<-r.Context().Done()
		return false
	case "event", "exception":
		// An AWS event-stream frame (Bedrock's ConverseStream): the
		// event or exception type, then its JSON payload.
		if len(fs) < 2 {
			return true
		}
		payload := strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(line, "@@ "), fs[0]))
		payload = strings.TrimSpace(strings.TrimPrefix(payload, fs[1]))
		m := eventstream.Message{Payload: []byte(payload)}
		typeHeader := ":event-type"
		if fs[0] == "exception" {
			typeHeader = ":exception-type"
		}
		m.Headers = eventstream.Headers{
			{Name: typeHeader, Value: eventstream.String(fs[1])},
			{Name: ":content-type", Value: eventstream.String("application/json")},
			{Name: ":message-type", Value: eventstream.String(fs[0])},
		}
		b, err := eventstream.Append(nil, &m)
		if err != nil {
			return false
		}
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	case "reset":
		conn, buf, err := rc.Hijack()
		if err != nil {
			return false
		}
		buf.Flush()
		if tc, ok := conn.(*net.TCPConn); ok {
			tc.SetLinger(0) // close with RST
		}
		conn.Close()
		return false
	}
	return true
}

// ReadRawResponse reads a response in the fixture's text form (status
// line, headers, blank line, body) from an HTTP response; used when
// recording.
func ReadRawResponse(resp *http.Response) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP/1.1 %s\n", resp.Status)
	for _, k := range []string{"Content-Type", "Retry-After"} {
		if v := resp.Header.Get(k); v != "" {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	b.WriteString("\n")
	body, err := io.ReadAll(bufio.NewReader(resp.Body))
	b.Write(body)
	return b.String(), err
}
