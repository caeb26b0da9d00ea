package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/outcrop/outcrop/internal/agent"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/resource"
)

// Agents is the route group of the bedrock-agent agents control plane
// (agents, action groups, aliases; paths exactly as the SDKs send them,
// trailing slashes included) and of bedrock-agent-runtime's InvokeAgent.
type Agents struct {
	Control *agent.Control
	Runtime agent.Runtime
	// Now is the clock of event-stream write deadlines; time.Now when nil.
	Now func() time.Time
}

var _ RouteGroup = (*Agents)(nil)

// Routes implements RouteGroup.
func (g *Agents) Routes(mux *http.ServeMux, a *Adapter) {
	h := func(action string, fn func(w http.ResponseWriter, r *http.Request, acct string) error) http.Handler {
		return a.ControlPlane(func(w http.ResponseWriter, r *http.Request) error {
			acct := resource.Account(r.Context(), g.Control.Scope())
			res := "*"
			if id := r.PathValue("agentId"); id != "" {
				res = g.Control.Scope().ARN(acct, "agent", id)
				if alias := r.PathValue("agentAliasId"); alias != "" {
					res = g.Control.Scope().ARN(acct, "agent-alias", id, alias)
				}
			}
			if err := a.Authorize(r, action, res); err != nil {
				return err
			}
			return fn(w, r, acct)
		})
	}
	mux.Handle("PUT /agents/{$}", h("bedrock:CreateAgent", g.createAgent(a)))
	mux.Handle("POST /agents/{$}", h("bedrock:ListAgents", g.listAgents(a)))
	mux.Handle("GET /agents/{agentId}/{$}", h("bedrock:GetAgent", g.getAgent))
	mux.Handle("PUT /agents/{agentId}/{$}", h("bedrock:UpdateAgent", g.updateAgent(a)))
	mux.Handle("DELETE /agents/{agentId}/{$}", h("bedrock:DeleteAgent", g.deleteAgent))
	mux.Handle("POST /agents/{agentId}/{$}", h("bedrock:PrepareAgent", g.prepareAgent))

	mux.Handle("PUT /agents/{agentId}/agentversions/{agentVersion}/actiongroups/{$}", h("bedrock:CreateAgentActionGroup", g.createGroup(a)))
	mux.Handle("POST /agents/{agentId}/agentversions/{agentVersion}/actiongroups/{$}", h("bedrock:ListAgentActionGroups", g.listGroups(a)))
	mux.Handle("GET /agents/{agentId}/agentversions/{agentVersion}/actiongroups/{actionGroupId}/{$}", h("bedrock:GetAgentActionGroup", g.getGroup))
	mux.Handle("PUT /agents/{agentId}/agentversions/{agentVersion}/actiongroups/{actionGroupId}/{$}", h("bedrock:UpdateAgentActionGroup", g.updateGroup(a)))
	mux.Handle("DELETE /agents/{agentId}/agentversions/{agentVersion}/actiongroups/{actionGroupId}/{$}", h("bedrock:DeleteAgentActionGroup", g.deleteGroup))

	mux.Handle("PUT /agents/{agentId}/agentaliases/{$}", h("bedrock:CreateAgentAlias", g.createAlias(a)))
	mux.Handle("POST /agents/{agentId}/agentaliases/{$}", h("bedrock:ListAgentAliases", g.listAliases(a)))
	mux.Handle("GET /agents/{agentId}/agentaliases/{agentAliasId}/{$}", h("bedrock:GetAgentAlias", g.getAlias))
	mux.Handle("PUT /agents/{agentId}/agentaliases/{agentAliasId}/{$}", h("bedrock:UpdateAgentAlias", g.updateAlias(a)))
	mux.Handle("DELETE /agents/{agentId}/agentaliases/{agentAliasId}/{$}", h("bedrock:DeleteAgentAlias", g.deleteAlias))

	mux.Handle("GET /agents/{agentId}/agentversions/{agentVersion}/{$}", h("bedrock:GetAgentVersion", g.getVersion))
	mux.Handle("POST /agents/{agentId}/agentversions/{$}", h("bedrock:ListAgentVersions", g.listVersions(a)))
	mux.Handle("DELETE /agents/{agentId}/agentversions/{agentVersion}/{$}", h("bedrock:DeleteAgentVersion", g.deleteVersion))

	mux.Handle("POST /agents/{agentId}/agentAliases/{agentAliasId}/sessions/{sessionId}/text", h("bedrock:InvokeAgent", g.invoke(a)))
	mux.Handle("POST /agents/{sessionId}", h("bedrock:InvokeInlineAgent", g.invokeInline(a)))
}

