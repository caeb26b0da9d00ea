package agent

import (
	"fmt"
	"net/url"
	"time"

	"github.com/outcrop/outcrop/internal/config"
)

// Config is the "agents" section of the configuration file.
type Config struct {
	// LambdaEndpoints maps the Lambda function ARN of an action group's
	// executor to an HTTP(S) URL. Outcrop cannot run AWS Lambda: it POSTs
	// the Bedrock agent Lambda input event (messageVersion 1.0) to the URL
	// and reads the Lambda response format back. An action group whose ARN
	// has no entry fails its calls with DependencyFailedException.
	LambdaEndpoints map[string]string `yaml:"lambda_endpoints"`
	// MCPServers names MCP servers that action groups with
	// parentActionGroupSignature OUTCROP.MCP use as tool sources, each with
	// a streamable HTTP url or a stdio command.
	MCPServers map[string]MCPServer `yaml:"mcp_servers"`
	// MaxIterations bounds model calls per InvokeAgent call; default 10.
	MaxIterations int `yaml:"max_iterations"`
	// MaxToolCalls bounds tool calls per InvokeAgent call; default 20.
	MaxToolCalls int `yaml:"max_tool_calls"`
	// MaxTokens bounds the tokens (input + output, summed over the model
	// calls) of one InvokeAgent call; default 200000.
	MaxTokens int `yaml:"max_tokens"`
	// ToolTimeout bounds one Lambda endpoint call; default 30s.
	ToolTimeout config.Duration `yaml:"tool_timeout"`
}

// ParseConfig decodes and validates the agents section of cfg.
func ParseConfig(cfg *config.Config) (Config, error) {
	var c Config
	if err := config.Decode(cfg.Agents, &c); err != nil {
		return c, fmt.Errorf("agents: %w", err)
	}
	for arn, u := range c.LambdaEndpoints {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return c, fmt.Errorf("agents.lambda_endpoints[%s]: %q is not an http(s) URL", arn, u)
		}
	}
	for name, m := range c.MCPServers {
		if (m.URL == "") == (len(m.Command) == 0) {
			return c, fmt.Errorf("agents.mcp_servers[%s]: give exactly one of url and command", name)
		}
		if m.URL != "" {
			p, err := url.Parse(m.URL)
			if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
				return c, fmt.Errorf("agents.mcp_servers[%s]: %q is not an http(s) URL", name, m.URL)
			}
		}
	}
	if c.MaxIterations < 0 || c.MaxToolCalls < 0 || c.MaxTokens < 0 || c.ToolTimeout < 0 {
		return c, fmt.Errorf("agents: limits must not be negative")
	}
	return c, nil
}

// Limits returns the configured limits (zero fields take the defaults).
func (c Config) Limits() Limits {
	return Limits{MaxIterations: c.MaxIterations, MaxToolCalls: c.MaxToolCalls, MaxTokens: c.MaxTokens,
		ToolTimeout: time.Duration(c.ToolTimeout)}.withDefaults()
}
