package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/outcrop/outcrop/internal/auth"
	"github.com/outcrop/outcrop/internal/flow"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/resource"
)

// Flows serves Bedrock Flows: the bedrock-agent control plane (CreateFlow …
// flow aliases, PrepareFlow, ValidateFlowDefinition) and the
// bedrock-agent-runtime operations (InvokeFlow over an event stream, and
// the asynchronous flow executions).
type Flows struct {
	Store    *resource.Store
	Executor *flow.Executor
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

var _ RouteGroup = (*Flows)(nil)

// Resource kinds of flows in the resource store.
const (
	kindFlow      = "flow"
	kindFlowAlias = "flow-alias"
)

// Routes implements RouteGroup.
func (f *Flows) Routes(mux *http.ServeMux, a *Adapter) {
	h := func(fn func(w http.ResponseWriter, r *http.Request, a *Adapter) error) http.Handler {
		return a.ControlPlane(func(w http.ResponseWriter, r *http.Request) error { return fn(w, r, a) })
	}
	mux.Handle("POST /flows/{$}", h(f.createFlow))
	mux.Handle("GET /flows/{$}", h(f.listFlows))
	mux.Handle("POST /flows/validate-definition", h(f.validateDefinition))
	mux.Handle("GET /flows/{flowIdentifier}/{$}", h(f.getFlow))
	mux.Handle("PUT /flows/{flowIdentifier}/{$}", h(f.updateFlow))
	mux.Handle("DELETE /flows/{flowIdentifier}/{$}", h(f.deleteFlow))
	mux.Handle("POST /flows/{flowIdentifier}/{$}", h(f.prepareFlow))
	mux.Handle("POST /flows/{flowIdentifier}/versions", h(f.createVersion))
	mux.Handle("GET /flows/{flowIdentifier}/versions", h(f.listVersions))
	mux.Handle("GET /flows/{flowIdentifier}/versions/{flowVersion}/{$}", h(f.getVersion))
	mux.Handle("DELETE /flows/{flowIdentifier}/versions/{flowVersion}/{$}", h(f.deleteVersion))
	mux.Handle("POST /flows/{flowIdentifier}/aliases", h(f.createAlias))
	mux.Handle("GET /flows/{flowIdentifier}/aliases", h(f.listAliases))
	mux.Handle("GET /flows/{flowIdentifier}/aliases/{aliasIdentifier}", h(f.getAlias))
	mux.Handle("PUT /flows/{flowIdentifier}/aliases/{aliasIdentifier}", h(f.updateAlias))
	mux.Handle("DELETE /flows/{flowIdentifier}/aliases/{aliasIdentifier}", h(f.deleteAlias))
	// bedrock-agent-runtime
	mux.Handle("POST /flows/{flowIdentifier}/aliases/{aliasIdentifier}", h(f.invokeFlow))
	mux.Handle("POST /flows/{flowIdentifier}/aliases/{aliasIdentifier}/executions", h(f.startExecution))
	mux.Handle("GET /flows/{flowIdentifier}/aliases/{aliasIdentifier}/executions/{executionIdentifier}", h(f.getExecution))
	mux.Handle("GET /flows/{flowIdentifier}/aliases/{aliasIdentifier}/executions/{executionIdentifier}/events", h(f.listExecutionEvents))
	mux.Handle("GET /flows/{flowIdentifier}/aliases/{aliasIdentifier}/executions/{executionIdentifier}/flowsnapshot", h(f.getSnapshot))
	mux.Handle("POST /flows/{flowIdentifier}/aliases/{aliasIdentifier}/executions/{executionIdentifier}/stop", h(f.stopExecution))
	mux.Handle("GET /flows/{flowIdentifier}/executions", h(f.listExecutions))
}

// flowBody is what the resource store keeps for a flow version.
type flowBody struct {
	Name                     string            `json:"name"`
	Description              string            `json:"description,omitempty"`
	ExecutionRoleArn         string            `json:"executionRoleArn"`
	CustomerEncryptionKeyArn string            `json:"customerEncryptionKeyArn,omitempty"`
	Definition               json.RawMessage   `json:"definition,omitempty"`
	Status                   string            `json:"status"`
	Validations              []flow.Validation `json:"-"`
	ValidationsRaw           json.RawMessage   `json:"validations,omitempty"`
	// Prepared is the definition PrepareFlow last accepted; the DRAFT runs it.
	Prepared json.RawMessage   `json:"prepared,omitempty"`
	Tags     map[string]string `json:"tags,omitempty"`
}

type aliasBody struct {
	Name                     string            `json:"name"`
	Description              string            `json:"description,omitempty"`
	RoutingConfiguration     []routingItem     `json:"routingConfiguration"`
	ConcurrencyConfiguration json.RawMessage   `json:"concurrencyConfiguration,omitempty"`
	Tags                     map[string]string `json:"tags,omitempty"`
}

type routingItem struct {
	FlowVersion string `json:"flowVersion"`
}

func (f *Flows) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func iso(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, err = w.Write(b)
	return err
}

func decodeStrict(body []byte, v any) error {
	d := json.NewDecoder(strings.NewReader(string(body)))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return llm.Errorf(llm.KindValidation, "The request body is not valid JSON: %v", err)
	}
	return nil
}

func (f *Flows) account(r *http.Request) string {
	return resource.Account(r.Context(), f.Store.Scope())
}

func (f *Flows) flowID(r *http.Request) (string, error) {
	id, _, err := f.Store.Scope().Identifier("flowIdentifier", r.PathValue("flowIdentifier"), "flow", f.account(r))
	return id, err
}

func (f *Flows) flowARN(acct, id string) string { return f.Store.Scope().ARN(acct, "flow", id) }

