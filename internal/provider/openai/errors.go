package openai

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/provider/httperr"
)

var netDialer = net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}

// maxErrorBody bounds how much of an upstream error body is read.
const maxErrorBody = httperr.MaxBody

// statusError classifies an upstream response with a non-2xx status
// (httperr.Status, with the message of an OpenAI-style error body).
func statusError(resp *http.Response, model string) *llm.Error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := httperr.Status(resp.StatusCode, resp.Header, upstreamMessage(b), model)
	e.Err = fmt.Errorf("upstream status %d: %s", resp.StatusCode, truncate(string(b), 512))
	return e
}

// upstreamMessage extracts the message of an OpenAI-style error body
// ({"error":{"message":…}} or {"error":"…"}).
func upstreamMessage(b []byte) string {
	var v struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
	}
	if json.Unmarshal(b, &v) != nil {
		return ""
	}
	var s string
	if json.Unmarshal(v.Error, &s) == nil {
		return s
	}
	var o struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(v.Error, &o) == nil && o.Message != "" {
		return o.Message
	}
	return v.Message
}

// transportError classifies a failure to talk to the upstream at all, or a
// read that failed part way.
func transportError(ctx context.Context, err error) *llm.Error { return httperr.Transport(ctx, err) }

// streamError classifies a failure while reading an accepted stream.
func streamError(ctx context.Context, err error) *llm.Error { return httperr.Stream(ctx, err) }

func truncate(s string, n int) string { return httperr.Truncate(s, n) }
