package agent

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/resource"
)

// Resource kinds this package keeps in the resource store.
const (
	kindAgent       = "agent"
	kindActionGroup = "agent-action-group"
	kindAlias       = "agent-alias"
	kindSession     = "agent-session"
)

// Default idle session TTL (Bedrock's default: 30 minutes).
const defaultIdleTTL = 1800

// Control is the bedrock-agent control plane for agents, their action
// groups and aliases. Agents are per account: every method takes the
// caller's account.
type Control struct {
	rs *resource.Store
	// modelKnown reports whether a foundationModel names a model Outcrop
	// serves; nil accepts any.
	modelKnown func(id string) bool
}

// NewControl returns the control plane over rs. modelKnown may be nil.
func NewControl(rs *resource.Store, modelKnown func(id string) bool) *Control {
	return &Control{rs: rs, modelKnown: modelKnown}
}

// Scope returns the resource scope, for ARNs.
func (c *Control) Scope() resource.Scope { return c.rs.Scope() }

func (c *Control) agentKey(acct, id string) resource.Key {
	return resource.Key{Account: acct, Kind: kindAgent, ID: id}
}

func notFoundAgent(id string) error {
	return resource.NotFound("Agent %s not found.", id)
}

// checkAgentID validates an agentId path label.
func checkAgentID(id string) error {
	if !resource.ValidID(id) {
		return resource.Invalid("agentId", "Member must satisfy regular expression pattern: ^[0-9a-zA-Z]{10}$")
	}
	return nil
}

// CreateAgent stores a new agent's DRAFT (status NOT_PREPARED).
func (c *Control) CreateAgent(ctx context.Context, acct string, in *AgentInput) (*Agent, error) {
	if err := validateAgent(in); err != nil {
		return nil, err
	}
	if err := c.checkModel(in.FoundationModel); err != nil {
		return nil, err
	}
	id := resource.NewID()
	now := c.rs.Now()
	a := &Agent{AgentID: id, AgentVersion: resource.Draft, AgentArn: c.rs.Scope().ARN(acct, "agent", id),
		AgentStatus: StatusNotPrepared, CreatedAt: now, UpdatedAt: now, ClientToken: in.ClientToken}
	apply(a, in)
	it, err := c.rs.Create(ctx, c.agentKey(acct, id), in.AgentName, in.ClientToken, a)
	if err != nil {
		return nil, err
	}
	return resource.Decode[Agent](it)
}

func (c *Control) checkModel(id string) error {
	if id != "" && c.modelKnown != nil && !c.modelKnown(id) {
		return resource.Invalidf("The foundationModel %s is not a model this server serves.", id)
	}
	return nil
}

// apply copies the mutable fields of in onto a.
func apply(a *Agent, in *AgentInput) {
	a.AgentName = in.AgentName
	a.Instruction = in.Instruction
	a.FoundationModel = in.FoundationModel
	a.Description = in.Description
	a.OrchestrationType = in.OrchestrationType
	if a.OrchestrationType == "" {
		a.OrchestrationType = "DEFAULT"
	}
	a.IdleSessionTTLInSeconds = in.IdleSessionTTLInSeconds
	if a.IdleSessionTTLInSeconds == 0 {
		a.IdleSessionTTLInSeconds = defaultIdleTTL
	}
	a.AgentResourceRoleArn = in.AgentResourceRoleArn
	a.CustomerEncryptionKeyArn = in.CustomerEncryptionKeyArn
	a.GuardrailConfiguration = in.GuardrailConfiguration
	a.PromptOverrideConfiguration = in.PromptOverrideConfiguration
	a.MemoryConfiguration = in.MemoryConfiguration
	a.AgentCollaboration = in.AgentCollaboration
	if a.AgentCollaboration == "" {
		a.AgentCollaboration = "DISABLED"
	}
}

// GetAgent returns an agent's DRAFT or numbered version.
func (c *Control) GetAgent(ctx context.Context, acct, id, version string) (*Agent, error) {
	if err := checkAgentID(id); err != nil {
		return nil, err
	}
	it, err := c.rs.Get(ctx, c.agentKey(acct, id), version)
	if isNotFound(err) {
		if version != "" && version != resource.Draft {
			return nil, resource.NotFound("Version %s of agent %s not found.", version, id)
		}
		return nil, notFoundAgent(id)
	}
	if err != nil {
		return nil, err
	}
	return resource.Decode[Agent](it)
}