func (f *Flows) flowView(it *resource.Item, b *flowBody, withValidations bool) map[string]any {
	m := map[string]any{
		"name": b.Name, "executionRoleArn": b.ExecutionRoleArn, "id": it.ID, "arn": f.flowARN(it.Account, it.ID),
		"status": b.Status, "createdAt": iso(it.CreatedAt), "version": it.Version,
	}
	if it.Version == resource.Draft {
		m["updatedAt"] = iso(it.UpdatedAt)
	}
	if b.Description != "" {
		m["description"] = b.Description
	}
	if b.CustomerEncryptionKeyArn != "" {
		m["customerEncryptionKeyArn"] = b.CustomerEncryptionKeyArn
	}
	if len(b.Definition) > 0 {
		m["definition"] = b.Definition
	}
	if withValidations && len(b.ValidationsRaw) > 0 {
		m["validations"] = b.ValidationsRaw
	}
	return m
}

type flowRequest struct {
	Name                     string            `json:"name"`
	Description              string            `json:"description"`
	ExecutionRoleArn         string            `json:"executionRoleArn"`
	CustomerEncryptionKeyArn string            `json:"customerEncryptionKeyArn"`
	Definition               json.RawMessage   `json:"definition"`
	ClientToken              string            `json:"clientToken"`
	Tags                     map[string]string `json:"tags"`
}

func (req *flowRequest) validate() error {
	if err := resource.Name("name", req.Name); err != nil {
		return err
	}
	if req.ExecutionRoleArn == "" || len(req.ExecutionRoleArn) > 2048 || !strings.HasPrefix(req.ExecutionRoleArn, "arn:aws") || !strings.Contains(req.ExecutionRoleArn, ":role/") {
		return resource.Invalid("executionRoleArn", "Member must satisfy regular expression pattern: arn:aws(-[^:]+)?:iam::([0-9]{12})?:role/(service-role/)?.+")
	}
	if err := resource.OptionalLength("description", req.Description, 1, 200); err != nil {
		return err
	}
	if req.ClientToken != "" {
		if err := resource.Length("clientToken", req.ClientToken, 33, 256); err != nil {
			return err
		}
	}
	if len(req.Definition) > 0 && string(req.Definition) != "null" {
		if _, err := flow.ParseDefinition(req.Definition); err != nil {
			return llm.Errorf(llm.KindValidation, "1 validation error detected: Value at 'definition' is not a valid flow definition: %v", err)
		}
	}
	return resource.Tags("tags", req.Tags)
}

func (f *Flows) createFlow(w http.ResponseWriter, r *http.Request, a *Adapter) error {
	acct := f.account(r)
	if err := a.Authorize(r, "bedrock:CreateFlow", f.Store.Scope().ARN(acct, "flow", "*")); err != nil {
		return err
	}
	body, err := a.ReadBody(r)
	if err != nil {
		return err
	}
	var req flowRequest
	if err := decodeStrict(body, &req); err != nil {
		return err
	}
	if err := req.validate(); err != nil {
		return err
	}
	b := flowBody{Name: req.Name, Description: req.Description, ExecutionRoleArn: req.ExecutionRoleArn,
		CustomerEncryptionKeyArn: req.CustomerEncryptionKeyArn, Definition: req.Definition, Status: "NotPrepared", Tags: req.Tags}
	it, err := f.Store.Create(r.Context(), resource.Key{Account: acct, Kind: kindFlow}, req.Name, req.ClientToken, b)
	if err != nil {
		return err
	}
	stored, err := resource.Decode[flowBody](it)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, f.flowView(it, stored, false))
}

func (f *Flows) getFlowItem(r *http.Request, version string) (*resource.Item, *flowBody, error) {
	id, err := f.flowID(r)
	if err != nil {
		return nil, nil, err
	}
	it, err := f.Store.Get(r.Context(), resource.Key{Account: f.account(r), Kind: kindFlow, ID: id}, version)
	if err != nil {
		return nil, nil, err
	}
	b, err := resource.Decode[flowBody](it)
	return it, b, err
}

func (f *Flows) getFlow(w http.ResponseWriter, r *http.Request, a *Adapter) error {
	it, b, err := f.getFlowItem(r, resource.Draft)
	if err != nil {
		return err
	}
	if err := a.Authorize(r, "bedrock:GetFlow", f.flowARN(it.Account, it.ID)); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, f.flowView(it, b, true))
}

func (f *Flows) updateFlow(w http.ResponseWriter, r *http.Request, a *Adapter) error {
	id, err := f.flowID(r)
	if err != nil {
		return err
	}
	acct := f.account(r)
	if err := a.Authorize(r, "bedrock:UpdateFlow", f.flowARN(acct, id)); err != nil {
		return err
	}
	body, err := a.ReadBody(r)
	if err != nil {
		return err
	}
	var req flowRequest
	if err := decodeStrict(body, &req); err != nil {
		return err
	}
	if err := req.validate(); err != nil {
		return err
	}
	var out *flowBody
	it, err := f.Store.Update(r.Context(), resource.Key{Account: acct, Kind: kindFlow, ID: id}, func(it *resource.Item) error {
		b, err := resource.Decode[flowBody](it)
		if err != nil {
			return err
		}
		b.Name, b.Description, b.ExecutionRoleArn, b.CustomerEncryptionKeyArn = req.Name, req.Description, req.ExecutionRoleArn, req.CustomerEncryptionKeyArn
		b.Definition, b.Status, b.ValidationsRaw = req.Definition, "NotPrepared", nil
		it.Name = req.Name
		it.Body, err = json.Marshal(b)
		out = b
		return err
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, f.flowView(it, out, false))
}

func (f *Flows) deleteFlow(w http.ResponseWriter, r *http.Request, a *Adapter) error {
	id, err := f.flowID(r)
	if err != nil {
		return err
	}
	acct := f.account(r)
	if err := a.Authorize(r, "bedrock:DeleteFlow", f.flowARN(acct, id)); err != nil {
		return err
	}
	if err := f.Store.Delete(r.Context(), resource.Key{Account: acct, Kind: kindFlow, ID: id}); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]string{"id": id})
}