func (g *Agents) getVersion(w http.ResponseWriter, r *http.Request, acct string) error {
	v, err := g.Control.GetAgentVersion(r.Context(), acct, r.PathValue("agentId"), r.PathValue("agentVersion"))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"agentVersion": v})
}

func (g *Agents) listVersions(a *Adapter) func(http.ResponseWriter, *http.Request, string) error {
	return func(w http.ResponseWriter, r *http.Request, acct string) error {
		var p resource.Page
		if err := readJSON(a, r, &p); err != nil {
			return err
		}
		items, next, err := g.Control.ListAgentVersions(r.Context(), acct, r.PathValue("agentId"), p)
		if err != nil {
			return err
		}
		return WriteJSON(w, http.StatusOK, struct {
			Summaries []agent.AgentVersionSummary `json:"agentVersionSummaries"`
			NextToken string                      `json:"nextToken,omitempty"`
		}{items, next})
	}
}

func (g *Agents) deleteVersion(w http.ResponseWriter, r *http.Request, acct string) error {
	id, v := r.PathValue("agentId"), r.PathValue("agentVersion")
	skip := false
	if q := r.URL.Query().Get("skipResourceInUseCheck"); q != "" {
		b, err := strconv.ParseBool(q)
		if err != nil {
			return resource.Invalid("skipResourceInUseCheck", "Member must be a boolean")
		}
		skip = b
	}
	if err := g.Control.DeleteAgentVersion(r.Context(), acct, id, v, skip); err != nil {
		return err
	}
	return WriteJSON(w, http.StatusAccepted, map[string]any{"agentId": id, "agentVersion": v, "agentStatus": "DELETING"})
}

func (g *Agents) createAgent(a *Adapter) func(http.ResponseWriter, *http.Request, string) error {
	return func(w http.ResponseWriter, r *http.Request, acct string) error {
		var in agent.AgentInput
		if err := readJSON(a, r, &in); err != nil {
			return err
		}
		ag, err := g.Control.CreateAgent(r.Context(), acct, &in)
		if err != nil {
			return err
		}
		return WriteJSON(w, http.StatusAccepted, map[string]any{"agent": ag})
	}
}

func (g *Agents) listAgents(a *Adapter) func(http.ResponseWriter, *http.Request, string) error {
	return func(w http.ResponseWriter, r *http.Request, acct string) error {
		var p resource.Page
		if err := readJSON(a, r, &p); err != nil {
			return err
		}
		items, next, err := g.Control.ListAgents(r.Context(), acct, p)
		if err != nil {
			return err
		}
		return WriteJSON(w, http.StatusOK, struct {
			AgentSummaries []agent.AgentSummary `json:"agentSummaries"`
			NextToken      string               `json:"nextToken,omitempty"`
		}{items, next})
	}
}

func (g *Agents) getAgent(w http.ResponseWriter, r *http.Request, acct string) error {
	ag, err := g.Control.GetAgent(r.Context(), acct, r.PathValue("agentId"), "")
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"agent": ag})
}

func (g *Agents) updateAgent(a *Adapter) func(http.ResponseWriter, *http.Request, string) error {
	return func(w http.ResponseWriter, r *http.Request, acct string) error {
		var in agent.AgentInput
		if err := readJSON(a, r, &in); err != nil {
			return err
		}
		ag, err := g.Control.UpdateAgent(r.Context(), acct, r.PathValue("agentId"), &in)
		if err != nil {
			return err
		}
		return WriteJSON(w, http.StatusAccepted, map[string]any{"agent": ag})
	}
}

func (g *Agents) deleteAgent(w http.ResponseWriter, r *http.Request, acct string) error {
	id := r.PathValue("agentId")
	if err := g.Control.DeleteAgent(r.Context(), acct, id); err != nil {
		return err
	}
	return WriteJSON(w, http.StatusAccepted, map[string]any{"agentId": id, "agentStatus": "DELETING"})
}

