package h1

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// FuzzResponse feeds arbitrary bytes as an upstream's answer to two
// requests on one Transport: it must never panic or hang, and a connection
// whose answer was not a complete, well-framed response must not be handed
// to the second request with leftovers that it then reads as its own.
func FuzzResponse(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"))
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"))
	f.Add([]byte("HTTP/1.0 200 OK\r\n\r\nuntil close"))
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, answer []byte) {
		if len(answer) > 1<<16 {
			return
		}
		tr := New(http.DefaultTransport)
		var wg sync.WaitGroup
		defer wg.Wait()
		tr.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			client, server := net.Pipe()
			wg.Add(1)
			go func() { // ends when the client side is closed or both requests are answered
				defer wg.Done()
				defer server.Close()
				br := bufio.NewReader(server)
				for range 2 {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					if _, err := server.Write(answer); err != nil {
						return
					}
				}
			}()
			return client, nil
		}
		c := &http.Client{Transport: tr}
		for range 2 {
			// An answer framed to need more bytes than it has waits for
			// them, as it should; the deadline ends the wait.
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			req, _ := http.NewRequestWithContext(ctx, "POST", "http://upstream.test/v1/chat/completions", strings.NewReader(`{"a":1}`))
			resp, err := c.Do(req)
			if err == nil {
				io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
				resp.Body.Close()
			}
			cancel()
		}
		tr.CloseIdleConnections()
	})
}
