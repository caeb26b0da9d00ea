// Package sdktest holds what tests need to drive Outcrop with the AWS SDK
// for Go reliably.
//
// HTTPClient works around aws-sdk-go-v2#2737 ("use of closed network
// connection" while reading an event stream), a client-side race: smithy-go
// wraps the request body in a closer whose WriteTo answers io.EOF once
// closed, and closes it as soon as the response headers arrive; net/http's
// writeLoop, after writing Content-Length bytes, copies the body once more
// to detect extra bytes, and io.Copy prefers WriteTo. When a fast server
// (loopback) answered first and the writeLoop goroutine runs late, that
// copy fails with io.EOF, and the transport closes the connection under the
// response being streamed. A body with only Read and Close reads a clean
// io.EOF instead. The server is not involved: it reads each request whole
// and keeps the connection open after a stream (httpapi's
// TestInvokeFlowKeepAlive). Users of the Go SDK can meet the same race;
// docs/ARCHITECTURE.md says so.
package sdktest

import (
	"io"
	"net/http"
)

// HTTPClient is an HTTP client for SDK clients in tests whose request
// bodies expose only Read and Close.
func HTTPClient() *http.Client {
	return &http.Client{Transport: PlainBody{Base: http.DefaultTransport}}
}

// PlainBody is a RoundTripper that hands Base each request with a body
// that has only Read and Close.
type PlainBody struct{ Base http.RoundTripper }

// RoundTrip implements http.RoundTripper.
func (p PlainBody) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		r = r.Clone(r.Context())
		r.Body = struct{ io.ReadCloser }{r.Body}
	}
	return p.Base.RoundTrip(r)
}
