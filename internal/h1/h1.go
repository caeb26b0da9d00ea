// Package h1 is a lean HTTP/1.1 client transport for plain-text upstreams,
// the model servers Outcrop usually runs next to (Ollama, vLLM, llama.cpp
// server, another Outcrop).
//
// net/http's Transport gives every connection a reader and a writer
// goroutine and hands each request and response between them and the
// caller. For a gateway whose own work per request is a few microseconds,
// those hand-offs, and the two goroutine stacks every open stream keeps,
// are a large part of what it adds to latency and memory. Transport instead
// writes the request and reads the response on the caller's goroutine, over
// keep-alive connections kept in a LIFO pool per host. Everything else
// (https, proxies, HTTP/2) goes to a fallback RoundTripper.
package h1

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Transport is an http.RoundTripper. Its zero value is not usable; use New.
type Transport struct {
	// Fallback serves the requests Transport does not: other schemes than
	// http, and hosts that the environment's proxy settings send through
	// a proxy.
	Fallback http.RoundTripper
	// Dial opens connections. Default: a net.Dialer with a 10 s timeout.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Proxy reports the proxy for a request, as http.Transport.Proxy does;
	// requests with one go to Fallback. Default: none.
	Proxy func(*http.Request) (*url.URL, error)
	// MaxIdlePerHost bounds the idle connections kept per host. Default 64.
	MaxIdlePerHost int
	// IdleTimeout closes connections idle for longer. Default 90 s.
	IdleTimeout time.Duration
	// ReadBufferSize sizes each connection's read buffer. Default 4 KB.
	// Requests are written through buffers shared by all connections, so
	// that an open stream holds only its read buffer.
	ReadBufferSize int

	mu   sync.Mutex
	idle map[string][]*conn
}

// New returns a Transport that sends what it does not serve to fallback.
func New(fallback http.RoundTripper) *Transport {
	return &Transport{Fallback: fallback}
}

// probeAfter is how long a connection may sit idle before it is checked
// for a close by the server when taken from the pool.
const probeAfter = time.Second

// RoundTrip sends req and returns its response. The response body must be
// read to its end or closed; a body read to its end returns the connection
// to the pool.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL == nil || req.URL.Scheme != "http" || req.URL.Host == "" || t.proxied(req) {
		return t.Fallback.RoundTrip(req)
	}
	ctx := req.Context()
	key := hostPort(req.URL)
	for try := 0; ; try++ {
		c, reused, err := t.get(ctx, key)
		if err != nil {
			closeBody(req)
			return nil, err
		}
		r := req
		if try > 0 {
			// A retry needs a fresh copy of the body.
			r = req.Clone(ctx)
			if req.Body != nil && req.Body != http.NoBody {
				if r.Body, err = req.GetBody(); err != nil {
					c.close()
					return nil, err
				}
			}
		}
		resp, err := c.roundTrip(ctx, r)
		if err == nil {
			return resp, nil
		}
		c.close()
		// A reused connection that the server closed while it sat idle
		// fails before any byte of a response: the request never reached
		// the server, so it is sent once more on a new connection.
		if reused && try == 0 && ctx.Err() == nil && errors.Is(err, errBeforeResponse) && rewindable(req) {
			continue
		}
		closeBody(req)
		return nil, err
	}
}

func (t *Transport) proxied(req *http.Request) bool {
	if t.Proxy == nil {
		return false
	}
	u, err := t.Proxy(req)
	return err != nil || u != nil
}

// CloseIdleConnections closes the pooled connections, and the fallback's.
func (t *Transport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = nil
	t.mu.Unlock()
	for _, cs := range idle {
		for _, c := range cs {
			c.nc.Close()
		}
	}
	if ci, ok := t.Fallback.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// get returns a pooled connection to key, or dials one.
func (t *Transport) get(ctx context.Context, key string) (c *conn, reused bool, err error) {
	now := time.Now()
	for {
		t.mu.Lock()
		cs := t.idle[key]
		if len(cs) == 0 {
			t.mu.Unlock()
			break
		}
		c = cs[len(cs)-1]
		cs[len(cs)-1] = nil
		t.idle[key] = cs[:len(cs)-1]
		t.mu.Unlock()
		idle := now.Sub(c.idleAt)
		if c.dead.Load() || idle > t.idleTimeout() || (idle > probeAfter && !c.alive()) {
			c.close()
			continue
		}
		return c, true, nil
	}
	dial := t.Dial
	if dial == nil {
		dial = defaultDialer.DialContext
	}
	nc, err := dial(ctx, "tcp", key)
	if err != nil {
		return nil, false, err
	}
	rb := t.ReadBufferSize
	if rb <= 0 {
		rb = 4 << 10
	}
	return &conn{t: t, key: key, nc: nc, br: bufio.NewReaderSize(nc, rb)}, false, nil
}

func (t *Transport) idleTimeout() time.Duration {
	if t.IdleTimeout > 0 {
		return t.IdleTimeout
	}
	return 90 * time.Second
}

// put returns c to the pool, or closes it when the pool is full.
func (t *Transport) put(c *conn) {
	max := t.MaxIdlePerHost
	if max <= 0 {
		max = 64
	}
	if c.dead.Load() {
		return
	}
	c.idleAt = time.Now()
	t.mu.Lock()
	if t.idle == nil {
		t.idle = map[string][]*conn{}
	}
	if cs := t.idle[c.key]; len(cs) < max {
		t.idle[c.key] = append(cs, c)
		t.mu.Unlock()
		return
	}
	t.mu.Unlock()
	c.close()
}

var defaultDialer = net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}

