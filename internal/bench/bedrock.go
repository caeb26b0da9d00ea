package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/auth/bearer"
	smithymiddleware "github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Response headers that name what served a request. Outcrop sets them; other
// servers leave them out and the record fields stay empty.
const (
	HeaderDeployment = "X-Outcrop-Deployment"
	HeaderProfile    = "X-Outcrop-Profile"
)

// BedrockOptions configures a Bedrock runtime client.
type BedrockOptions struct {
	Endpoint string // "" for the region's AWS endpoint
	Region   string // default us-east-1
	// BearerToken is a Bedrock API key; default $AWS_BEARER_TOKEN_BEDROCK.
	// When set it is used instead of SigV4.
	BearerToken string
	// HTTPClient is used for every call; default a pooled client without a
	// timeout (the run's context bounds each call).
	HTTPClient *http.Client
}

// Bedrock sends Converse / ConverseStream through aws-sdk-go-v2, signing with
// the usual AWS credential chain, so it runs against real Bedrock as well as
// against Outcrop. It never retries: a benchmark reports what happened.
//
// Each call borrows a bedrockruntime.Client of its own: the SDK's clients
// share one event-stream codec between all streams of a client, and two
// concurrent ConverseStreams on one client corrupt each other's frames
// (aws/smithy-go#714, smithy-go v1.28.9).
type Bedrock struct {
	newClient func() *bedrockruntime.Client
	pool      sync.Pool // of *bedrockruntime.Client
	endpoint  string
}

func (b *Bedrock) get() *bedrockruntime.Client {
	if c, ok := b.pool.Get().(*bedrockruntime.Client); ok {
		return c
	}
	return b.newClient()
}

var _ Client = (*Bedrock)(nil)

// NewBedrock builds a client. Against a loopback endpoint the EC2 metadata
// service is not consulted, and with no credentials at all requests are
// signed with placeholder keys (a local Outcrop without auth accepts them).
func NewBedrock(ctx context.Context, o BedrockOptions) (*Bedrock, error) {
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	var hc config.HTTPClient = o.HTTPClient
	if o.HTTPClient == nil {
		// A buildable client, so that the SDK can add a CA bundle
		// (AWS_CA_BUNDLE) to its transport.
		hc = awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
			tr.MaxIdleConnsPerHost = 256
		})
	}
	loads := []func(*config.LoadOptions) error{
		config.WithRegion(o.Region),
		config.WithHTTPClient(hc),
		config.WithRetryer(func() aws.Retryer { return aws.NopRetryer{} }),
	}
	local := o.Endpoint != "" && IsLoopback(o.Endpoint)
	if local {
		loads = append(loads, config.WithEC2IMDSClientEnableState(imds.ClientDisabled))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loads...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	cfg.HTTPClient = readOnlyBodies{cfg.HTTPClient}
	if local && o.BearerToken == "" {
		if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
			// Placeholder keys rather than aws.AnonymousCredentials: with
			// anonymous credentials the SDK picks its bearer scheme with no
			// token provider and panics (v1.48.0).
			cfg.Credentials = credentials.NewStaticCredentialsProvider("OUTCROPBENCH", "unsigned", "")
		}
	}
	endpoint := o.Endpoint
	if endpoint == "" {
		endpoint = "https://bedrock-runtime." + o.Region + ".amazonaws.com"
	}
	opt := func(bo *bedrockruntime.Options) {
		if o.Endpoint != "" {
			bo.BaseEndpoint = aws.String(o.Endpoint)
			// A benchmark measures the model, never Outcrop's response
			// cache: repeated temperature-0 prompts would otherwise hit it.
			bo.APIOptions = append(bo.APIOptions, smithyhttp.AddHeaderValue(bypassHeader, "bypass"))
		}
		if o.BearerToken != "" {
			bo.BearerAuthTokenProvider = bearer.StaticTokenProvider{Token: bearer.Token{Value: o.BearerToken}}
			bo.AuthSchemePreference = []string{"httpBearerAuth"}
			if strings.HasPrefix(endpoint, "http://") {
				// The SDK refuses bearer tokens over plain HTTP; a loopback
				// gateway is the one place that is reasonable.
				bo.BearerAuthSigner = headerBearerSigner{}
			}
		}
	}
	newClient := func() *bedrockruntime.Client { return bedrockruntime.NewFromConfig(cfg, opt) }
	return &Bedrock{newClient: newClient, endpoint: endpoint}, nil
}

// headerBearerSigner sets the Authorization header without the SDK's HTTPS check.
type headerBearerSigner struct{}