func (f *Flows) listFlows(w http.ResponseWriter, r *http.Request, a *Adapter) error {
	acct := f.account(r)
	if err := a.Authorize(r, "bedrock:ListFlows", "*"); err != nil {
		return err
	}
	page, err := resource.PageFromQuery(r.URL.Query())
	if err != nil {
		return err
	}
	items, next, err := f.Store.List(r.Context(), resource.ListQuery{Account: acct, Kind: kindFlow, Page: page})
	if err != nil {
		return err
	}
	sums := []map[string]any{}
	for _, it := range items {
		b, err := resource.Decode[flowBody](it)
		if err != nil {
			return err
		}
		v := f.flowView(it, b, false)
		delete(v, "definition")
		delete(v, "executionRoleArn")
		delete(v, "customerEncryptionKeyArn")
		sums = append(sums, v)
	}
	out := map[string]any{"flowSummaries": sums}
	if next != "" {
		out["nextToken"] = next
	}
	return writeJSON(w, http.StatusOK, out)
}

func (f *Flows) validateDefinition(w http.ResponseWriter, r *http.Request, a *Adapter) error {
	if err := a.Authorize(r, "bedrock:ValidateFlowDefinition", "*"); err != nil {
		return err
	}
	body, err := a.ReadBody(r)
	if err != nil {
		return err
	}
	var req struct {
		Definition json.RawMessage `json:"definition"`
	}
	if err := decodeStrict(body, &req); err != nil {
		return err
	}
	if len(req.Definition) == 0 {
		return resource.Invalid("definition", "Member must not be null")
	}
	def, err := flow.ParseDefinition(req.Definition)
	if err != nil {
		return llm.Errorf(llm.KindValidation, "1 validation error detected: Value at 'definition' is not a valid flow definition: %v", err)
	}
	vs := flow.Validate(def)
	if vs == nil {
		vs = []flow.Validation{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"validations": vs})
}

func (f *Flows) prepareFlow(w http.ResponseWriter, r *http.Request, a *Adapter) error {
	id, err := f.flowID(r)
	if err != nil {
		return err
	}
	acct := f.account(r)
	if err := a.Authorize(r, "bedrock:PrepareFlow", f.flowARN(acct, id)); err != nil {
		return err
	}
	var status string
	var failed []flow.Validation
	_, err = f.Store.Update(r.Context(), resource.Key{Account: acct, Kind: kindFlow, ID: id}, func(it *resource.Item) error {
		b, err := resource.Decode[flowBody](it)
		if err != nil {
			return err
		}
		var vs []flow.Validation
		if len(b.Definition) == 0 || string(b.Definition) == "null" {
			vs = []flow.Validation{{Type: "MissingStartingNodes", Severity: flow.SeverityError, Message: "the flow has no definition"}}
		} else if def, err := flow.ParseDefinition(b.Definition); err != nil {
			vs = []flow.Validation{{Type: "Unspecified", Severity: flow.SeverityError, Message: err.Error()}}
		} else if _, err := flow.Compile(def); err != nil {
			var inv *flow.ErrInvalid
			if errors.As(err, &inv) {
				vs = inv.Validations
			} else {
				vs = []flow.Validation{{Type: "Unspecified", Severity: flow.SeverityError, Message: err.Error()}}
			}
		}
		if flow.HasErrors(vs) {
			b.Status = "Failed"
			failed = vs
			b.ValidationsRaw, _ = json.Marshal(vs)
		} else {
			b.Status, b.Prepared, b.ValidationsRaw = "Prepared", b.Definition, nil
		}
		status = b.Status
		it.Body, err = json.Marshal(b)
		return err
	})
	if err != nil {
		return err
	}
	if failed != nil {
		return llm.Errorf(llm.KindValidation, "The flow definition is not valid: %s (GetFlow returns every validation).", failed[0].Message)
	}
	return writeJSON(w, http.StatusAccepted, map[string]string{"id": id, "status": status})
}

func (f *Flows) createVersion(w http.ResponseWriter, r *http.Request, a *Adapter) error {
	id, err := f.flowID(r)
	if err != nil {
		return err
	}
	acct := f.account(r)
	if err := a.Authorize(r, "bedrock:CreateFlowVersion", f.flowARN(acct, id)); err != nil {
		return err
	}
	key := resource.Key{Account: acct, Kind: kindFlow, ID: id}
	if _, b, err := f.getFlowItem(r, resource.Draft); err != nil {
		return err
	} else if b.Status != "Prepared" || len(b.Prepared) == 0 {
		return llm.Errorf(llm.KindValidation, "Prepare the flow (PrepareFlow) before creating a version.")
	}
	it, err := f.Store.CreateVersion(r.Context(), key, func(it *resource.Item) error {
		b, err := resource.Decode[flowBody](it)
		if err != nil {
			return err
		}
		b.Definition, b.Status = b.Prepared, "Prepared"
		it.Body, err = json.Marshal(b)
		return err
	})
	if err != nil {
		return err
	}
	b, err := resource.Decode[flowBody](it)
	if err != nil {
		return err
	}
	v := f.flowView(it, b, false)
	v["arn"] = f.flowARN(acct, id)
	return writeJSON(w, http.StatusCreated, v)
}

func (f *Flows) getVersion(w http.ResponseWriter, r *http.Request, a *Adapter) error {
	v, err := resource.ParseVersion("flowVersion", r.PathValue("flowVersion"))
	if err != nil {
		return err
	}
	it, b, err := f.getFlowItem(r, v)
	if err != nil {
		return err
	}
	if err := a.Authorize(r, "bedrock:GetFlowVersion", f.flowARN(it.Account, it.ID)); err != nil {
		return err
	}
	out := f.flowView(it, b, false)
	delete(out, "updatedAt")
	return writeJSON(w, http.StatusOK, out)
}

func (f *Flows) deleteVersion(w http.ResponseWriter, r *http.Request, a *Adapter) error {
	id, err := f.flowID(r)
	if err != nil {
		return err
	}
	v, err := resource.ParseVersion("flowVersion", r.PathValue("flowVersion"))
	if err != nil {
		return err
	}
	acct := f.account(r)
	if err := a.Authorize(r, "bedrock:DeleteFlowVersion", f.flowARN(acct, id)); err != nil {
		return err
	}
	if err := f.Store.DeleteVersion(r.Context(), resource.Key{Account: acct, Kind: kindFlow, ID: id}, v); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]string{"id": id, "version": v})
}

