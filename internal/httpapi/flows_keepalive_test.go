package httpapi

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime"

	"github.com/outcrop/outcrop/internal/eventstream"
	"github.com/outcrop/outcrop/internal/store/storetest"
)

// TestInvokeFlowKeepAlive checks how the server ends an InvokeFlow event
// stream on a kept-alive connection: the completion event is the last
// frame, the chunked body then ends cleanly (EOF, nothing after), and the
// next request reuses the same connection. This is the server's side of
// the "use of closed network connection" errors aws-sdk-go-v2 clients
// report (aws-sdk-go-v2#2737): the server neither closes nor keeps writing
// to a connection after a stream ends.
func TestInvokeFlowKeepAlive(t *testing.T) {
	db := storetest.SQLite(t)
	srv := newFlowServer(t, db, "", tripUpstream(t).URL, 5*time.Second)
	ctl, _ := agentClients(srv.URL)
	flowID, aliasID := deployTripPlanner(t, ctl)

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	var firstConn string
	for i := range 10 {
		var reused bool
		var conn string
		trace := &httptrace.ClientTrace{GotConn: func(ci httptrace.GotConnInfo) {
			reused, conn = ci.Reused, ci.Conn.LocalAddr().String()
		}}
		body := `{"enableTrace": true, "inputs": [{"nodeName": "FlowInputNode", "nodeOutputName": "document", "content": {"document": "What's the weather in Paris?"}}]}`
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "POST",
			srv.URL+"/flows/"+flowID+"/aliases/"+aliasID, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if resp.StatusCode != 200 || resp.Close {
			t.Fatalf("request %d: status %d, Connection: close %v", i, resp.StatusCode, resp.Close)
		}
		dec := eventstream.NewDecoder(resp.Body)
		var last string
		frames := 0
		for {
			m, err := dec.Decode()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("request %d, frame %d: %v", i, frames, err)
			}
			frames++
			for _, h := range m.Headers {
				if h.Name == ":event-type" {
					last = h.Value.Str
				}
			}
		}
		resp.Body.Close()
		if last != "flowCompletionEvent" || frames < 3 {
			t.Fatalf("request %d: %d frames, last %q; want the completion last", i, frames, last)
		}
		if i == 0 {
			firstConn = conn
		} else if !reused || conn != firstConn {
			t.Fatalf("request %d: connection %s (reused %v), want the kept-alive %s", i, conn, reused, firstConn)
		}
	}

	var dials atomic.Int32
	creds := credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "SECRET", "")
	rt := bedrockagentruntime.New(bedrockagentruntime.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: creds,
		HTTPClient: ownedBodyClient{&http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}}}}})
	for i := range 15 {
		b, err := invoke(t, rt, flowID, aliasID, "", firstInput("Book a flight to paris"), false)
		for j := 0; err == nil && b.reason == "INPUT_REQUIRED" && j < 3; j++ {
			id := b.executionID
			b, err = invoke(t, rt, flowID, aliasID, id, agentInput("MAD, February 14, evening"), false)
		}
		if err != nil || b.reason != "SUCCESS" {
			t.Fatalf("booking %d: %+v, %v", i, b, err)
		}
	}
	if n := dials.Load(); n != 1 {
		t.Fatalf("the SDK dialed %d connections for 15 bookings, want 1", n)
	}
}