func isNotFound(err error) bool {
	var e *llm.Error
	return errors.As(err, &e) && e.Kind == llm.KindNotFound
}

// UpdateAgent replaces the DRAFT's definition; the agent must be prepared
// again before TSTALIASID serves the change.
func (c *Control) UpdateAgent(ctx context.Context, acct, id string, in *AgentInput) (*Agent, error) {
	if err := checkAgentID(id); err != nil {
		return nil, err
	}
	if err := validateAgent(in); err != nil {
		return nil, err
	}
	if err := c.checkModel(in.FoundationModel); err != nil {
		return nil, err
	}
	it, err := c.rs.Update(ctx, c.agentKey(acct, id), func(it *resource.Item) error {
		a, err := resource.Decode[Agent](it)
		if err != nil {
			return err
		}
		apply(a, in)
		a.AgentStatus = StatusNotPrepared
		a.UpdatedAt = c.rs.Now()
		it.Name = in.AgentName
		it.Body, err = json.Marshal(a)
		return err
	})
	if isNotFound(err) {
		return nil, notFoundAgent(id)
	}
	if err != nil {
		return nil, err
	}
	return resource.Decode[Agent](it)
}

// DeleteAgent deletes an agent with its versions, action groups, aliases
// and sessions.
func (c *Control) DeleteAgent(ctx context.Context, acct, id string) error {
	if err := checkAgentID(id); err != nil {
		return err
	}
	err := c.rs.Delete(ctx, c.agentKey(acct, id))
	if isNotFound(err) {
		return notFoundAgent(id)
	}
	return err
}

// ListAgents lists the account's agents.
func (c *Control) ListAgents(ctx context.Context, acct string, p resource.Page) ([]AgentSummary, string, error) {
	items, next, err := c.rs.List(ctx, resource.ListQuery{Account: acct, Kind: kindAgent, Page: p})
	if err != nil {
		return nil, "", err
	}
	out := make([]AgentSummary, 0, len(items))
	for _, it := range items {
		a, err := resource.Decode[Agent](it)
		if err != nil {
			return nil, "", err
		}
		latest := ""
		vs, _, err := c.rs.List(ctx, resource.ListQuery{Account: acct, Kind: kindAgent, ID: a.AgentID})
		if err == nil && len(vs) > 0 {
			latest = vs[len(vs)-1].Version
		}
		out = append(out, AgentSummary{AgentID: a.AgentID, AgentName: a.AgentName, AgentStatus: a.AgentStatus,
			Description: a.Description, UpdatedAt: a.UpdatedAt, LatestAgentVersion: latest, GuardrailConfiguration: a.GuardrailConfiguration})
	}
	return out, next, nil
}

// PrepareAgent checks the DRAFT can run (a model, an instruction, valid
// action groups) and marks it PREPARED. Outcrop prepares synchronously:
// the response already says PREPARED (Bedrock passes through PREPARING).
func (c *Control) PrepareAgent(ctx context.Context, acct, id string) (*Agent, error) {
	a, err := c.GetAgent(ctx, acct, id, "")
	if err != nil {
		return nil, err
	}
	if a.FoundationModel == "" {
		return nil, resource.Invalidf("Agent %s has no foundationModel; set one with UpdateAgent before preparing it.", id)
	}
	if a.Instruction == "" {
		return nil, resource.Invalidf("Agent %s has no instruction; set one with UpdateAgent before preparing it.", id)
	}
	if err := c.checkModel(a.FoundationModel); err != nil {
		return nil, err
	}
	groups, err := c.actionGroups(ctx, acct, id, resource.Draft)
	if err != nil {
		return nil, err
	}
	if _, err := buildTools(groups); err != nil {
		return nil, err
	}
	it, err := c.rs.Update(ctx, c.agentKey(acct, id), func(it *resource.Item) error {
		a, err := resource.Decode[Agent](it)
		if err != nil {
			return err
		}
		now := c.rs.Now()
		a.AgentStatus, a.PreparedAt, a.UpdatedAt = StatusPrepared, &now, now
		it.Body, err = json.Marshal(a)
		return err
	})
	if err != nil {
		return nil, err
	}
	return resource.Decode[Agent](it)
}

