package bedrock

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/outcrop/outcrop/internal/llm"
)

var _ llm.TokenCounter = (*Provider)(nil)

// CountTokens counts the request's input tokens with Bedrock's CountTokens
// operation (Converse form).
func (p *Provider) CountTokens(ctx context.Context, req *llm.Request) (int, error) {
	in, err := p.input(req)
	if err != nil {
		return 0, err
	}
	out, err := p.client.CountTokens(ctx, &bedrockruntime.CountTokensInput{ModelId: in.ModelId,
		Input: &types.CountTokensInputMemberConverse{Value: types.ConverseTokensRequest{Messages: in.Messages, System: in.System,
			ToolConfig: in.ToolConfig, AdditionalModelRequestFields: in.AdditionalModelRequestFields}}})
	if err != nil {
		return 0, classify(ctx, err)
	}
	if out.InputTokens == nil {
		return 0, &llm.Error{Kind: llm.KindModelError, Message: "The upstream returned no token count."}
	}
	return int(*out.InputTokens), nil
}