func (headerBearerSigner) SignWithBearerToken(_ context.Context, tok bearer.Token, m bearer.Message) (bearer.Message, error) {
	req, ok := m.(*smithyhttp.Request)
	if !ok {
		return m, fmt.Errorf("bearer signer: unexpected message type %T", m)
	}
	req.Header.Set("Authorization", "Bearer "+tok.Value)
	return req, nil
}

// API implements Client.
func (b *Bedrock) API() string { return "bedrock" }

// Endpoint implements Client.
func (b *Bedrock) Endpoint() string { return b.endpoint }

func (b *Bedrock) messages(req Request) ([]types.Message, []types.SystemContentBlock) {
	msgs := []types.Message{{Role: types.ConversationRoleUser,
		Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: req.Prompt}}}}
	var sys []types.SystemContentBlock
	if req.System != "" {
		sys = []types.SystemContentBlock{&types.SystemContentBlockMemberText{Value: req.System}}
	}
	return msgs, sys
}

// Do implements Client.
func (b *Bedrock) Do(ctx context.Context, req Request) (Result, error) {
	msgs, sys := b.messages(req)
	inf := &types.InferenceConfiguration{MaxTokens: aws.Int32(int32(req.MaxTokens))}
	if req.Temperature != nil {
		inf.Temperature = aws.Float32(float32(*req.Temperature))
	}
	var perf *types.PerformanceConfiguration
	if req.Profile != "" {
		perf = &types.PerformanceConfiguration{Latency: types.PerformanceConfigLatency(req.Profile)}
	}
	client := b.get()
	defer b.pool.Put(client)
	var res Result
	if !req.Stream {
		out, err := client.Converse(ctx, &bedrockruntime.ConverseInput{
			ModelId: aws.String(req.Model), Messages: msgs, System: sys,
			InferenceConfig: inf, PerformanceConfig: perf,
		})
		res.End = time.Now()
		if err != nil {
			return res, b.wrap(ctx, req, err, false)
		}
		b.headers(&res, out.ResultMetadata)
		res.StopReason = string(out.StopReason)
		if m, ok := out.Output.(*types.ConverseOutputMemberMessage); ok {
			for _, c := range m.Value.Content {
				if t, ok := c.(*types.ContentBlockMemberText); ok {
					res.TextBytes += len(t.Value)
				}
			}
		}
		usage(&res, out.Usage)
		if out.Metrics != nil && out.Metrics.LatencyMs != nil {
			res.ServerMs = ptr(float64(*out.Metrics.LatencyMs))
		}
		if out.PerformanceConfig != nil && out.PerformanceConfig.Latency != "" {
			res.ProfileServed = string(out.PerformanceConfig.Latency)
		}
		return res, nil
	}
	out, err := client.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{
		ModelId: aws.String(req.Model), Messages: msgs, System: sys,
		InferenceConfig: inf, PerformanceConfig: perf,
	})
	if err != nil {
		res.End = time.Now()
		return res, b.wrap(ctx, req, err, false)
	}
	b.headers(&res, out.ResultMetadata)
	stream := out.GetStream()
	defer stream.Close()
	for ev := range stream.Events() {
		now := time.Now()
		switch v := ev.(type) {
		case *types.ConverseStreamOutputMemberContentBlockDelta:
			n := 0
			switch d := v.Value.Delta.(type) {
			case *types.ContentBlockDeltaMemberText:
				n = len(d.Value)
			case *types.ContentBlockDeltaMemberReasoningContent:
				if t, ok := d.Value.(*types.ReasoningContentBlockDeltaMemberText); ok {
					n = len(t.Value)
				}
			case *types.ContentBlockDeltaMemberToolUse:
				if d.Value.Input != nil {
					n = len(*d.Value.Input)
				}
			}
			if n > 0 {
				if res.First.IsZero() {
					res.First = now
				}
				res.Last = now
				res.Chunks++
				res.TextBytes += n
			}
		case *types.ConverseStreamOutputMemberMessageStop:
			res.StopReason = string(v.Value.StopReason)
		case *types.ConverseStreamOutputMemberMetadata:
			usage(&res, v.Value.Usage)
			if v.Value.Metrics != nil && v.Value.Metrics.LatencyMs != nil {
				res.ServerMs = ptr(float64(*v.Value.Metrics.LatencyMs))
			}
			if v.Value.PerformanceConfig != nil && v.Value.PerformanceConfig.Latency != "" {
				res.ProfileServed = string(v.Value.PerformanceConfig.Latency)
			}
		}
	}
	res.End = time.Now()
	if err := stream.Err(); err != nil {
		return res, b.wrap(ctx, req, err, true)
	}
	if ctx.Err() != nil {
		return res, b.wrap(ctx, req, ctx.Err(), true)
	}
	return res, nil
}