// markUnprepared sets the DRAFT back to NOT_PREPARED after a change to its
// action groups.
func (c *Control) markUnprepared(ctx context.Context, acct, id string) error {
	_, err := c.rs.Update(ctx, c.agentKey(acct, id), func(it *resource.Item) error {
		a, err := resource.Decode[Agent](it)
		if err != nil {
			return err
		}
		a.AgentStatus, a.UpdatedAt = StatusNotPrepared, c.rs.Now()
		it.Body, err = json.Marshal(a)
		return err
	})
	return err
}

// createVersion freezes the prepared DRAFT and its action groups as the
// next numbered version.
func (c *Control) createVersion(ctx context.Context, acct, id string) (string, error) {
	draft, err := c.GetAgent(ctx, acct, id, "")
	if err != nil {
		return "", err
	}
	if draft.AgentStatus != StatusPrepared {
		return "", resource.Invalidf("Agent %s is not prepared; call PrepareAgent before creating an alias that makes a new version.", id)
	}
	groups, err := c.actionGroups(ctx, acct, id, resource.Draft)
	if err != nil {
		return "", err
	}
	it, err := c.rs.CreateVersion(ctx, c.agentKey(acct, id), func(it *resource.Item) error {
		a, err := resource.Decode[Agent](it)
		if err != nil {
			return err
		}
		a.AgentVersion = it.Version
		a.CreatedAt, a.UpdatedAt = it.CreatedAt, it.CreatedAt
		it.Body, err = json.Marshal(a)
		return err
	})
	if err != nil {
		return "", err
	}
	v := it.Version
	for _, g := range groups {
		g.AgentVersion = v
		k := resource.Key{Account: acct, Kind: kindActionGroup, Parent: id + "/" + v, ID: g.ActionGroupID}
		if _, err := c.rs.Create(ctx, k, g.ActionGroupName, "", g); err != nil {
			return "", err
		}
	}
	return v, nil
}

// --- action groups ---

func groupParent(agentID, version string) string { return agentID + "/" + version }

func checkDraftVersion(v string) error {
	if v != resource.Draft {
		return resource.Invalid("agentVersion", "action groups can only be changed on the DRAFT version")
	}
	return nil
}

// CreateActionGroup adds an action group to the agent's DRAFT.
func (c *Control) CreateActionGroup(ctx context.Context, acct, agentID, version string, in *ActionGroupInput) (*ActionGroup, error) {
	if err := checkAgentID(agentID); err != nil {
		return nil, err
	}
	if err := checkDraftVersion(version); err != nil {
		return nil, err
	}
	if err := validateActionGroup(in); err != nil {
		return nil, err
	}
	if _, err := c.GetAgent(ctx, acct, agentID, ""); err != nil {
		return nil, err
	}
	if in.ParentActionGroupSignature == SignatureUserInput {
		groups, err := c.actionGroups(ctx, acct, agentID, version)
		if err != nil {
			return nil, err
		}
		for _, g := range groups {
			if g.ParentActionSignature == SignatureUserInput {
				return nil, resource.Conflict("Agent %s already has an AMAZON.UserInput action group.", agentID)
			}
		}
	}
	id := resource.NewID()
	now := c.rs.Now()
	g := &ActionGroup{AgentID: agentID, AgentVersion: version, ActionGroupID: id, CreatedAt: now, UpdatedAt: now, ClientToken: in.ClientToken}
	applyGroup(g, in)
	k := resource.Key{Account: acct, Kind: kindActionGroup, Parent: groupParent(agentID, version), ID: id}
	it, err := c.rs.Create(ctx, k, in.ActionGroupName, in.ClientToken, g)
	if err != nil {
		return nil, err
	}
	if err := c.markUnprepared(ctx, acct, agentID); err != nil {
		return nil, err
	}
	return resource.Decode[ActionGroup](it)
}

func applyGroup(g *ActionGroup, in *ActionGroupInput) {
	g.ActionGroupName = in.ActionGroupName
	g.Description = in.Description
	g.ParentActionSignature = in.ParentActionGroupSignature
	g.ParentActionGroupSignatureParams = in.ParentActionGroupSignatureParams
	g.ActionGroupExecutor = in.ActionGroupExecutor
	g.APISchema = in.APISchema
	g.FunctionSchema = in.FunctionSchema
	g.ActionGroupState = in.ActionGroupState
	if g.ActionGroupState == "" {
		g.ActionGroupState = "ENABLED"
	}
}

