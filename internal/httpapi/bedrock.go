package httpapi

import (
	"context"
	"net/http"
	"strings"

	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/llm"
)

// IAM actions of the Bedrock runtime operations.
const (
	ActionInvokeModel       = gateway.ActionInvokeModel
	ActionInvokeModelStream = gateway.ActionInvokeModelStream
	ActionCountTokens       = "bedrock:CountTokens"
)

// Response headers naming what served a request.
const (
	HeaderDeployment = "X-Outcrop-Deployment"
	HeaderProfile    = "X-Outcrop-Profile"
)

// bedrockRoutes registers the Bedrock runtime routes (bedrock-api.md §3).
// Path labels arrive percent-encoded (model IDs with ":" and ARNs with "/");
// ServeMux decodes them for r.PathValue.
func (s *Server) bedrockRoutes(mux *http.ServeMux) {
	mux.Handle("POST /model/{modelId}/converse", s.a.Bedrock(s.converse))
	mux.Handle("POST /model/{modelId}/converse-stream", s.a.Bedrock(s.converseStream))
	mux.Handle("POST /model/{modelId}/invoke", s.a.Bedrock(s.invokeModel))
	mux.Handle("POST /model/{modelId}/invoke-with-response-stream", s.a.Bedrock(s.invokeModelStream))
	mux.Handle("POST /model/{modelId}/count-tokens", s.a.Bedrock(s.countTokens))
	mux.Handle("GET /foundation-models", s.a.Bedrock(s.listFoundationModels))
}

// ModelARN returns the ARN a Bedrock call on modelID is authorized against:
// modelID itself when it is an ARN, otherwise the foundation-model ARN in
// the server's region. Like AWS's, foundation-model ARNs have no account
// (arn:aws:bedrock:us-east-1::foundation-model/<id>), so that IAM policies
// written for Bedrock match them unchanged.
func ModelARN(region, modelID string) string {
	if strings.HasPrefix(modelID, "arn:") {
		return modelID
	}
	return "arn:aws:bedrock:" + region + "::foundation-model/" + modelID
}

// bedrockModel resolves the path's model ID (an ID, alias, ARN or
// inference-profile ID) to the model's canonical ID, or returns the
// ResourceNotFoundException real Bedrock sends for an unknown model.
func (s *Server) bedrockModel(r *http.Request) (string, gateway.ModelInfo, error) {
	id := r.PathValue("modelId")
	if id == "" || len(id) > 2048 {
		return id, gateway.ModelInfo{}, constraint("modelId", "Member must have length between 1 and 2048")
	}
	m, ok := s.resolve(id)
	if !ok {
		return id, m, llm.Errorf(llm.KindNotFound, "The provided model identifier is invalid. Model %s does not exist or you do not have access to it.", id)
	}
	return m.ID, m, nil
}

// resolve returns the served model name refers to.
func (s *Server) resolve(name string) (gateway.ModelInfo, bool) {
	if s.d.Router == nil {
		return gateway.ModelInfo{}, false
	}
	return s.d.Router.Resolve(name)
}

// catalog returns the served models, sorted by ID.
func (s *Server) catalog() []gateway.ModelInfo {
	if s.d.Router == nil {
		return nil
	}
	return s.d.Router.Catalog()
}

// bedrockCall builds the gateway call of a Bedrock runtime request on the
// canonical model ID modelID.
func (s *Server) bedrockCall(ctx context.Context, op, modelID string, req *llm.Request, stream bool) *gateway.Call {
	return &gateway.Call{
		API:       "bedrock",
		Op:        op,
		Action:    invokeAction(stream),
		Model:     modelID,
		Resource:  ModelARN(s.d.Region, modelID),
		Request:   req,
		Stream:    stream,
		RequestID: RequestID(ctx),
	}
}

// invokeAction is the IAM action of a model call (gateway.InvokeAction).
func invokeAction(stream bool) string { return gateway.InvokeAction(stream) }

// setServedHeaders names the deployment and profile that served a request.
func setServedHeaders(h http.Header, sv llm.Served) {
	if sv.Deployment != "" {
		h.Set(HeaderDeployment, sv.Deployment)
	}
	if sv.Profile != "" {
		h.Set(HeaderProfile, string(sv.Profile))
	}
}

// listFoundationModels serves a ListFoundationModels-like listing of the
// configured models, authorized as bedrock:ListFoundationModels on "*".
func (s *Server) listFoundationModels(w http.ResponseWriter, r *http.Request) error {
	if err := s.a.Authorize(r, "bedrock:ListFoundationModels", "*"); err != nil {
		return err
	}
	type summary struct {
		ModelArn                   string   `json:"modelArn"`
		ModelID                    string   `json:"modelId"`
		ModelName                  string   `json:"modelName"`
		ProviderName               string   `json:"providerName"`
		InputModalities            []string `json:"inputModalities"`
		OutputModalities           []string `json:"outputModalities"`
		ResponseStreamingSupported bool     `json:"responseStreamingSupported"`
		InferenceTypesSupported    []string `json:"inferenceTypesSupported"`
		ModelLifecycle             struct {
			Status string `json:"status"`
		} `json:"modelLifecycle"`
		Aliases  []string `json:"outcropAliases,omitempty"`
		Profiles []string `json:"outcropProfiles,omitempty"`
	}
	out := struct {
		ModelSummaries []summary `json:"modelSummaries"`
	}{ModelSummaries: []summary{}}
	for _, m := range s.catalog() {
		sm := summary{
			ModelArn:                   ModelARN(s.d.Region, m.ID),
			ModelID:                    m.ID,
			ModelName:                  m.ID,
			ProviderName:               "Outcrop",
			InputModalities:            []string{"TEXT"},
			OutputModalities:           []string{"TEXT"},
			ResponseStreamingSupported: true,
			InferenceTypesSupported:    []string{"ON_DEMAND"},
			Aliases:                    m.Aliases,
		}
		if m.Type != "" {
			sm.ProviderName = m.Type
		}
		sm.ModelLifecycle.Status = "ACTIVE"
		for _, p := range m.Profiles {
			sm.Profiles = append(sm.Profiles, string(p))
		}
		out.ModelSummaries = append(out.ModelSummaries, sm)
	}
	return WriteJSON(w, http.StatusOK, out)
}