func (g *Agents) prepareAgent(w http.ResponseWriter, r *http.Request, acct string) error {
	ag, err := g.Control.PrepareAgent(r.Context(), acct, r.PathValue("agentId"))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusAccepted, map[string]any{"agentId": ag.AgentID, "agentStatus": ag.AgentStatus,
		"agentVersion": ag.AgentVersion, "preparedAt": ag.PreparedAt})
}

func (g *Agents) createGroup(a *Adapter) func(http.ResponseWriter, *http.Request, string) error {
	return func(w http.ResponseWriter, r *http.Request, acct string) error {
		var in agent.ActionGroupInput
		if err := readJSON(a, r, &in); err != nil {
			return err
		}
		ag, err := g.Control.CreateActionGroup(r.Context(), acct, r.PathValue("agentId"), r.PathValue("agentVersion"), &in)
		if err != nil {
			return err
		}
		return WriteJSON(w, http.StatusOK, map[string]any{"agentActionGroup": ag})
	}
}

func (g *Agents) listGroups(a *Adapter) func(http.ResponseWriter, *http.Request, string) error {
	return func(w http.ResponseWriter, r *http.Request, acct string) error {
		var p resource.Page
		if err := readJSON(a, r, &p); err != nil {
			return err
		}
		items, next, err := g.Control.ListActionGroups(r.Context(), acct, r.PathValue("agentId"), r.PathValue("agentVersion"), p)
		if err != nil {
			return err
		}
		return WriteJSON(w, http.StatusOK, struct {
			Summaries []agent.ActionGroupSummary `json:"actionGroupSummaries"`
			NextToken string                     `json:"nextToken,omitempty"`
		}{items, next})
	}
}

func (g *Agents) getGroup(w http.ResponseWriter, r *http.Request, acct string) error {
	ag, err := g.Control.GetActionGroup(r.Context(), acct, r.PathValue("agentId"), r.PathValue("agentVersion"), r.PathValue("actionGroupId"))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"agentActionGroup": ag})
}

func (g *Agents) updateGroup(a *Adapter) func(http.ResponseWriter, *http.Request, string) error {
	return func(w http.ResponseWriter, r *http.Request, acct string) error {
		var in agent.ActionGroupInput
		if err := readJSON(a, r, &in); err != nil {
			return err
		}
		ag, err := g.Control.UpdateActionGroup(r.Context(), acct, r.PathValue("agentId"), r.PathValue("agentVersion"), r.PathValue("actionGroupId"), &in)
		if err != nil {
			return err
		}
		return WriteJSON(w, http.StatusOK, map[string]any{"agentActionGroup": ag})
	}
}

func (g *Agents) deleteGroup(w http.ResponseWriter, r *http.Request, acct string) error {
	if err := g.Control.DeleteActionGroup(r.Context(), acct, r.PathValue("agentId"), r.PathValue("agentVersion"), r.PathValue("actionGroupId")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (g *Agents) createAlias(a *Adapter) func(http.ResponseWriter, *http.Request, string) error {
	return func(w http.ResponseWriter, r *http.Request, acct string) error {
		var in agent.AliasInput
		if err := readJSON(a, r, &in); err != nil {
			return err
		}
		al, err := g.Control.CreateAlias(r.Context(), acct, r.PathValue("agentId"), &in)
		if err != nil {
			return err
		}
		return WriteJSON(w, http.StatusAccepted, map[string]any{"agentAlias": al})
	}
}

func (g *Agents) listAliases(a *Adapter) func(http.ResponseWriter, *http.Request, string) error {
	return func(w http.ResponseWriter, r *http.Request, acct string) error {
		var p resource.Page
		if err := readJSON(a, r, &p); err != nil {
			return err
		}
		items, next, err := g.Control.ListAliases(r.Context(), acct, r.PathValue("agentId"), p)
		if err != nil {
			return err
		}
		return WriteJSON(w, http.StatusOK, struct {
			Summaries []agent.AliasSummary `json:"agentAliasSummaries"`
			NextToken string               `json:"nextToken,omitempty"`
		}{items, next})
	}
}

func (g *Agents) getAlias(w http.ResponseWriter, r *http.Request, acct string) error {
	al, err := g.Control.GetAlias(r.Context(), acct, r.PathValue("agentId"), r.PathValue("agentAliasId"))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"agentAlias": al})
}