func (f *Flows) listVersions(w http.ResponseWriter, r *http.Request, a *Adapter) error {
	id, err := f.flowID(r)
	if err != nil {
		return err
	}
	acct := f.account(r)
	if err := a.Authorize(r, "bedrock:ListFlowVersions", f.flowARN(acct, id)); err != nil {
		return err
	}
	page, err := resource.PageFromQuery(r.URL.Query())
	if err != nil {
		return err
	}
	items, next, err := f.Store.List(r.Context(), resource.ListQuery{Account: acct, Kind: kindFlow, ID: id, Page: page})
	if err != nil {
		return err
	}
	sums := []map[string]any{}
	for _, it := range items {
		b, err := resource.Decode[flowBody](it)
		if err != nil {
			return err
		}
		sums = append(sums, map[string]any{"id": it.ID, "arn": f.flowARN(acct, it.ID), "status": b.Status, "createdAt": iso(it.CreatedAt), "version": it.Version})
	}
	out := map[string]any{"flowVersionSummaries": sums}
	if next != "" {
		out["nextToken"] = next
	}
	return writeJSON(w, http.StatusOK, out)
}

// Alias handling.

type aliasRequest struct {
	Name                     string            `json:"name"`
	Description              string            `json:"description"`
	RoutingConfiguration     []routingItem     `json:"routingConfiguration"`
	ConcurrencyConfiguration json.RawMessage   `json:"concurrencyConfiguration"`
	ClientToken              string            `json:"clientToken"`
	Tags                     map[string]string `json:"tags"`
}

func (req *aliasRequest) validate() error {
	if err := resource.Name("name", req.Name); err != nil {
		return err
	}
	if err := resource.OptionalLength("description", req.Description, 1, 200); err != nil {
		return err
	}
	if len(req.RoutingConfiguration) != 1 {
		return resource.Invalid("routingConfiguration", "Member must have length less than or equal to 1 and greater than or equal to 1")
	}
	if v := req.RoutingConfiguration[0].FlowVersion; v != resource.Draft {
		if _, err := resource.ParseVersion("routingConfiguration.1.member.flowVersion", v); err != nil {
			return err
		}
	}
	if len(req.ConcurrencyConfiguration) > 0 && string(req.ConcurrencyConfiguration) != "null" {
		var cc struct {
			Type           string `json:"type"`
			MaxConcurrency *int   `json:"maxConcurrency"`
		}
		if err := json.Unmarshal(req.ConcurrencyConfiguration, &cc); err != nil {
			return resource.Invalid("concurrencyConfiguration", "Member must be a structure")
		}
		switch cc.Type {
		case "Automatic":
		case "Manual":
			if cc.MaxConcurrency == nil {
				return resource.Invalid("concurrencyConfiguration.maxConcurrency", "Member must not be null for type Manual")
			}
			if err := resource.Range("concurrencyConfiguration.maxConcurrency", *cc.MaxConcurrency, 1, 100); err != nil {
				return err
			}
		default:
			return resource.Invalid("concurrencyConfiguration.type", "Member must satisfy enum value set: [Automatic, Manual]")
		}
	}
	return resource.Tags("tags", req.Tags)
}

func (f *Flows) aliasView(it *resource.Item, b *aliasBody) map[string]any {
	m := map[string]any{
		"name": b.Name, "routingConfiguration": b.RoutingConfiguration, "flowId": it.Parent, "id": it.ID,
		"arn": f.Store.Scope().ARN(it.Account, "flow", it.Parent, "alias", it.ID), "createdAt": iso(it.CreatedAt), "updatedAt": iso(it.UpdatedAt),
	}
	if b.Description != "" {
		m["description"] = b.Description
	}
	if len(b.ConcurrencyConfiguration) > 0 && string(b.ConcurrencyConfiguration) != "null" {
		m["concurrencyConfiguration"] = b.ConcurrencyConfiguration
	}
	return m
}

// checkVersionExists makes an alias point at an existing version.
func (f *Flows) checkVersionExists(ctx context.Context, acct, id, v string) error {
	_, err := f.Store.Get(ctx, resource.Key{Account: acct, Kind: kindFlow, ID: id}, v)
	return err
}

func (f *Flows) aliasID(r *http.Request, acct, flowID string) (string, error) {
	ident := r.PathValue("aliasIdentifier")
	if strings.HasPrefix(ident, "arn:") {
		a, ok := resource.ParseARN(ident)
		parts := strings.Split(a.Path, "/")
		if !ok || a.Type != "flow" || a.Account != acct || len(parts) != 3 || parts[0] != flowID || parts[1] != "alias" {
			return "", resource.NotFound("The flow alias %s was not found.", ident)
		}
		ident = parts[2]
	}
	if ident != resource.DraftAlias && !resource.ValidID(ident) {
		return "", resource.Invalid("aliasIdentifier", "Member must satisfy regular expression pattern: (TSTALIASID|[0-9a-zA-Z]{10})")
	}
	return ident, nil
}

func (f *Flows) createAlias(w http.ResponseWriter, r *http.Request, a *Adapter) error {
	id, err := f.flowID(r)
	if err != nil {
		return err
	}
	acct := f.account(r)
	if err := a.Authorize(r, "bedrock:CreateFlowAlias", f.flowARN(acct, id)); err != nil {
		return err
	}
	body, err := a.ReadBody(r)
	if err != nil {
		return err
	}
	var req aliasRequest
	if err := decodeStrict(body, &req); err != nil {
		return err
	}
	if err := req.validate(); err != nil {
		return err
	}
	if err := f.checkVersionExists(r.Context(), acct, id, req.RoutingConfiguration[0].FlowVersion); err != nil {
		return err
	}
	b := aliasBody{Name: req.Name, Description: req.Description, RoutingConfiguration: req.RoutingConfiguration, ConcurrencyConfiguration: req.ConcurrencyConfiguration, Tags: req.Tags}
	it, err := f.Store.Create(r.Context(), resource.Key{Account: acct, Kind: kindFlowAlias, Parent: id}, req.Name, req.ClientToken, b)
	if err != nil {
		return err
	}
	stored, err := resource.Decode[aliasBody](it)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, f.aliasView(it, stored))
}