func usage(res *Result, u *types.TokenUsage) {
	if u == nil {
		return
	}
	res.UsageReported = true
	res.InputTokens = int(aws.ToInt32(u.InputTokens))
	res.OutputTokens = int(aws.ToInt32(u.OutputTokens))
	res.CachedTokens = int(aws.ToInt32(u.CacheReadInputTokens))
}

func (b *Bedrock) headers(res *Result, md smithymiddleware.Metadata) {
	if id, ok := awsmiddleware.GetRequestIDMetadata(md); ok {
		res.RequestID = id
	}
	if raw, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response); ok && raw != nil {
		res.Deployment = raw.Header.Get(HeaderDeployment)
		if p := raw.Header.Get(HeaderProfile); p != "" {
			res.ProfileServed = p
		}
	}
}

// wrap classifies an SDK error.
func (b *Bedrock) wrap(ctx context.Context, req Request, err error, inStream bool) *Error {
	e := &Error{Endpoint: b.endpoint, Model: req.Model, Err: err}
	var re *awshttp.ResponseError
	var ae smithy.APIError
	if errors.As(err, &ae) {
		e.Code = ae.ErrorCode()
		e.Err = errors.New(ae.ErrorMessage())
	}
	if errors.As(err, &re) {
		e.Status = re.HTTPStatusCode()
	}
	switch {
	case ctx.Err() != nil:
		e.Type = classifyTransport(ctx, err)
	case e.Status != 0:
		e.Type = classifyStatus(e.Status, e.Code, ae0(ae))
		if e.Code == "ValidationException" && e.Type == ErrValidation && modelMissing(ae0(ae)) {
			e.Type = ErrModelNotFound
		}
	case inStream:
		e.Type = ErrStream
	default:
		e.Type = classifyTransport(ctx, err)
		if e.Type == ErrOther && strings.Contains(err.Error(), "credentials") {
			e.Type = ErrAuth
		}
	}
	return e
}

func ae0(ae smithy.APIError) string {
	if ae == nil {
		return ""
	}
	return ae.ErrorMessage()
}

// modelMissing recognises real Bedrock's answer for an unknown model ID,
// which is a 400 ValidationException ("The provided model identifier is invalid.").
func modelMissing(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "model identifier is invalid") || strings.Contains(m, "model not found")
}

// CountTokens implements TokenCounter with the CountTokens operation.
func (b *Bedrock) CountTokens(ctx context.Context, model, system, prompt string) (int, error) {
	msgs, sys := b.messages(Request{System: system, Prompt: prompt})
	client := b.get()
	defer b.pool.Put(client)
	out, err := client.CountTokens(ctx, &bedrockruntime.CountTokensInput{
		ModelId: aws.String(model),
		Input: &types.CountTokensInputMemberConverse{Value: types.ConverseTokensRequest{
			Messages: msgs, System: sys,
		}},
	})
	if err != nil {
		return 0, b.wrap(ctx, Request{Model: model}, err, false)
	}
	return int(aws.ToInt32(out.InputTokens)), nil
}

// Counter returns a TokenCounter for model.
func (b *Bedrock) Counter(model string) TokenCounter { return bedrockCounter{b, model} }

type bedrockCounter struct {
	b     *Bedrock
	model string
}

func (c bedrockCounter) CountTokens(ctx context.Context, system, prompt string) (int, error) {
	return c.b.CountTokens(ctx, c.model, system, prompt)
}

func ptr[T any](v T) *T { return &v }

// readOnlyBodies hides io.WriterTo on request bodies. smithy-go's request
// body wrapper answers WriteTo with io.EOF once the SDK has closed it, which
// happens as soon as response headers arrive; net/http's final "is there
// more body?" probe then fails, and the transport closes the connection
// under the response stream still being read ("use of closed network
// connection" mid-ConverseStream, a few percent of fast local calls). With
// only Read visible the probe sees a clean io.EOF.
type readOnlyBodies struct{ c aws.HTTPClient }

type readOnlyBody struct{ io.ReadCloser }

func (r readOnlyBodies) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.Body != http.NoBody {
		req.Body = readOnlyBody{req.Body}
	}
	return r.c.Do(req)
}
