package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"
)

// Record is one measured request: one line of requests.jsonl. Durations are
// milliseconds from the moment the request was handed to the client. Fields a
// request could not measure (TTFT of a non-streaming call, anything after an
// error) are absent.
type Record struct {
	Seq      int    `json:"seq"`    // order in which the request was started
	Item     int    `json:"item"`   // workload item; the same item is sent to every target
	Target   string `json:"target"` // target label (groups the summary)
	API      string `json:"api"`    // bedrock | openai
	Endpoint string `json:"endpoint"`
	Model    string `json:"model"`            // model ID sent
	Warmup   bool   `json:"warmup,omitempty"` // excluded from the summary

	ProfileRequested string `json:"profile_requested,omitempty"` // performanceConfig.latency sent
	ProfileServed    string `json:"profile_served,omitempty"`    // as reported by the server
	Deployment       string `json:"deployment,omitempty"`        // X-Outcrop-Deployment response header
	RequestID        string `json:"request_id,omitempty"`
	Stream           bool   `json:"stream"`

	Task               string `json:"task"`
	InputTokensTarget  int    `json:"input_tokens_target,omitempty"`  // requested prompt size
	PromptTokens       int    `json:"prompt_tokens,omitempty"`        // size of the prompt built
	PromptTokensMethod string `json:"prompt_tokens_method,omitempty"` // counted:<api> | estimated:chars/4
	OutputTokensTarget int    `json:"output_tokens_target,omitempty"` // maxTokens sent

	Start      time.Time `json:"start"`
	TTFTMs     *float64  `json:"ttft_ms,omitempty"` // first content chunk (streaming only)
	TTLTMs     *float64  `json:"ttlt_ms,omitempty"` // last content chunk (streaming only)
	E2EMs      *float64  `json:"e2e_ms,omitempty"`  // response complete
	OTPS       *float64  `json:"otps,omitempty"`    // output_tokens / (ttlt - ttft) in seconds
	ITLMs      *float64  `json:"itl_ms,omitempty"`  // (ttlt - ttft) / (output_tokens - 1)
	Chunks     int       `json:"chunks,omitempty"`  // content chunks received
	ServerMs   *float64  `json:"server_latency_ms,omitempty"`
	StopReason string    `json:"stop_reason,omitempty"`

	InputTokens  int    `json:"input_tokens,omitempty"`
	OutputTokens int    `json:"output_tokens,omitempty"`
	CachedTokens int    `json:"cached_tokens,omitempty"`
	UsageSource  string `json:"usage_source,omitempty"` // server | estimated (chunk count)

	ErrorType  string `json:"error_type,omitempty"` // see ErrorType constants
	Error      string `json:"error,omitempty"`
	HTTPStatus int    `json:"http_status,omitempty"`
}

// OK reports whether the request completed without error.
func (r *Record) OK() bool { return r.ErrorType == "" }

// InputLength is the prompt size used for bucketing: the server's count when
// it reported one, else the size measured when the prompt was built.
func (r *Record) InputLength() int {
	if r.InputTokens > 0 {
		return r.InputTokens
	}
	if r.PromptTokens > 0 {
		return r.PromptTokens
	}
	return r.InputTokensTarget
}

// ReadRecords reads a requests.jsonl file.
func ReadRecords(path string) ([]Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return DecodeRecords(f)
}

// DecodeRecords reads JSON lines of Records from r. A truncated last line (a
// run killed mid-write) is ignored; any other bad line is an error.
func DecodeRecords(r io.Reader) ([]Record, error) {
	var out []Record
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	line := 0
	var pending error
	for sc.Scan() {
		line++
		if pending != nil {
			return nil, pending
		}
		b := sc.Bytes()
		if len(b) == 0 {
			continue
		}
		var rec Record
		if err := json.Unmarshal(b, &rec); err != nil {
			pending = fmt.Errorf("line %d: %w", line, err)
			continue
		}
		out = append(out, rec)
	}
	return out, sc.Err()
}