func (f *Flows) getAliasItem(r *http.Request) (*resource.Item, *aliasBody, error) {
	id, err := f.flowID(r)
	if err != nil {
		return nil, nil, err
	}
	acct := f.account(r)
	aid, err := f.aliasID(r, acct, id)
	if err != nil {
		return nil, nil, err
	}
	if aid == resource.DraftAlias {
		it, err := f.Store.Get(r.Context(), resource.Key{Account: acct, Kind: kindFlow, ID: id}, resource.Draft)
		if err != nil {
			return nil, nil, err
		}
		return &resource.Item{Key: resource.Key{Account: acct, Kind: kindFlowAlias, Parent: id, ID: aid}, CreatedAt: it.CreatedAt, UpdatedAt: it.UpdatedAt},
			&aliasBody{Name: "TSTALIASID", RoutingConfiguration: []routingItem{{resource.Draft}}}, nil
	}
	it, err := f.Store.Get(r.Context(), resource.Key{Account: acct, Kind: kindFlowAlias, Parent: id, ID: aid}, resource.Draft)
	if err != nil {
		return nil, nil, err
	}
	b, err := resource.Decode[aliasBody](it)
	return it, b, err
}

func (f *Flows) getAlias(w http.ResponseWriter, r *http.Request, a *Adapter) error {
	it, b, err := f.getAliasItem(r)
	if err != nil {
		return err
	}
	if err := a.Authorize(r, "bedrock:GetFlowAlias", f.Store.Scope().ARN(it.Account, "flow", it.Parent, "alias", it.ID)); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, f.aliasView(it, b))
}

// mutableAlias resolves the alias a write names and authorizes action on
// it; the draft alias TSTALIASID is refused (verb says how in the error).
func (f *Flows) mutableAlias(r *http.Request, a *Adapter, action, verb string) (acct, id, aid string, err error) {
	if id, err = f.flowID(r); err != nil {
		return "", "", "", err
	}
	acct = f.account(r)
	if aid, err = f.aliasID(r, acct, id); err != nil {
		return "", "", "", err
	}
	if aid == resource.DraftAlias {
		return "", "", "", llm.Errorf(llm.KindValidation, "The alias TSTALIASID cannot be %s.", verb)
	}
	if err := a.Authorize(r, action, f.Store.Scope().ARN(acct, "flow", id, "alias", aid)); err != nil {
		return "", "", "", err
	}
	return acct, id, aid, nil
}

func (f *Flows) updateAlias(w http.ResponseWriter, r *http.Request, a *Adapter) error {
	acct, id, aid, err := f.mutableAlias(r, a, "bedrock:UpdateFlowAlias", "changed")
	if err != nil {
		return err
	}
	body, err := a.ReadBody(r)
	if err != nil {
		return err
	}
	var req aliasRequest
	if err := decodeStrict(body, &req); err != nil {
		return err
	}
	if err := req.validate(); err != nil {
		return err
	}
	if err := f.checkVersionExists(r.Context(), acct, id, req.RoutingConfiguration[0].FlowVersion); err != nil {
		return err
	}
	var out *aliasBody
	it, err := f.Store.Update(r.Context(), resource.Key{Account: acct, Kind: kindFlowAlias, Parent: id, ID: aid}, func(it *resource.Item) error {
		b := &aliasBody{Name: req.Name, Description: req.Description, RoutingConfiguration: req.RoutingConfiguration, ConcurrencyConfiguration: req.ConcurrencyConfiguration, Tags: req.Tags}
		it.Name = req.Name
		var err error
		it.Body, err = json.Marshal(b)
		out = b
		return err
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, f.aliasView(it, out))
}

func (f *Flows) deleteAlias(w http.ResponseWriter, r *http.Request, a *Adapter) error {
	acct, id, aid, err := f.mutableAlias(r, a, "bedrock:DeleteFlowAlias", "deleted")
	if err != nil {
		return err
	}
	if err := f.Store.Delete(r.Context(), resource.Key{Account: acct, Kind: kindFlowAlias, Parent: id, ID: aid}); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]string{"flowId": id, "id": aid})
}

func (f *Flows) listAliases(w http.ResponseWriter, r *http.Request, a *Adapter) error {
	id, err := f.flowID(r)
	if err != nil {
		return err
	}
	acct := f.account(r)
	if err := a.Authorize(r, "bedrock:ListFlowAliases", f.flowARN(acct, id)); err != nil {
		return err
	}
	if _, err := f.Store.Get(r.Context(), resource.Key{Account: acct, Kind: kindFlow, ID: id}, resource.Draft); err != nil {
		return err
	}
	page, err := resource.PageFromQuery(r.URL.Query())
	if err != nil {
		return err
	}
	items, next, err := f.Store.List(r.Context(), resource.ListQuery{Account: acct, Kind: kindFlowAlias, Parent: id, Page: page})
	if err != nil {
		return err
	}
	sums := []map[string]any{}
	for _, it := range items {
		b, err := resource.Decode[aliasBody](it)
		if err != nil {
			return err
		}
		sums = append(sums, f.aliasView(it, b))
	}
	out := map[string]any{"flowAliasSummaries": sums}
	if next != "" {
		out["nextToken"] = next
	}
	return writeJSON(w, http.StatusOK, out)
}

// Runtime.

// target is a flow alias resolved for invocation.
type target struct {
	acct, flowID, aliasID, version string
	definition                     json.RawMessage
	// maxConcurrency is the alias's Manual maxConcurrency; 0 for Automatic.
	maxConcurrency int
}