// errBeforeResponse marks a failure on a connection before any byte of the
// response arrived.
var errBeforeResponse = errors.New("h1: connection failed before the response")

// writers are the buffers requests are written through.
var writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 2<<10) }}

// aLongTimeAgo is a deadline in the past, which fails pending I/O at once.
var aLongTimeAgo = time.Unix(1, 0)

// conn is one keep-alive connection, used by one request at a time.
type conn struct {
	t      *Transport
	key    string
	nc     net.Conn
	br     *bufio.Reader
	idleAt time.Time
	dead   atomic.Bool // closed; never pooled again
}

func (c *conn) close() {
	c.dead.Store(true)
	c.nc.Close()
}

// alive reports whether an idle connection is still open: a read must
// find nothing to read rather than the end of the stream or stray bytes.
func (c *conn) alive() bool {
	if c.br.Buffered() > 0 {
		return false
	}
	c.nc.SetReadDeadline(aLongTimeAgo)
	_, err := c.br.Peek(1)
	c.nc.SetReadDeadline(time.Time{})
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// roundTrip writes req and reads the response head. The request's context
// ends pending I/O by setting a past deadline on the connection.
func (c *conn) roundTrip(ctx context.Context, req *http.Request) (*http.Response, error) {
	stop := context.AfterFunc(ctx, func() { c.nc.SetDeadline(aLongTimeAgo) })
	fail := func(err error) (*http.Response, error) {
		stop()
		if ctx.Err() != nil {
			return nil, &net.OpError{Op: "roundtrip", Net: "tcp", Err: ctx.Err()}
		}
		return nil, err
	}
	bw := writers.Get().(*bufio.Writer)
	bw.Reset(c.nc)
	err := req.Write(bw)
	if err == nil {
		err = bw.Flush()
	}
	bw.Reset(nil)
	writers.Put(bw)
	if err != nil {
		return fail(beforeResponse(err))
	}
	var resp *http.Response
	for {
		if _, err := c.br.Peek(1); err != nil {
			return fail(beforeResponse(err))
		}
		var err error
		resp, err = http.ReadResponse(c.br, req)
		if err != nil {
			return fail(err)
		}
		// Informational responses (103 Early Hints) precede the real one.
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
	}
	resp.Body = &body{c: c, rc: resp.Body, stop: stop, keep: !resp.Close && resp.StatusCode != http.StatusSwitchingProtocols}
	return resp, nil
}

// beforeResponse marks the errors that show the server closed the
// connection before it answered.
func beforeResponse(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return errors.Join(errBeforeResponse, err)
	}
	return err
}

// body is a response body that returns its connection to the pool when it
// has been read to its end and closes it otherwise.
type body struct {
	c    *conn
	rc   io.ReadCloser
	stop func() bool
	keep bool
	done bool
	err  error      // returned by Read once done
	mu   sync.Mutex // Read and Close may be called from different goroutines
}

func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return 0, b.err
	}
	n, err := b.rc.Read(p)
	if errors.Is(err, io.EOF) {
		b.err = io.EOF
		b.release(true)
	} else if err != nil {
		b.err = err
		b.release(false)
	}
	return n, err
}

// Close closes the body; unless it was read to its end, the connection
// is closed too, since what is left of the response is unknown.
func (b *body) Close() error {
	if !b.mu.TryLock() {
		// A Read is blocked on the connection: closing the connection
		// ends it.
		b.c.close()
		b.mu.Lock()
	}
	defer b.mu.Unlock()
	if !b.done {
		b.err = errBodyClosed
		b.release(false)
	}
	return nil
}

func (b *body) release(complete bool) {
	b.done = true
	canceled := !b.stop()
	if complete && b.keep && !canceled {
		b.c.t.put(b.c)
		return
	}
	b.c.close()
}

var errBodyClosed = errors.New("h1: read on closed response body")

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

func rewindable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// hostPort is u's host with the port made explicit.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	return net.JoinHostPort(u.Hostname(), "80")
}
