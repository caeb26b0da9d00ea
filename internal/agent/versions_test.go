package agent_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagent"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime"
	rttypes "github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime/types"

	"github.com/outcrop/outcrop/internal/agent"
	"github.com/outcrop/outcrop/internal/store"
	"github.com/outcrop/outcrop/internal/store/storetest"
)

// TestAgentVersions: Get/List/DeleteAgentVersion through aws-sdk-go-v2,
// with the in-use check on versions an alias serves.
func TestAgentVersions(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, storetest.SQLite(t), agent.Limits{})
	e.up.setScript(travelScript)
	ac, rc := e.clients("alice")
	id := createTravelAgent(t, ctx, ac, "travel")
	a1, err := ac.CreateAgentAlias(ctx, &bedrockagent.CreateAgentAliasInput{AgentId: aws.String(id), AgentAliasName: aws.String("one")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ac.UpdateAgent(ctx, &bedrockagent.UpdateAgentInput{AgentId: aws.String(id), AgentName: aws.String("travel"),
		FoundationModel: aws.String(testModel), Instruction: aws.String(travelInstruction + " Be brief."),
		AgentResourceRoleArn: aws.String("arn:aws:iam::000000000000:role/x")}); err != nil {
		t.Fatal(err)
	}
	if _, err := ac.PrepareAgent(ctx, &bedrockagent.PrepareAgentInput{AgentId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	if _, err := ac.CreateAgentAlias(ctx, &bedrockagent.CreateAgentAliasInput{AgentId: aws.String(id), AgentAliasName: aws.String("two")}); err != nil {
		t.Fatal(err)
	}

	list, err := ac.ListAgentVersions(ctx, &bedrockagent.ListAgentVersionsInput{AgentId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range list.AgentVersionSummaries {
		got = append(got, *v.AgentVersion)
	}
	if strings.Join(got, ",") != "DRAFT,1,2" {
		t.Fatalf("ListAgentVersions = %v, want DRAFT,1,2", got)
	}
	page, err := ac.ListAgentVersions(ctx, &bedrockagent.ListAgentVersionsInput{AgentId: aws.String(id), MaxResults: aws.Int32(2)})
	if err != nil || len(page.AgentVersionSummaries) != 2 || page.NextToken == nil {
		t.Fatalf("first page of 2 = %+v, %v", page, err)
	}

	v1, err := ac.GetAgentVersion(ctx, &bedrockagent.GetAgentVersionInput{AgentId: aws.String(id), AgentVersion: aws.String("1")})
	if err != nil {
		t.Fatal(err)
	}
	if *v1.AgentVersion.Version != "1" || *v1.AgentVersion.Instruction != travelInstruction || *v1.AgentVersion.AgentId != id {
		t.Fatalf("GetAgentVersion 1 = %+v", v1.AgentVersion)
	}
	v2, err := ac.GetAgentVersion(ctx, &bedrockagent.GetAgentVersionInput{AgentId: aws.String(id), AgentVersion: aws.String("2")})
	if err != nil || !strings.HasSuffix(*v2.AgentVersion.Instruction, "Be brief.") {
		t.Fatalf("GetAgentVersion 2 = %+v, %v", v2, err)
	}

	_, err = ac.DeleteAgentVersion(ctx, &bedrockagent.DeleteAgentVersionInput{AgentId: aws.String(id), AgentVersion: aws.String("1")})
	wantAPIError(t, "delete a version an alias serves", err, "ConflictException", 409)
	_, err = ac.DeleteAgentVersion(ctx, &bedrockagent.DeleteAgentVersionInput{AgentId: aws.String(id), AgentVersion: aws.String("DRAFT")})
	wantAPIError(t, "delete DRAFT", err, "ValidationException", 400)
	_, err = ac.GetAgentVersion(ctx, &bedrockagent.GetAgentVersionInput{AgentId: aws.String(id), AgentVersion: aws.String("9")})
	wantAPIError(t, "get a missing version", err, "ResourceNotFoundException", 404)

	del, err := ac.DeleteAgentVersion(ctx, &bedrockagent.DeleteAgentVersionInput{AgentId: aws.String(id), AgentVersion: aws.String("1"),
		SkipResourceInUseCheck: true})
	if err != nil || del.AgentStatus != "DELETING" || *del.AgentVersion != "1" {
		t.Fatalf("DeleteAgentVersion 1 with skipResourceInUseCheck = %+v, %v", del, err)
	}
	_, err = ac.GetAgentVersion(ctx, &bedrockagent.GetAgentVersionInput{AgentId: aws.String(id), AgentVersion: aws.String("1")})
	wantAPIError(t, "get the deleted version", err, "ResourceNotFoundException", 404)
	groups, err := ac.ListAgentActionGroups(ctx, &bedrockagent.ListAgentActionGroupsInput{AgentId: aws.String(id), AgentVersion: aws.String("1")})
	if err == nil {
		t.Fatalf("action groups of the deleted version still listed: %+v", groups)
	}
	// The alias that served version 1 now names a missing version.
	tr := invoke(t, ctx, rc, &bedrockagentruntime.InvokeAgentInput{AgentId: a1.AgentAlias.AgentId, AgentAliasId: a1.AgentAlias.AgentAliasId,
		SessionId: aws.String("s-gone"), InputText: aws.String("hi")})
	wantAPIError(t, "invoke an alias of a deleted version", tr.err, "ResourceNotFoundException", 404)
	list, err = ac.ListAgentVersions(ctx, &bedrockagent.ListAgentVersionsInput{AgentId: aws.String(id)})
	if err != nil || len(list.AgentVersionSummaries) != 2 {
		t.Fatalf("versions after delete = %+v, %v", list, err)
	}
	_, err = ac.ListAgentVersions(ctx, &bedrockagent.ListAgentVersionsInput{AgentId: aws.String("AAAAAAAAAA")})
	wantAPIError(t, "versions of an unknown agent", err, "ResourceNotFoundException", 404)
}

// TestAliasCannotDodgeDeny: an agent whose foundationModel is an alias of
// a model runs its model calls on the canonical ID, so a Deny written for
// the canonical foundation-model ARN applies.
func TestAliasCannotDodgeDeny(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, storetest.SQLite(t), agent.Limits{})
	e.up.setScript(func(msgs []chatMsg, tools []string) reply { return reply{Text: "Hello."} })
	for _, user := range []string{"alice", "carol"} {
		ac, rc := e.clients(user)
		out, err := ac.CreateAgent(ctx, &bedrockagent.CreateAgentInput{AgentName: aws.String("aliased-" + user),
			FoundationModel: aws.String(modelAlias), Instruction: aws.String(travelInstruction)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ac.PrepareAgent(ctx, &bedrockagent.PrepareAgentInput{AgentId: out.Agent.AgentId}); err != nil {
			t.Fatal(err)
		}
		before := e.up.calls.Load()
		tr := invoke(t, ctx, rc, &bedrockagentruntime.InvokeAgentInput{AgentId: out.Agent.AgentId, AgentAliasId: aws.String("TSTALIASID"),
			SessionId: aws.String("s-" + user), InputText: aws.String("hello")})
		switch user {
		case "alice":
			if tr.err != nil || tr.text != "Hello." {
				t.Fatalf("alice through the alias = %+v", tr)
			}
		case "carol":
			wantAPIError(t, "carol, denied the canonical model, through its alias", tr.err, "AccessDeniedException", 403)
			if e.up.calls.Load() != before {
				t.Fatalf("the denied model was called")
			}
		}
	}
}

// TestConcurrentTurnsConflict: while a turn runs, a second InvokeAgent on
// the same session gets ConflictException (409), also when it reaches
// another replica sharing the database; once the first turn ends the
// session takes turns again. Other sessions are not held up.
func TestConcurrentTurnsConflict(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, agent.Limits{})
		e.up.setScript(func(msgs []chatMsg, tools []string) reply { return reply{Text: "Done: " + msgs[len(msgs)-1].text()} })
		other := e.replica(t)
		ac, rc1 := e.clients("alice")
		_, rc2 := e.clientsAt(other, "alice")
		id := createTravelAgent(t, ctx, ac, "travel")

		entered, gate := make(chan struct{}), make(chan struct{})
		var once sync.Once
		e.up.mu.Lock()
		e.up.hold = func() {
			first := false
			once.Do(func() { first = true })
			if first {
				close(entered)
				<-gate
			}
		}
		e.up.mu.Unlock()
		in := func(sess, text string) *bedrockagentruntime.InvokeAgentInput {
			return &bedrockagentruntime.InvokeAgentInput{AgentId: aws.String(id), AgentAliasId: aws.String("TSTALIASID"),
				SessionId: aws.String(sess), InputText: aws.String(text)}
		}
		first := make(chan turn, 1)
		go func() { first <- invoke(t, ctx, rc1, in("shared-session", "first")) }()
		select {
		case <-entered:
		case <-time.After(30 * time.Second):
			t.Fatal("the first turn never reached the model")
		}
		for name, c := range map[string]*bedrockagentruntime.Client{"same replica": rc1, "other replica": rc2} {
			second := invoke(t, ctx, c, in("shared-session", "second"))
			wantAPIError(t, "concurrent turn on "+name, second.err, "ConflictException", 409)
		}
		if tr := invoke(t, ctx, rc2, in("another-session", "hello")); tr.err != nil || tr.text != "Done: hello" {
			t.Fatalf("another session while the first runs = %+v", tr)
		}
		close(gate)
		if tr := <-first; tr.err != nil || tr.text != "Done: first" {
			t.Fatalf("first turn = %+v", tr)
		}
		if tr := invoke(t, ctx, rc2, in("shared-session", "third")); tr.err != nil || tr.text != "Done: third" {
			t.Fatalf("turn after the first ended = %+v", tr)
		}
		// A turn refused after it took the session frees it too.
		bad := in("shared-session", "")
		bad.InputText = nil
		bad.SessionState = &rttypes.SessionState{InvocationId: aws.String("x"), ReturnControlInvocationResults: []rttypes.InvocationResultMember{
			&rttypes.InvocationResultMemberMemberFunctionResult{Value: rttypes.FunctionResult{ActionGroup: aws.String("HotelActions"), Function: aws.String("search_hotels")}}}}
		wantAPIError(t, "results without a pending call", invoke(t, ctx, rc1, bad).err, "ValidationException", 400)
		if tr := invoke(t, ctx, rc1, in("shared-session", "fourth")); tr.err != nil || tr.text != "Done: fourth" {
			t.Fatalf("turn after a refused one = %+v", tr)
		}
	})
}