func (g *Agents) updateAlias(a *Adapter) func(http.ResponseWriter, *http.Request, string) error {
	return func(w http.ResponseWriter, r *http.Request, acct string) error {
		var in agent.AliasInput
		if err := readJSON(a, r, &in); err != nil {
			return err
		}
		al, err := g.Control.UpdateAlias(r.Context(), acct, r.PathValue("agentId"), r.PathValue("agentAliasId"), &in)
		if err != nil {
			return err
		}
		return WriteJSON(w, http.StatusAccepted, map[string]any{"agentAlias": al})
	}
}

func (g *Agents) deleteAlias(w http.ResponseWriter, r *http.Request, acct string) error {
	id, alias := r.PathValue("agentId"), r.PathValue("agentAliasId")
	if err := g.Control.DeleteAlias(r.Context(), acct, id, alias); err != nil {
		return err
	}
	return WriteJSON(w, http.StatusAccepted, map[string]any{"agentId": id, "agentAliasId": alias, "agentAliasStatus": "DELETING"})
}

// invokeAgentBody is InvokeAgent's request body.
type invokeAgentBody struct {
	InputText    string              `json:"inputText"`
	SessionState *agent.SessionState `json:"sessionState"`
	EnableTrace  bool                `json:"enableTrace"`
	EndSession   bool                `json:"endSession"`
	MemoryID     string              `json:"memoryId"`
	// Streaming is streamingConfigurations.
	Streaming *agent.StreamingConfigurations `json:"streamingConfigurations"`
	// Unsupported members are refused rather than ignored.
	PromptCreationConfigurations json.RawMessage `json:"promptCreationConfigurations"`
}

// invoke serves InvokeAgent: the turn's events as an AWS event stream
// (chunk, trace, returnControl; an exception event ends a failed turn).
func (g *Agents) invoke(a *Adapter) func(http.ResponseWriter, *http.Request, string) error {
	return func(w http.ResponseWriter, r *http.Request, acct string) error {
		var body invokeAgentBody
		if err := readJSON(a, r, &body); err != nil {
			return err
		}
		if body.MemoryID != "" {
			return resource.Invalid("memoryId", "long-term memory is not supported")
		}
		if len(body.PromptCreationConfigurations) > 0 && string(body.PromptCreationConfigurations) != "null" {
			return resource.Invalid("promptCreationConfigurations", "not supported; the whole session history is sent to the model")
		}
		in := &agent.Invocation{AgentID: r.PathValue("agentId"), AliasID: r.PathValue("agentAliasId"), SessionID: r.PathValue("sessionId"),
			InputText: body.InputText, SessionState: body.SessionState, EnableTrace: body.EnableTrace, EndSession: body.EndSession,
			Streaming: body.Streaming}
		return g.stream(w, r, in)
	}
}

// invokeInlineBody is InvokeInlineAgent's request body.
type invokeInlineBody struct {
	agent.InlineAgent
	InputText          string                         `json:"inputText"`
	EnableTrace        bool                           `json:"enableTrace"`
	EndSession         bool                           `json:"endSession"`
	InlineSessionState *agent.SessionState            `json:"inlineSessionState"`
	Streaming          *agent.StreamingConfigurations `json:"streamingConfigurations"`
	// Members Outcrop refuses: knowledge bases, multi-agent collaboration.
	KnowledgeBases             json.RawMessage `json:"knowledgeBases"`
	Collaborators              json.RawMessage `json:"collaborators"`
	CollaboratorConfigurations json.RawMessage `json:"collaboratorConfigurations"`
	AgentCollaboration         string          `json:"agentCollaboration"`
	// Custom orchestration and per-request history limits are refused too.
	OrchestrationType            string          `json:"orchestrationType"`
	CustomOrchestration          json.RawMessage `json:"customOrchestration"`
	PromptCreationConfigurations json.RawMessage `json:"promptCreationConfigurations"`
}