func (f *Flows) resolve(r *http.Request) (*target, error) {
	it, b, err := f.getAliasItem(r)
	if err != nil {
		return nil, err
	}
	t := &target{acct: it.Account, flowID: it.Parent, aliasID: it.ID, version: b.RoutingConfiguration[0].FlowVersion}
	if len(b.ConcurrencyConfiguration) > 0 {
		var cc struct {
			Type           string `json:"type"`
			MaxConcurrency int    `json:"maxConcurrency"`
		}
		if json.Unmarshal(b.ConcurrencyConfiguration, &cc) == nil && cc.Type == "Manual" {
			t.maxConcurrency = cc.MaxConcurrency
		}
	}
	fit, err := f.Store.Get(r.Context(), resource.Key{Account: t.acct, Kind: kindFlow, ID: t.flowID}, t.version)
	if err != nil {
		return nil, err
	}
	fb, err := resource.Decode[flowBody](fit)
	if err != nil {
		return nil, err
	}
	t.definition = fb.Definition
	if t.version == resource.Draft {
		t.definition = fb.Prepared
	}
	if len(t.definition) == 0 {
		return nil, llm.Errorf(llm.KindValidation, "The flow %s is not prepared; call PrepareFlow first.", t.flowID)
	}
	return t, nil
}

type flowInput struct {
	NodeName       string `json:"nodeName"`
	NodeOutputName string `json:"nodeOutputName"`
	NodeInputName  string `json:"nodeInputName"`
	Content        struct {
		Document json.RawMessage `json:"document"`
	} `json:"content"`
}

func parseInputs(inputs []flowInput) (*flowInput, flow.Value, error) {
	if len(inputs) != 1 {
		return nil, nil, resource.Invalid("inputs", "Member must have length less than or equal to 1 and greater than or equal to 1")
	}
	in := &inputs[0]
	if err := resource.Name("inputs.1.member.nodeName", in.NodeName); err != nil && in.NodeName == "" {
		return nil, nil, err
	}
	if len(in.Content.Document) == 0 {
		return nil, nil, resource.Invalid("inputs.1.member.content.document", "Member must not be null")
	}
	doc, err := flow.ParseValue(in.Content.Document)
	if err != nil {
		return nil, nil, resource.Invalid("inputs.1.member.content.document", "Member must be a JSON document")
	}
	return in, doc, nil
}

func principalName(ctx context.Context) string {
	if p, ok := auth.PrincipalFrom(ctx); ok {
		return p.Name
	}
	return ""
}

func (f *Flows) aliasARN(t *target) string {
	return f.Store.Scope().ARN(t.acct, "flow", t.flowID, "alias", t.aliasID)
}

func (f *Flows) invokeFlow(w http.ResponseWriter, r *http.Request, a *Adapter) error {
	t, err := f.resolve(r)
	if err != nil {
		return err
	}
	if err := a.Authorize(r, "bedrock:InvokeFlow", f.aliasARN(t)); err != nil {
		return err
	}
	body, err := a.ReadBody(r)
	if err != nil {
		return err
	}
	var req struct {
		Inputs      []flowInput `json:"inputs"`
		EnableTrace bool        `json:"enableTrace"`
		ExecutionID string      `json:"executionId"`
		// modelPerformanceConfiguration is accepted and not used yet.
		ModelPerformanceConfiguration json.RawMessage `json:"modelPerformanceConfiguration"`
	}
	if err := decodeStrict(body, &req); err != nil {
		return err
	}
	in, doc, err := parseInputs(req.Inputs)
	if err != nil {
		return err
	}
	ctx := r.Context()
	var ex *flow.Execution
	if req.ExecutionID != "" && in.NodeInputName != "" {
		ex, err = f.Executor.Resume(ctx, t.acct, req.ExecutionID, flow.ResumeInput{NodeName: in.NodeName, InputName: in.NodeInputName, Content: doc})
		if errors.Is(err, flow.ErrExecutionNotFound) {
			return resource.NotFound("The execution %s was not found.", req.ExecutionID)
		}
	} else {
		if err := f.checkStartInput(t, in); err != nil {
			return err
		}
		ex, err = f.Executor.Start(ctx, flow.StartInput{Account: t.acct, FlowID: t.flowID, AliasID: t.aliasID, FlowVersion: t.version, MaxConcurrency: t.maxConcurrency,
			Definition: t.definition, ExecutionID: req.ExecutionID, Principal: principalName(ctx), Document: doc})
	}
	if err != nil {
		return err
	}
	w.Header().Set("x-amz-bedrock-flow-execution-id", ex.ID)
	ew := newEventWriter(w, f.now)
	ew.start()
	return f.stream(ctx, ew, ex, req.EnableTrace)
}

// checkStartInput checks that a first input names the flow's Input node.
func (f *Flows) checkStartInput(t *target, in *flowInput) error {
	def, err := flow.ParseDefinition(t.definition)
	if err != nil {
		return err
	}
	for _, n := range def.Nodes {
		if n.Type == flow.NodeInputT {
			if in.NodeName != n.Name {
				return llm.Errorf(llm.KindValidation, "The input node %s does not exist in the flow; its input node is %s.", in.NodeName, n.Name)
			}
			if in.NodeOutputName != "" && in.NodeOutputName != "document" {
				return llm.Errorf(llm.KindValidation, "The input node %s has no output %s.", in.NodeName, in.NodeOutputName)
			}
			if in.NodeInputName != "" {
				return llm.Errorf(llm.KindValidation, "nodeInputName is for resuming an execution; give executionId.")
			}
			return nil
		}
	}
	return llm.Errorf(llm.KindValidation, "The flow has no input node.")
}