func notFoundGroup(id string) error {
	return resource.NotFound("Action group %s not found.", id)
}

// GetActionGroup returns one action group of an agent version.
func (c *Control) GetActionGroup(ctx context.Context, acct, agentID, version, groupID string) (*ActionGroup, error) {
	if err := checkAgentID(agentID); err != nil {
		return nil, err
	}
	if _, err := resource.ParseVersion("agentVersion", version); err != nil {
		return nil, err
	}
	if !resource.ValidID(groupID) {
		return nil, resource.Invalid("actionGroupId", "Member must satisfy regular expression pattern: ^[0-9a-zA-Z]{10}$")
	}
	it, err := c.rs.Get(ctx, resource.Key{Account: acct, Kind: kindActionGroup, Parent: groupParent(agentID, version), ID: groupID}, "")
	if isNotFound(err) {
		return nil, notFoundGroup(groupID)
	}
	if err != nil {
		return nil, err
	}
	return resource.Decode[ActionGroup](it)
}

// UpdateActionGroup replaces an action group of the DRAFT.
func (c *Control) UpdateActionGroup(ctx context.Context, acct, agentID, version, groupID string, in *ActionGroupInput) (*ActionGroup, error) {
	if err := checkDraftVersion(version); err != nil {
		return nil, err
	}
	if err := validateActionGroup(in); err != nil {
		return nil, err
	}
	if _, err := c.GetActionGroup(ctx, acct, agentID, version, groupID); err != nil {
		return nil, err
	}
	k := resource.Key{Account: acct, Kind: kindActionGroup, Parent: groupParent(agentID, version), ID: groupID}
	it, err := c.rs.Update(ctx, k, func(it *resource.Item) error {
		g, err := resource.Decode[ActionGroup](it)
		if err != nil {
			return err
		}
		applyGroup(g, in)
		g.UpdatedAt = c.rs.Now()
		it.Name = in.ActionGroupName
		it.Body, err = json.Marshal(g)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := c.markUnprepared(ctx, acct, agentID); err != nil {
		return nil, err
	}
	return resource.Decode[ActionGroup](it)
}

// DeleteActionGroup removes an action group from the DRAFT.
func (c *Control) DeleteActionGroup(ctx context.Context, acct, agentID, version, groupID string) error {
	if err := checkDraftVersion(version); err != nil {
		return err
	}
	if _, err := c.GetActionGroup(ctx, acct, agentID, version, groupID); err != nil {
		return err
	}
	if err := c.rs.Delete(ctx, resource.Key{Account: acct, Kind: kindActionGroup, Parent: groupParent(agentID, version), ID: groupID}); err != nil {
		return err
	}
	return c.markUnprepared(ctx, acct, agentID)
}

// ListActionGroups lists the action groups of an agent version.
func (c *Control) ListActionGroups(ctx context.Context, acct, agentID, version string, p resource.Page) ([]ActionGroupSummary, string, error) {
	if err := checkAgentID(agentID); err != nil {
		return nil, "", err
	}
	if _, err := resource.ParseVersion("agentVersion", version); err != nil {
		return nil, "", err
	}
	if _, err := c.GetAgent(ctx, acct, agentID, version); err != nil {
		return nil, "", err
	}
	items, next, err := c.rs.List(ctx, resource.ListQuery{Account: acct, Kind: kindActionGroup, Parent: groupParent(agentID, version), Page: p})
	if err != nil {
		return nil, "", err
	}
	out := make([]ActionGroupSummary, 0, len(items))
	for _, it := range items {
		g, err := resource.Decode[ActionGroup](it)
		if err != nil {
			return nil, "", err
		}
		out = append(out, ActionGroupSummary{ActionGroupID: g.ActionGroupID, ActionGroupName: g.ActionGroupName,
			ActionGroupState: g.ActionGroupState, Description: g.Description, UpdatedAt: g.UpdatedAt})
	}
	return out, next, nil
}

// actionGroups returns every action group of an agent version.
func (c *Control) actionGroups(ctx context.Context, acct, agentID, version string) ([]*ActionGroup, error) {
	var out []*ActionGroup
	tok := ""
	for {
		items, next, err := c.rs.List(ctx, resource.ListQuery{Account: acct, Kind: kindActionGroup, Parent: groupParent(agentID, version), Page: resource.Page{NextToken: tok}})
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			g, err := resource.Decode[ActionGroup](it)
			if err != nil {
				return nil, err
			}
			out = append(out, g)
		}
		if next == "" {
			return out, nil
		}
		tok = next
	}
}

// --- aliases ---

func (c *Control) aliasKey(acct, agentID, aliasID string) resource.Key {
	return resource.Key{Account: acct, Kind: kindAlias, Parent: agentID, ID: aliasID}
}

func notFoundAlias(id string) error {
	return resource.NotFound("Agent alias %s not found.", id)
}

// CreateAlias creates an alias. Without a routingConfiguration it freezes
// the prepared DRAFT as a new version and points the alias at it, as
// Bedrock does; with one it points at the version named.
func (c *Control) CreateAlias(ctx context.Context, acct, agentID string, in *AliasInput) (*Alias, error) {
	if err := checkAgentID(agentID); err != nil {
		return nil, err
	}
	if err := c.validateAlias(in); err != nil {
		return nil, err
	}
	if _, err := c.GetAgent(ctx, acct, agentID, ""); err != nil {
		return nil, err
	}
	routing, err := c.route(ctx, acct, agentID, in.RoutingConfiguration)
	if err != nil {
		return nil, err
	}
	id := resource.NewID()
	now := c.rs.Now()
	al := &Alias{AgentID: agentID, AgentAliasID: id, AgentAliasName: in.AgentAliasName,
		AgentAliasArn: c.rs.Scope().ARN(acct, "agent-alias", agentID, id), ClientToken: in.ClientToken,
		Description: in.Description, RoutingConfiguration: routing, CreatedAt: now, UpdatedAt: now,
		AgentAliasStatus: "PREPARED", AliasInvocationState: aliasState(in.AliasInvocationState),
		HistoryEvents: []AliasHistory{{RoutingConfiguration: routing, StartDate: now}}}
	it, err := c.rs.Create(ctx, c.aliasKey(acct, agentID, id), in.AgentAliasName, in.ClientToken, al)
	if err != nil {
		return nil, err
	}
	return resource.Decode[Alias](it)
}

func aliasState(s string) string {
	if s == "" {
		return "ACCEPT_INVOCATIONS"
	}
	return s
}

func (c *Control) validateAlias(in *AliasInput) error {
	if err := resource.Name("agentAliasName", in.AgentAliasName); err != nil {
		return err
	}
	if err := resource.OptionalLength("description", in.Description, 1, 200); err != nil {
		return err
	}
	if len(in.RoutingConfiguration) > 1 {
		return resource.Invalid("routingConfiguration", "Member must have at most 1 item")
	}
	switch in.AliasInvocationState {
	case "", "ACCEPT_INVOCATIONS", "REJECT_INVOCATIONS":
	default:
		return resource.Invalid("aliasInvocationState", "Member must satisfy enum value set: [ACCEPT_INVOCATIONS, REJECT_INVOCATIONS]")
	}
	return resource.Tags("tags", in.Tags)
}

// route resolves an alias's routing configuration, creating a version when
// none is named.
func (c *Control) route(ctx context.Context, acct, agentID string, rc []AliasRouting) ([]AliasRouting, error) {
	if len(rc) == 0 || rc[0].AgentVersion == "" {
		v, err := c.createVersion(ctx, acct, agentID)
		if err != nil {
			return nil, err
		}
		return []AliasRouting{{AgentVersion: v}}, nil
	}
	v := rc[0].AgentVersion
	if v == resource.Draft {
		return nil, resource.Invalid("routingConfiguration.agentVersion", "an alias cannot point at the DRAFT version; use TSTALIASID")
	}
	if _, err := c.GetAgent(ctx, acct, agentID, v); err != nil {
		return nil, err
	}
	return []AliasRouting{{AgentVersion: v}}, nil
}

// GetAlias returns an alias; TSTALIASID is the built-in alias of the DRAFT.
func (c *Control) GetAlias(ctx context.Context, acct, agentID, aliasID string) (*Alias, error) {
	if err := checkAgentID(agentID); err != nil {
		return nil, err
	}
	if aliasID == resource.DraftAlias {
		a, err := c.GetAgent(ctx, acct, agentID, "")
		if err != nil {
			return nil, err
		}
		return &Alias{AgentID: agentID, AgentAliasID: aliasID, AgentAliasName: "AgentTestAlias",
			AgentAliasArn:        c.rs.Scope().ARN(acct, "agent-alias", agentID, aliasID),
			RoutingConfiguration: []AliasRouting{{AgentVersion: resource.Draft}}, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt,
			AgentAliasStatus: "PREPARED", AliasInvocationState: "ACCEPT_INVOCATIONS"}, nil
	}
	if !resource.ValidID(aliasID) {
		return nil, resource.Invalid("agentAliasId", "Member must satisfy regular expression pattern: ^(\\bTSTALIASID\\b|[0-9a-zA-Z]+)$")
	}
	it, err := c.rs.Get(ctx, c.aliasKey(acct, agentID, aliasID), "")
	if isNotFound(err) {
		if _, err := c.GetAgent(ctx, acct, agentID, ""); err != nil {
			return nil, err
		}
		return nil, notFoundAlias(aliasID)
	}
	if err != nil {
		return nil, err
	}
	return resource.Decode[Alias](it)
}

// UpdateAlias changes an alias's name, description, state or version.
func (c *Control) UpdateAlias(ctx context.Context, acct, agentID, aliasID string, in *AliasInput) (*Alias, error) {
	if aliasID == resource.DraftAlias {
		return nil, resource.Invalid("agentAliasId", "TSTALIASID cannot be changed")
	}
	if err := c.validateAlias(in); err != nil {
		return nil, err
	}
	old, err := c.GetAlias(ctx, acct, agentID, aliasID)
	if err != nil {
		return nil, err
	}
	routing, err := c.route(ctx, acct, agentID, in.RoutingConfiguration)
	if err != nil {
		return nil, err
	}
	it, err := c.rs.Update(ctx, c.aliasKey(acct, agentID, aliasID), func(it *resource.Item) error {
		now := c.rs.Now()
		al := *old
		al.AgentAliasName, al.Description = in.AgentAliasName, in.Description
		al.AliasInvocationState = aliasState(in.AliasInvocationState)
		al.UpdatedAt = now
		if al.RoutingConfiguration[0].AgentVersion != routing[0].AgentVersion {
			if n := len(al.HistoryEvents); n > 0 {
				al.HistoryEvents[n-1].EndDate = &now
			}
			al.HistoryEvents = append(al.HistoryEvents, AliasHistory{RoutingConfiguration: routing, StartDate: now})
		}
		al.RoutingConfiguration = routing
		it.Name = in.AgentAliasName
		var err error
		it.Body, err = json.Marshal(&al)
		return err
	})
	if err != nil {
		return nil, err
	}
	return resource.Decode[Alias](it)
}

// DeleteAlias deletes an alias (and its sessions).
func (c *Control) DeleteAlias(ctx context.Context, acct, agentID, aliasID string) error {
	if aliasID == resource.DraftAlias {
		return resource.Invalid("agentAliasId", "TSTALIASID cannot be deleted")
	}
	if _, err := c.GetAlias(ctx, acct, agentID, aliasID); err != nil {
		return err
	}
	return c.rs.Delete(ctx, c.aliasKey(acct, agentID, aliasID))
}

// ListAliases lists an agent's aliases (TSTALIASID included, first).
func (c *Control) ListAliases(ctx context.Context, acct, agentID string, p resource.Page) ([]AliasSummary, string, error) {
	if err := checkAgentID(agentID); err != nil {
		return nil, "", err
	}
	if _, err := c.GetAgent(ctx, acct, agentID, ""); err != nil {
		return nil, "", err
	}
	items, next, err := c.rs.List(ctx, resource.ListQuery{Account: acct, Kind: kindAlias, Parent: agentID, Page: p})
	if err != nil {
		return nil, "", err
	}
	out := make([]AliasSummary, 0, len(items)+1)
	if p.NextToken == "" {
		d, err := c.GetAlias(ctx, acct, agentID, resource.DraftAlias)
		if err != nil {
			return nil, "", err
		}
		out = append(out, summarize(d))
	}
	for _, it := range items {
		al, err := resource.Decode[Alias](it)
		if err != nil {
			return nil, "", err
		}
		out = append(out, summarize(al))
	}
	return out, next, nil
}

func summarize(a *Alias) AliasSummary {
	return AliasSummary{AgentAliasID: a.AgentAliasID, AgentAliasName: a.AgentAliasName, Description: a.Description,
		RoutingConfiguration: a.RoutingConfiguration, AgentAliasStatus: a.AgentAliasStatus, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
}

// --- versions ---

// AgentVersion is GetAgentVersion's "agentVersion" member: an agent
// version, whose version label is "version".
type AgentVersion struct {
	Agent
	Version string `json:"version"`
}

// AgentVersionSummary is one ListAgentVersions entry.
type AgentVersionSummary struct {
	AgentName              string                  `json:"agentName"`
	AgentStatus            string                  `json:"agentStatus"`
	AgentVersion           string                  `json:"agentVersion"`
	CreatedAt              time.Time               `json:"createdAt"`
	UpdatedAt              time.Time               `json:"updatedAt"`
	Description            string                  `json:"description,omitempty"`
	GuardrailConfiguration *GuardrailConfiguration `json:"guardrailConfiguration,omitempty"`
}

// GetAgentVersion returns one version of an agent (DRAFT or numbered).
func (c *Control) GetAgentVersion(ctx context.Context, acct, id, version string) (*AgentVersion, error) {
	v, err := resource.ParseVersion("agentVersion", version)
	if err != nil {
		return nil, err
	}
	a, err := c.GetAgent(ctx, acct, id, v)
	if err != nil {
		return nil, err
	}
	return &AgentVersion{Agent: *a, Version: a.AgentVersion}, nil
}

// ListAgentVersions lists an agent's versions, DRAFT first.
func (c *Control) ListAgentVersions(ctx context.Context, acct, id string, p resource.Page) ([]AgentVersionSummary, string, error) {
	if err := checkAgentID(id); err != nil {
		return nil, "", err
	}
	items, next, err := c.rs.List(ctx, resource.ListQuery{Account: acct, Kind: kindAgent, ID: id, Page: p})
	if isNotFound(err) {
		return nil, "", notFoundAgent(id)
	}
	if err != nil {
		return nil, "", err
	}
	out := make([]AgentVersionSummary, 0, len(items))
	for _, it := range items {
		a, err := resource.Decode[Agent](it)
		if err != nil {
			return nil, "", err
		}
		out = append(out, AgentVersionSummary{AgentName: a.AgentName, AgentStatus: a.AgentStatus, AgentVersion: it.Version,
			CreatedAt: it.CreatedAt, UpdatedAt: it.UpdatedAt, Description: a.Description, GuardrailConfiguration: a.GuardrailConfiguration})
	}
	return out, next, nil
}

// DeleteAgentVersion deletes a numbered version with its action groups.
// A version an alias points at is ConflictException unless skipInUse is
// set (then the alias is left pointing at a missing version, and invoking
// it is ResourceNotFoundException). The DRAFT cannot be deleted this way.
func (c *Control) DeleteAgentVersion(ctx context.Context, acct, id, version string, skipInUse bool) error {
	v, err := resource.ParseVersion("agentVersion", version)
	if err != nil {
		return err
	}
	if v == resource.Draft {
		return resource.Invalid("agentVersion", "the DRAFT version cannot be deleted; delete the agent instead")
	}
	if _, err := c.GetAgent(ctx, acct, id, v); err != nil {
		return err
	}
	if !skipInUse {
		tok := ""
		for {
			items, next, err := c.rs.List(ctx, resource.ListQuery{Account: acct, Kind: kindAlias, Parent: id, Page: resource.Page{NextToken: tok}})
			if err != nil {
				return err
			}
			for _, it := range items {
				al, err := resource.Decode[Alias](it)
				if err != nil {
					return err
				}
				if len(al.RoutingConfiguration) > 0 && al.RoutingConfiguration[0].AgentVersion == v {
					return resource.Conflict("Version %s of agent %s is used by alias %s; point the alias elsewhere or set skipResourceInUseCheck.", v, id, al.AgentAliasID)
				}
			}
			if next == "" {
				break
			}
			tok = next
		}
	}
	groups, err := c.actionGroups(ctx, acct, id, v)
	if err != nil {
		return err
	}
	for _, g := range groups {
		k := resource.Key{Account: acct, Kind: kindActionGroup, Parent: groupParent(id, v), ID: g.ActionGroupID}
		if err := c.rs.Delete(ctx, k); err != nil && !isNotFound(err) {
			return err
		}
	}
	return c.rs.DeleteVersion(ctx, c.agentKey(acct, id), v)
}