// invokeInline serves InvokeInlineAgent: an agent defined in the request
// runs one turn of the session, with the same event stream as InvokeAgent.
func (g *Agents) invokeInline(a *Adapter) func(http.ResponseWriter, *http.Request, string) error {
	return func(w http.ResponseWriter, r *http.Request, acct string) error {
		var body invokeInlineBody
		if err := readJSON(a, r, &body); err != nil {
			return err
		}
		present := func(raw json.RawMessage) bool { return len(raw) > 0 && string(raw) != "null" && string(raw) != "[]" }
		switch {
		case present(body.KnowledgeBases):
			return resource.Invalid("knowledgeBases", "knowledge bases are not supported on inline agents")
		case present(body.Collaborators) || present(body.CollaboratorConfigurations):
			return resource.Invalid("collaborators", "multi-agent collaboration is not supported")
		case body.AgentCollaboration != "" && body.AgentCollaboration != "DISABLED":
			return resource.Invalid("agentCollaboration", "multi-agent collaboration is not supported; use DISABLED")
		case (body.OrchestrationType != "" && body.OrchestrationType != "DEFAULT") || present(body.CustomOrchestration):
			return resource.Invalid("orchestrationType", "CUSTOM_ORCHESTRATION needs a Lambda orchestrator, which Outcrop does not run; use DEFAULT")
		case present(body.PromptCreationConfigurations):
			return resource.Invalid("promptCreationConfigurations", "not supported; the whole session history is sent to the model")
		}
		in := &agent.Invocation{SessionID: r.PathValue("sessionId"), InputText: body.InputText, SessionState: body.InlineSessionState,
			EnableTrace: body.EnableTrace, EndSession: body.EndSession, Streaming: body.Streaming, Inline: &body.InlineAgent}
		return g.stream(w, r, in)
	}
}

// stream runs one agent turn and writes its events as an AWS event stream
// (chunk, trace, returnControl; an exception event ends a failed turn).
func (g *Agents) stream(w http.ResponseWriter, r *http.Request, in *agent.Invocation) error {
	st, err := g.Runtime.Invoke(r.Context(), in)
	if err != nil {
		return err
	}
	defer st.Close()
	// The first step runs before the status line, so that an error of
	// the first model call is a plain JSON error response.
	first, ferr := st.Next()
	if ferr != nil && !errors.Is(ferr, io.EOF) {
		return ferr
	}
	now := g.Now
	if now == nil {
		now = time.Now
	}
	w.Header().Set("x-amzn-bedrock-agent-content-type", "application/json")
	w.Header().Set("x-amz-bedrock-agent-session-id", in.SessionID)
	ew := newEventWriter(w, now)
	ew.start()
	ev, err := first, ferr
	for {
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if r.Context().Err() == nil {
				typ, p := agentException(err)
				_ = ew.Exception(typ, p)
			}
			return nil
		}
		typ, payload, merr := agentEvent(ev, in.Inline != nil)
		if merr != nil {
			typ, p := agentException(merr)
			_ = ew.Exception(typ, p)
			return nil
		}
		if err := ew.Event(typ, payload); err != nil {
			return nil // the client went away
		}
		ev, err = st.Next()
	}
}

// agentEvent renders an agent event as an InvokeAgent (or, inline,
// InvokeInlineAgent) stream member.
func agentEvent(ev agent.Event, inline bool) (string, []byte, error) {
	switch {
	case ev.Chunk != nil:
		b, err := json.Marshal(ev.Chunk)
		return "chunk", b, err
	case ev.Trace != nil && inline:
		b, err := json.Marshal(map[string]any{"sessionId": ev.Trace.SessionID, "eventTime": ev.Trace.EventTime, "trace": ev.Trace.Trace})
		return "trace", b, err
	case ev.Trace != nil:
		b, err := json.Marshal(ev.Trace)
		return "trace", b, err
	case ev.ReturnControl != nil:
		b, err := json.Marshal(ev.ReturnControl)
		return "returnControl", b, err
	}
	return "", nil, errors.New("empty agent event")
}

// agentException names the InvokeAgent stream exception for err.
func agentException(err error) (string, []byte) {
	e := llm.AsError(err)
	typ := "internalServerException"
	switch e.Kind {
	case llm.KindValidation:
		typ = "validationException"
	case llm.KindNotFound:
		typ = "resourceNotFoundException"
	case llm.KindAccessDenied, llm.KindUnauthenticated:
		typ = "accessDeniedException"
	case llm.KindConflict:
		typ = "conflictException"
	case llm.KindQuotaExceeded:
		typ = "serviceQuotaExceededException"
	case llm.KindThrottled:
		typ = "throttlingException"
	case llm.KindModelNotReady:
		typ = "modelNotReadyException"
	case llm.KindModelError, llm.KindTimeout, llm.KindUnavailable:
		typ = "badGatewayException"
		if e.Code == "DependencyFailedException" {
			typ = "dependencyFailedException"
		}
	}
	b, _ := json.Marshal(map[string]any{"message": SafeMessage(e)})
	return typ, b
}