// stream drives the execution in this request (the principal's context,
// not cancelled by a client that goes away, so the execution finishes)
// and writes the turn's committed events as they appear.
func (f *Flows) stream(ctx context.Context, ew *eventWriter, ex *flow.Execution, trace bool) error {
	var seq int64
	// Skip the events of earlier turns.
	for {
		evs, err := f.Executor.Events(ctx, ex.ID, seq, 1000)
		if err != nil {
			return err
		}
		if len(evs) == 0 {
			break
		}
		for _, ev := range evs {
			if ev.Turn >= ex.Turn {
				goto drive
			}
			seq = ev.Seq
		}
	}
drive:
	commits := make(chan struct{}, 1)
	done := make(chan error, 1)
	dctx := context.WithoutCancel(ctx)
	go func() {
		// Ends when the execution pauses, ends, or is taken over.
		done <- f.Executor.Drive(dctx, ex.Account, ex.ID, func() {
			select {
			case commits <- struct{}{}:
			default:
			}
		})
	}()
	clientGone := false
	flush := func() (bool, error) {
		for {
			evs, err := f.Executor.Events(dctx, ex.ID, seq, 100)
			if err != nil {
				return false, err
			}
			if len(evs) == 0 {
				return false, nil
			}
			for _, ev := range evs {
				seq = ev.Seq
				if ev.Turn != ex.Turn || clientGone || (ev.Type == flow.EventTrace && !trace) {
					continue
				}
				var werr error
				if strings.HasSuffix(ev.Type, "Exception") {
					werr = ew.Exception(ev.Type, ev.Payload)
				} else {
					werr = ew.Event(ev.Type, ev.Payload)
				}
				if werr != nil {
					clientGone = true
				}
				if ev.Type == flow.EventCompletion || strings.HasSuffix(ev.Type, "Exception") {
					return true, nil
				}
			}
		}
	}
	// Send the headers (the execution id) and what the start committed
	// before the first node runs.
	if end, err := flush(); err != nil || end {
		<-done
		return nil
	}
	_ = ew.rc.Flush()
	for {
		select {
		case <-commits:
			if end, err := flush(); err != nil || end {
				<-done
				return nil
			}
		case err := <-done:
			if end, ferr := flush(); ferr != nil || end {
				return nil
			}
			if err != nil && !clientGone {
				typ, payload := streamException(err, false)
				ew.Exception(typ, payload)
			}
			return nil
		}
	}
}

func (f *Flows) execARN(t *target, id string) string {
	return f.Store.Scope().ARN(t.acct, "flow", t.flowID, "alias", t.aliasID, "execution", id)
}

// executionID accepts an execution id or its ARN.
func executionID(ident string) (string, error) {
	if strings.HasPrefix(ident, "arn:") {
		i := strings.LastIndex(ident, "/execution/")
		if i < 0 {
			return "", resource.NotFound("The execution %s was not found.", ident)
		}
		ident = ident[i+len("/execution/"):]
	}
	if ident == "" || len(ident) > 100 {
		return "", resource.Invalid("executionIdentifier", "Member must satisfy regular expression pattern: ^[a-zA-Z0-9-]{1,36}$")
	}
	return ident, nil
}

func (f *Flows) startExecution(w http.ResponseWriter, r *http.Request, a *Adapter) error {
	t, err := f.resolve(r)
	if err != nil {
		return err
	}
	if err := a.Authorize(r, "bedrock:StartFlowExecution", f.aliasARN(t)); err != nil {
		return err
	}
	body, err := a.ReadBody(r)
	if err != nil {
		return err
	}
	var req struct {
		Inputs                        []flowInput     `json:"inputs"`
		FlowExecutionName             string          `json:"flowExecutionName"`
		ModelPerformanceConfiguration json.RawMessage `json:"modelPerformanceConfiguration"`
	}
	if err := decodeStrict(body, &req); err != nil {
		return err
	}
	if err := resource.OptionalLength("flowExecutionName", req.FlowExecutionName, 1, 36); err != nil {
		return err
	}
	in, doc, err := parseInputs(req.Inputs)
	if err != nil {
		return err
	}
	if err := f.checkStartInput(t, in); err != nil {
		return err
	}
	ex, err := f.Executor.Start(r.Context(), flow.StartInput{Account: t.acct, FlowID: t.flowID, AliasID: t.aliasID, FlowVersion: t.version, MaxConcurrency: t.maxConcurrency,
		Definition: t.definition, Name: req.FlowExecutionName, Principal: principalName(r.Context()), Document: doc, Async: true})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]string{"executionArn": f.execARN(t, ex.ID)})
}

func (f *Flows) execution(r *http.Request, a *Adapter, action string) (*target, *flow.Execution, error) {
	t, err := f.resolve(r)
	if err != nil {
		return nil, nil, err
	}
	id, err := executionID(r.PathValue("executionIdentifier"))
	if err != nil {
		return nil, nil, err
	}
	if err := a.Authorize(r, action, f.aliasARN(t)); err != nil {
		return nil, nil, err
	}
	ex, err := f.Executor.Get(r.Context(), t.acct, id)
	if errors.Is(err, flow.ErrExecutionNotFound) || (err == nil && (ex.FlowID != t.flowID || ex.AliasID != t.aliasID)) {
		return nil, nil, resource.NotFound("The execution %s was not found.", id)
	}
	return t, ex, err
}

func (f *Flows) execView(t *target, ex *flow.Execution) map[string]any {
	m := map[string]any{"executionArn": f.execARN(t, ex.ID), "flowIdentifier": ex.FlowID, "flowAliasIdentifier": ex.AliasID,
		"flowVersion": ex.FlowVersion, "status": ex.Status, "startedAt": iso(ex.CreatedAt)}
	if !ex.EndedAt.IsZero() {
		m["endedAt"] = iso(ex.EndedAt)
	}
	if e := ex.State.Error; e != nil {
		m["errors"] = []map[string]string{{"error": "ExecutionFailed", "message": e.Message, "nodeName": e.Node}}
	}
	if ex.Status == flow.StatusTimedOut {
		m["errors"] = []map[string]string{{"error": "ExecutionTimedOut", "message": "The execution timed out waiting for input."}}
	}
	return m
}

func (f *Flows) getExecution(w http.ResponseWriter, r *http.Request, a *Adapter) error {
	t, ex, err := f.execution(r, a, "bedrock:GetFlowExecution")
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, f.execView(t, ex))
}

func (f *Flows) stopExecution(w http.ResponseWriter, r *http.Request, a *Adapter) error {
	t, ex, err := f.execution(r, a, "bedrock:StopFlowExecution")
	if err != nil {
		return err
	}
	ex, err = f.Executor.StopExecution(r.Context(), t.acct, ex.ID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]string{"executionArn": f.execARN(t, ex.ID), "status": ex.Status})
}

