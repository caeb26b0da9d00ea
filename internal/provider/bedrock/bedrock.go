// Package bedrock is the provider for Amazon Bedrock itself as an upstream:
// Outcrop in front of real Bedrock, adding its own policy, quotas, caching
// and metrics. It calls Converse and ConverseStream through aws-sdk-go-v2's
// bedrockruntime client — SigV4 with the standard credential chain (or
// static keys, or a named profile), or a Bedrock API key as a bearer token —
// and passes the neutral request through nearly unchanged, since Outcrop's
// neutral model is Converse-shaped: performanceConfig, cross-region
// inference profile ids and ARNs as model ids, cache points, reasoning with
// signatures, and guardrails when the deployment leaves them to Bedrock.
// Bedrock's exceptions, before or inside the stream, come back as *llm.Error
// with the same names; throttling and unavailability are retryable.
//
// Lifecycle: New loads credentials configuration (no network call) and
// returns a Provider that is safe for concurrent use; each stream owns the
// SDK's reader goroutine until it ends or is closed. Nothing to close.
package bedrock

import (
	"context"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/schemas"
	"github.com/aws/smithy-go/auth/bearer"
	"github.com/aws/smithy-go/transport/http/protocol/restjson1"

	"github.com/outcrop/outcrop/internal/llm"
)

// Config configures one Bedrock deployment.
type Config struct {
	// Region is the AWS region, e.g. us-east-1. Default: the standard
	// chain's (AWS_REGION, the profile), else us-east-1.
	Region string
	// Model is the Bedrock model id, inference profile id
	// (us.anthropic.claude-3-5-haiku-20241022-v1:0) or ARN. Required.
	Model string
	// Endpoint overrides the service endpoint (a VPC endpoint, or a test
	// server); empty uses the region's.
	Endpoint string
	// APIKey is a Bedrock API key, sent as a bearer token instead of SigV4.
	APIKey string
	// AccessKeyID, SecretAccessKey and SessionToken are static SigV4
	// credentials; empty uses the standard chain (environment, shared
	// config and Profile, SSO, web identity, ECS/EC2 roles).
	AccessKeyID, SecretAccessKey, SessionToken string
	// Profile selects a shared-config profile for the standard chain.
	Profile string
	// Guardrails passes a request's guardrailConfig and guardContent to
	// Bedrock. Default false: Outcrop's own guardrail stage applies them
	// and Bedrock receives plain text.
	Guardrails bool
	// MaxAttempts is the SDK's attempts per call (its own backoff for
	// throttling). Default 1: Outcrop's router retries on other deployments.
	MaxAttempts int
	// HTTPClient makes the calls; the SDK's default when nil.
	HTTPClient *http.Client
	// ContextWindow is the model's context size in tokens, reported by
	// Describe; 0 means unknown.
	ContextWindow int
}

// Provider calls one model on Bedrock.
type Provider struct {
	cfg    Config
	client *bedrockruntime.Client
}

var (
	_ llm.Provider  = (*Provider)(nil)
	_ llm.Conversor = (*Provider)(nil)
	_ llm.Describer = (*Provider)(nil)
)

// New returns a provider for cfg.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	if cfg.Model == "" {
		return nil, fmt.Errorf("bedrock provider: model is required")
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 1
	}
	var opts []func(*awsconfig.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, awsconfig.WithRegion(cfg.Region))
	}
	if cfg.Profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(cfg.Profile))
	}
	if cfg.AccessKeyID != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken)))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("bedrock provider: load AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = "us-east-1"
	}
	client := bedrockruntime.NewFromConfig(awsCfg, func(o *bedrockruntime.Options) {
		o.RetryMaxAttempts = cfg.MaxAttempts
		if cfg.HTTPClient != nil {
			// Set here rather than in LoadDefaultConfig, which would try
			// to add AWS_CA_BUNDLE to it: the client's own TLS settings
			// (egress ca_file) apply.
			o.HTTPClient = cfg.HTTPClient
		}
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		if cfg.APIKey != "" {
			key := cfg.APIKey
			o.BearerAuthTokenProvider = bearer.TokenProviderFunc(func(context.Context) (bearer.Token, error) {
				return bearer.Token{Value: key}, nil
			})
			o.AuthSchemePreference = []string{"httpBearerAuth"}
		}
	})
	return &Provider{cfg: cfg, client: client}, nil
}

// Describe says what the provider serves.
func (p *Provider) Describe() llm.Description {
	return llm.Description{Provider: "bedrock", UpstreamModel: p.cfg.Model, ContextWindow: p.cfg.ContextWindow}
}

// ConverseStream calls ConverseStream.
func (p *Provider) ConverseStream(ctx context.Context, req *llm.Request) (llm.Stream, error) {
	in, err := p.input(req)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	out, err := p.client.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{
		ModelId: in.ModelId, Messages: in.Messages, System: in.System, InferenceConfig: in.InferenceConfig,
		ToolConfig: in.ToolConfig, AdditionalModelRequestFields: in.AdditionalModelRequestFields,
		AdditionalModelResponseFieldPaths: in.AdditionalModelResponseFieldPaths, PerformanceConfig: in.PerformanceConfig,
		RequestMetadata: in.RequestMetadata, GuardrailConfig: streamGuardrail(in, req),
	}, ownEventCodec)
	if err != nil {
		e := classify(ctx, err)
		cancel()
		return nil, e
	}
	return newStream(ctx, cancel, out.GetStream()), nil
}

// ownEventCodec gives one stream a protocol of its own. The SDK's
// restjson1 protocol keeps a single event-stream decoder and payload buffer,
// shared by every stream of a client, so two concurrent ConverseStream calls
// on one client race on them (seen under -race in TestConformance/Concurrent).
func ownEventCodec(o *bedrockruntime.Options) {
	o.Protocol = restjson1.New(schemas.AmazonBedrockFrontendService)
}

// Converse calls Converse.
func (p *Provider) Converse(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	in, err := p.input(req)
	if err != nil {
		return nil, err
	}
	out, err := p.client.Converse(ctx, in)
	if err != nil {
		return nil, classify(ctx, err)
	}
	return response(out)
}
