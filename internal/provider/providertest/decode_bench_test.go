package providertest_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/provider/anthropic"
	"github.com/outcrop/outcrop/internal/provider/gemini"
	"github.com/outcrop/outcrop/internal/provider/openai"
)

// canned answers every request with the same body, in memory: the
// benchmark measures a provider's request encoding and stream decoding,
// not the network.
type canned struct {
	body        []byte
	contentType string
}

func (c canned) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {c.contentType}},
		Body: io.NopCloser(bytes.NewReader(c.body)), Request: r}, nil
}

const benchDeltas = 200

// Streams of benchDeltas text deltas of one word each, in each wire format.
func openaiBody() []byte {
	var b strings.Builder
	for i := 0; i < benchDeltas; i++ {
		fmt.Fprintf(&b, "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1796591000,\"model\":\"gpt-4.1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"word%d \"},\"finish_reason\":null}]}\n\n", i)
	}
	b.WriteString("data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1796591000,\"model\":\"gpt-4.1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":200,\"total_tokens\":210}}\n\ndata: [DONE]\n\n")
	return []byte(b.String())
}

func anthropicBody() []byte {
	var b strings.Builder
	b.WriteString("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":10,\"output_tokens\":1}}}\n\n")
	b.WriteString("event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n")
	for i := 0; i < benchDeltas; i++ {
		fmt.Fprintf(&b, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"word%d \"}}\n\n", i)
	}
	b.WriteString("event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":200}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
	return []byte(b.String())
}

func geminiBody() []byte {
	var b strings.Builder
	for i := 0; i < benchDeltas; i++ {
		fin := ""
		if i == benchDeltas-1 {
			fin = `,"finishReason":"STOP"`
		}
		fmt.Fprintf(&b, "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"word%d \"}],\"role\":\"model\"}%s,\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":10,\"candidatesTokenCount\":%d,\"totalTokenCount\":%d},\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"r1\"}\r\n\r\n", i, fin, i+1, i+11)
	}
	return []byte(b.String())
}

// BenchmarkDecode streams a 200-delta answer through each provider from an
// in-memory upstream: request encoding, SSE parsing, JSON decoding and
// event translation. The openai provider is the reference.
func BenchmarkDecode(b *testing.B) {
	mk := func(body []byte) *http.Client {
		return &http.Client{Transport: canned{body: body, contentType: "text/event-stream"}}
	}
	providers := []struct {
		name string
		new  func() (llm.Provider, error)
	}{
		{"openai", func() (llm.Provider, error) {
			return openai.New(openai.Config{BaseURL: "http://upstream.test/v1", Model: "gpt-4.1", HTTPClient: mk(openaiBody())})
		}},
		{"anthropic", func() (llm.Provider, error) {
			return anthropic.New(anthropic.Config{BaseURL: "http://upstream.test/v1", Model: "claude-sonnet-4-5", HTTPClient: mk(anthropicBody())})
		}},
		{"gemini", func() (llm.Provider, error) {
			return gemini.New(gemini.Config{BaseURL: "http://upstream.test/v1beta", Model: "gemini-2.5-flash", HTTPClient: mk(geminiBody())})
		}},
	}
	req := &llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock("Say hello.")}}}}
	for _, pc := range providers {
		b.Run(pc.name, func(b *testing.B) {
			p, err := pc.new()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				s, err := p.ConverseStream(context.Background(), req)
				if err != nil {
					b.Fatal(err)
				}
				n := 0
				for {
					ev, err := s.Next()
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					if ev.Type == llm.EventBlockDelta {
						n++
					}
				}
				s.Close()
				if n != benchDeltas {
					b.Fatalf("%d deltas, want %d", n, benchDeltas)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchDeltas), "ns/delta")
		})
	}
}