func (f *Flows) getSnapshot(w http.ResponseWriter, r *http.Request, a *Adapter) error {
	_, ex, err := f.execution(r, a, "bedrock:GetExecutionFlowSnapshot")
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]string{"definition": string(ex.Definition), "executionRoleArn": "",
		"flowAliasIdentifier": ex.AliasID, "flowIdentifier": ex.FlowID, "flowVersion": ex.FlowVersion})
}

func (f *Flows) listExecutions(w http.ResponseWriter, r *http.Request, a *Adapter) error {
	id, err := f.flowID(r)
	if err != nil {
		return err
	}
	acct := f.account(r)
	if err := a.Authorize(r, "bedrock:ListFlowExecutions", f.flowARN(acct, id)); err != nil {
		return err
	}
	q := r.URL.Query()
	page, err := resource.PageFromQuery(q)
	if err != nil {
		return err
	}
	limit := page.MaxResults
	if limit == 0 {
		limit = 10
	}
	items, err := f.Executor.List(r.Context(), flow.ListQuery{Account: acct, FlowID: id, AliasID: q.Get("flowAliasIdentifier"), Limit: limit + 1, Before: page.NextToken})
	if err != nil {
		return err
	}
	out := map[string]any{}
	if len(items) > limit {
		items = items[:limit]
		out["nextToken"] = items[len(items)-1].ID
	}
	sums := []map[string]any{}
	for _, ex := range items {
		t := &target{acct: acct, flowID: ex.FlowID, aliasID: ex.AliasID}
		sums = append(sums, map[string]any{"createdAt": iso(ex.CreatedAt), "executionArn": f.execARN(t, ex.ID), "flowAliasIdentifier": ex.AliasID,
			"flowIdentifier": ex.FlowID, "flowVersion": ex.FlowVersion, "status": ex.Status})
		if !ex.EndedAt.IsZero() {
			sums[len(sums)-1]["endedAt"] = iso(ex.EndedAt)
		}
	}
	out["flowExecutionSummaries"] = sums
	return writeJSON(w, http.StatusOK, out)
}

func (f *Flows) listExecutionEvents(w http.ResponseWriter, r *http.Request, a *Adapter) error {
	_, ex, err := f.execution(r, a, "bedrock:ListFlowExecutionEvents")
	if err != nil {
		return err
	}
	q := r.URL.Query()
	kind := q.Get("eventType")
	if kind != "Node" && kind != "Flow" {
		return resource.Invalid("eventType", "Member must satisfy enum value set: [Node, Flow]")
	}
	page, err := resource.PageFromQuery(q)
	if err != nil {
		return err
	}
	var after int64
	if page.NextToken != "" {
		if after, err = strconv.ParseInt(page.NextToken, 10, 64); err != nil {
			return resource.Invalid("nextToken", "Member must be a token returned by this operation")
		}
	}
	limit := page.MaxResults
	if limit == 0 {
		limit = 10
	}
	evs, err := f.Executor.Events(r.Context(), ex.ID, after, 1000)
	if err != nil {
		return err
	}
	out := map[string]any{}
	list := []map[string]any{}
	for _, ev := range evs {
		if len(list) == limit {
			out["nextToken"] = strconv.FormatInt(after, 10)
			break
		}
		after = ev.Seq
		if m := executionEvent(ev, kind); m != nil {
			list = append(list, m)
		}
	}
	out["flowExecutionEvents"] = list
	return writeJSON(w, http.StatusOK, out)
}

// executionEvent maps a stored stream event to a FlowExecutionEvent of the
// asked kind (Flow: flow outputs and failures; Node: node traces), or nil.
func executionEvent(ev flow.StoredEvent, kind string) map[string]any {
	var p map[string]any
	if json.Unmarshal(ev.Payload, &p) != nil {
		return nil
	}
	ts := iso(ev.CreatedAt)
	switch {
	case kind == "Flow" && ev.Type == flow.EventOutput:
		return map[string]any{"flowOutputEvent": map[string]any{"nodeName": p["nodeName"], "timestamp": ts,
			"fields": []map[string]any{{"name": "document", "content": p["content"]}}}}
	case kind == "Flow" && strings.HasSuffix(ev.Type, "Exception"):
		return map[string]any{"flowFailureEvent": map[string]any{"errorCode": "NODE_EXECUTION_FAILED", "errorMessage": p["message"], "timestamp": ts}}
	case kind == "Node" && ev.Type == "dependencyFailedException" && p["resourceName"] != nil:
		// The node whose model, agent, code or store failed.
		return map[string]any{"nodeFailureEvent": map[string]any{"nodeName": p["resourceName"], "errorCode": "DEPENDENCY_FAILED", "errorMessage": p["message"], "timestamp": ts}}
	case kind == "Node" && ev.Type == flow.EventTrace:
		tr, _ := p["trace"].(map[string]any)
		for member, v := range tr {
			body, _ := v.(map[string]any)
			if body == nil {
				continue
			}
			body["timestamp"] = ts
			switch member {
			case "nodeInputTrace":
				renameField(body, "nodeInputName")
				return map[string]any{"nodeInputEvent": body}
			case "nodeOutputTrace":
				renameField(body, "nodeOutputName")
				return map[string]any{"nodeOutputEvent": body}
			case "conditionNodeResultTrace":
				return map[string]any{"conditionResultEvent": body}
			case "nodeActionTrace":
				return map[string]any{"nodeActionEvent": body}
			case "nodeDependencyTrace":
				return map[string]any{"nodeDependencyEvent": body}
			}
		}
	}
	return nil
}

// renameField renames each trace field's name member to "name", as the
// execution-event shapes call it.
func renameField(body map[string]any, from string) {
	fields, _ := body["fields"].([]any)
	for _, fl := range fields {
		if m, ok := fl.(map[string]any); ok {
			m["name"] = m[from]
			delete(m, from)
		}
	}
}
