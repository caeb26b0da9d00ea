package agent_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagent"
	agtypes "github.com/aws/aws-sdk-go-v2/service/bedrockagent/types"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime"
	rttypes "github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime/types"

	"github.com/outcrop/outcrop/internal/agent"
	"github.com/outcrop/outcrop/internal/store/storetest"
)

// TestBadInput: each malformed or impossible request gets Bedrock's error
// code and status through the real SDKs, never a 5xx.
func TestBadInput(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, storetest.SQLite(t), agent.Limits{})
	e.up.setScript(travelScript)
	ac, rc := e.clients("alice")
	id := createTravelAgent(t, ctx, ac, "travel")
	unprepared, err := ac.CreateAgent(ctx, &bedrockagent.CreateAgentInput{AgentName: aws.String("draft-only"), FoundationModel: aws.String(testModel),
		Instruction: aws.String(travelInstruction)})
	if err != nil {
		t.Fatal(err)
	}
	group := func(fs agtypes.FunctionSchema, api agtypes.APISchema) error {
		_, err := ac.CreateAgentActionGroup(ctx, &bedrockagent.CreateAgentActionGroupInput{AgentId: aws.String(id), AgentVersion: aws.String("DRAFT"),
			ActionGroupName: aws.String("Bad"), ActionGroupExecutor: &agtypes.ActionGroupExecutorMemberCustomControl{Value: agtypes.CustomControlMethodReturnControl},
			FunctionSchema: fs, ApiSchema: api})
		return err
	}
	fn := func(name, typ string) agtypes.FunctionSchema {
		return &agtypes.FunctionSchemaMemberFunctions{Value: []agtypes.Function{{Name: aws.String(name),
			Parameters: map[string]agtypes.ParameterDetail{"p": {Type: agtypes.Type(typ)}}}}}
	}
	inv := func(agentID, alias, sess, text string, st *rttypes.SessionState) error {
		out := invoke(t, ctx, rc, &bedrockagentruntime.InvokeAgentInput{AgentId: aws.String(agentID), AgentAliasId: aws.String(alias),
			SessionId: aws.String(sess), InputText: aws.String(text), SessionState: st})
		return out.err
	}
	tests := []struct {
		name   string
		call   func() error
		code   string
		status int
	}{
		{"parameter type object", func() error { return group(fn("f", "object"), nil) }, "ValidationException", 400},
		{"function name with spaces", func() error { return group(fn("my function", "string"), nil) }, "ValidationException", 400},
		{"both schemas", func() error {
			return group(fn("f", "string"), &agtypes.APISchemaMemberPayload{Value: `{"openapi":"3.0.0"}`})
		}, "ValidationException", 400},
		{"openapi not a document", func() error { return group(nil, &agtypes.APISchemaMemberPayload{Value: "{not json"}) }, "ValidationException", 400},
		{"openapi without paths", func() error {
			return group(nil, &agtypes.APISchemaMemberPayload{Value: `{"openapi":"3.0.0","info":{"title":"t","version":"1"},"paths":{}}`})
		}, "ValidationException", 400},
		{"openapi in s3", func() error {
			return group(nil, &agtypes.APISchemaMemberS3{Value: agtypes.S3Identifier{S3BucketName: aws.String("b"), S3ObjectKey: aws.String("k")}})
		}, "ValidationException", 400},
		{"instruction too short", func() error {
			_, err := ac.CreateAgent(ctx, &bedrockagent.CreateAgentInput{AgentName: aws.String("short"), Instruction: aws.String("be nice")})
			return err
		}, "ValidationException", 400},
		{"unknown model", func() error {
			_, err := ac.CreateAgent(ctx, &bedrockagent.CreateAgentInput{AgentName: aws.String("nomodel"), FoundationModel: aws.String("no-such-model")})
			return err
		}, "ValidationException", 400},
		{"duplicate agent name", func() error {
			_, err := ac.CreateAgent(ctx, &bedrockagent.CreateAgentInput{AgentName: aws.String("travel")})
			return err
		}, "ConflictException", 409},
		{"unknown agent", func() error {
			_, err := ac.GetAgent(ctx, &bedrockagent.GetAgentInput{AgentId: aws.String("ZZZZZZZZZZ")})
			return err
		}, "ResourceNotFoundException", 404},
		{"malformed agent id", func() error {
			_, err := ac.GetAgent(ctx, &bedrockagent.GetAgentInput{AgentId: aws.String("abc")})
			return err
		}, "ValidationException", 400},
		{"unknown alias", func() error {
			_, err := ac.GetAgentAlias(ctx, &bedrockagent.GetAgentAliasInput{AgentId: aws.String(id), AgentAliasId: aws.String("ZZZZZZZZZZ")})
			return err
		}, "ResourceNotFoundException", 404},
		{"alias at a missing version", func() error {
			_, err := ac.CreateAgentAlias(ctx, &bedrockagent.CreateAgentAliasInput{AgentId: aws.String(id), AgentAliasName: aws.String("x"),
				RoutingConfiguration: []agtypes.AgentAliasRoutingConfigurationListItem{{AgentVersion: aws.String("7")}}})
			return err
		}, "ResourceNotFoundException", 404},
		{"invoke unknown agent", func() error { return inv("ZZZZZZZZZZ", "TSTALIASID", "s1", "hi", nil) }, "ResourceNotFoundException", 404},
		{"invoke unknown alias", func() error { return inv(id, "ZZZZZZZZZZ", "s1", "hi", nil) }, "ResourceNotFoundException", 404},
		{"invoke unprepared agent", func() error { return inv(*unprepared.Agent.AgentId, "TSTALIASID", "s1", "hi", nil) }, "ConflictException", 409},
		{"invoke bad session id", func() error { return inv(id, "TSTALIASID", "bad session!", "hi", nil) }, "ValidationException", 400},
		{"results without a pending call", func() error {
			return inv(id, "TSTALIASID", "fresh-session", "", &rttypes.SessionState{InvocationId: aws.String("x"),
				ReturnControlInvocationResults: []rttypes.InvocationResultMember{&rttypes.InvocationResultMemberMemberFunctionResult{
					Value: rttypes.FunctionResult{ActionGroup: aws.String("HotelActions"), Function: aws.String("search_hotels")}}}})
		}, "ValidationException", 400},
		{"empty input", func() error { return inv(id, "TSTALIASID", "s2", "", nil) }, "ValidationException", 400},
		{"oversize input", func() error { return inv(id, "TSTALIASID", "s3", strings.Repeat("a", 2<<20), nil) }, "ValidationException", 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantAPIError(t, tc.name, tc.call(), tc.code, tc.status)
		})
	}
}
