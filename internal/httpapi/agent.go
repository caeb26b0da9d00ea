package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
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

	mux.Handle("POST /agents/{agentId}/agentAliases/{agentAliasId}/sessions/{sessionId}/text", h("bedrock:InvokeAgent", g.invoke(a)))
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
		in := &agent.Invocation{AgentID: r.PathValue("agentId"), AliasID: r.PathValue("agentAliasId"), SessionID: r.PathValue("sessionId"),
			InputText: body.InputText, SessionState: body.SessionState, EnableTrace: body.EnableTrace, EndSession: body.EndSession}
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
			typ, payload, merr := agentEvent(ev)
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
}

// agentEvent renders an agent event as an InvokeAgent stream member.
func agentEvent(ev agent.Event) (string, []byte, error) {
	switch {
	case ev.Chunk != nil:
		b, err := json.Marshal(ev.Chunk)
		return "chunk", b, err
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
