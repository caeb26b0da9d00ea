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

const hotelsAPI = `openapi: 3.0.0
info: {title: Hotels, version: "1"}
paths:
  /hotels/{city}/bookings:
    post:
      operationId: bookHotel
      description: Book a hotel room in a city
      parameters:
        - {name: city, in: path, required: true, schema: {type: string}}
        - {name: nights, in: query, required: false, schema: {type: integer}}
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [hotel, guest]
              properties:
                hotel: {type: string}
                guest: {type: string}
      responses:
        "200": {description: booked}
`

// TestOpenAPIActionGroup: an apiSchema action group's operation is offered
// as a tool and its call is handed back as an apiInvocationInput (path and
// query parameters apart from the body properties); the apiResult goes
// back to the model.
func TestOpenAPIActionGroup(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, storetest.SQLite(t), agent.Limits{})
	e.up.setScript(func(msgs []chatMsg, tools []string) reply {
		last := msgs[len(msgs)-1]
		if last.Role == "tool" {
			return reply{Text: "Booked: " + last.text()}
		}
		return reply{Tool: "Hotels__bookHotel", Args: `{"city":"Paris","nights":2,"hotel":"Lumiere","guest":"Ana"}`}
	})
	ac, rc := e.clients("alice")
	out, err := ac.CreateAgent(ctx, &bedrockagent.CreateAgentInput{AgentName: aws.String("hotels"), FoundationModel: aws.String(testModel),
		Instruction: aws.String(travelInstruction)})
	if err != nil {
		t.Fatal(err)
	}
	id := out.Agent.AgentId
	if _, err := ac.CreateAgentActionGroup(ctx, &bedrockagent.CreateAgentActionGroupInput{AgentId: id, AgentVersion: aws.String("DRAFT"),
		ActionGroupName: aws.String("Hotels"), ActionGroupExecutor: &agtypes.ActionGroupExecutorMemberCustomControl{Value: agtypes.CustomControlMethodReturnControl},
		ApiSchema: &agtypes.APISchemaMemberPayload{Value: hotelsAPI}}); err != nil {
		t.Fatalf("CreateAgentActionGroup with apiSchema: %v", err)
	}
	if _, err := ac.PrepareAgent(ctx, &bedrockagent.PrepareAgentInput{AgentId: id}); err != nil {
		t.Fatal(err)
	}
	tr := invoke(t, ctx, rc, &bedrockagentruntime.InvokeAgentInput{AgentId: id, AgentAliasId: aws.String("TSTALIASID"),
		SessionId: aws.String("api-1"), InputText: aws.String("Book Hotel Lumiere in Paris for Ana, two nights")})
	if tr.err != nil || tr.rc == nil {
		t.Fatalf("turn = %+v, want a returnControl", tr)
	}
	api, ok := tr.rc.InvocationInputs[0].(*rttypes.InvocationInputMemberMemberApiInvocationInput)
	if !ok {
		t.Fatalf("invocation input %#v, want apiInvocationInput", tr.rc.InvocationInputs[0])
	}
	in := api.Value
	params := map[string]string{}
	for _, p := range in.Parameters {
		params[*p.Name] = *p.Value
	}
	body := map[string]string{}
	for _, p := range in.RequestBody.Content["application/json"].Properties {
		body[*p.Name] = *p.Value
	}
	if *in.ApiPath != "/hotels/{city}/bookings" || *in.HttpMethod != "POST" || *in.ActionGroup != "Hotels" ||
		params["city"] != "Paris" || params["nights"] != "2" || body["hotel"] != "Lumiere" || body["guest"] != "Ana" || len(params) != 2 {
		t.Fatalf("apiInvocationInput = path %s %s params %v body %v", *in.HttpMethod, *in.ApiPath, params, body)
	}
	done := invoke(t, ctx, rc, &bedrockagentruntime.InvokeAgentInput{AgentId: id, AgentAliasId: aws.String("TSTALIASID"), SessionId: aws.String("api-1"),
		SessionState: &rttypes.SessionState{InvocationId: tr.rc.InvocationId, ReturnControlInvocationResults: []rttypes.InvocationResultMember{
			&rttypes.InvocationResultMemberMemberApiResult{Value: rttypes.ApiResult{ActionGroup: aws.String("Hotels"), ApiPath: in.ApiPath,
				HttpMethod: aws.String("POST"), HttpStatusCode: aws.Int32(200),
				ResponseBody: map[string]rttypes.ContentBody{"application/json": {Body: aws.String(`{"confirmation":"H-42"}`)}}}}}}})
	if done.err != nil || !strings.Contains(done.text, "H-42") {
		t.Fatalf("after the apiResult: %+v", done)
	}
}
