package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/outcrop/outcrop/internal/promptrouter"
	"github.com/outcrop/outcrop/internal/resource"
)

// PromptRouters serves the Bedrock control plane's prompt-router
// operations (CreatePromptRouter, GetPromptRouter, ListPromptRouters,
// DeletePromptRouter) on a promptrouter.Service.
type PromptRouters struct {
	Service *promptrouter.Service
}

// Routes implements RouteGroup.
func (g PromptRouters) Routes(mux *http.ServeMux, a *Adapter) {
	mux.Handle("POST /prompt-routers", a.Bedrock(g.create(a)))
	mux.Handle("GET /prompt-routers", a.Bedrock(g.list(a)))
	mux.Handle("GET /prompt-routers/{promptRouterArn}", a.Bedrock(g.get(a)))
	mux.Handle("DELETE /prompt-routers/{promptRouterArn}", a.Bedrock(g.delete(a)))
}

type routerModelWire struct {
	ModelArn string `json:"modelArn"`
}

type routingCriteriaWire struct {
	ResponseQualityDifference *float64 `json:"responseQualityDifference"`
}

type tagWire struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// promptRouterWire is GetPromptRouter's response and a ListPromptRouters
// summary.
type promptRouterWire struct {
	PromptRouterName string              `json:"promptRouterName"`
	PromptRouterArn  string              `json:"promptRouterArn"`
	Models           []routerModelWire   `json:"models"`
	FallbackModel    routerModelWire     `json:"fallbackModel"`
	RoutingCriteria  routingCriteriaWire `json:"routingCriteria"`
	Description      string              `json:"description,omitempty"`
	Status           string              `json:"status"`
	Type             string              `json:"type"`
	CreatedAt        string              `json:"createdAt"`
	UpdatedAt        string              `json:"updatedAt"`
}

func routerWire(r *promptrouter.Router) promptRouterWire {
	w := promptRouterWire{
		PromptRouterName: r.Name, PromptRouterArn: r.ARN, FallbackModel: routerModelWire{r.Fallback},
		RoutingCriteria: routingCriteriaWire{&r.QualityDifference}, Description: r.Description,
		Status: "AVAILABLE", Type: r.Type,
		CreatedAt: r.CreatedAt.UTC().Format(time.RFC3339Nano), UpdatedAt: r.UpdatedAt.UTC().Format(time.RFC3339Nano),
	}
	for _, m := range r.Models {
		w.Models = append(w.Models, routerModelWire{m})
	}
	return w
}

func (g PromptRouters) create(a *Adapter) HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := a.Authorize(r, "bedrock:CreatePromptRouter", "*"); err != nil {
			return err
		}
		b, err := a.ReadBody(r)
		if err != nil {
			return err
		}
		var in struct {
			ClientRequestToken string               `json:"clientRequestToken"`
			PromptRouterName   string               `json:"promptRouterName"`
			Models             []routerModelWire    `json:"models"`
			Description        string               `json:"description"`
			RoutingCriteria    *routingCriteriaWire `json:"routingCriteria"`
			FallbackModel      *routerModelWire     `json:"fallbackModel"`
			Tags               []tagWire            `json:"tags"`
		}
		if err := DecodeJSON(b, &in); err != nil {
			return err
		}
		ci := promptrouter.CreateInput{Name: in.PromptRouterName, Description: in.Description, ClientToken: in.ClientRequestToken}
		if err := resource.OptionalLength("clientRequestToken", in.ClientRequestToken, 0, 256); err != nil {
			return err
		}
		for _, m := range in.Models {
			ci.Models = append(ci.Models, m.ModelArn)
		}
		if in.FallbackModel != nil {
			ci.Fallback = in.FallbackModel.ModelArn
		}
		if in.RoutingCriteria != nil {
			ci.QualityDifference = in.RoutingCriteria.ResponseQualityDifference
		}
		if len(in.Tags) > 0 {
			ci.Tags = map[string]string{}
			for _, t := range in.Tags {
				ci.Tags[t.Key] = t.Value
			}
		}
		rt, err := g.Service.Create(r.Context(), ci)
		if err != nil {
			return err
		}
		return WriteJSON(w, http.StatusOK, map[string]string{"promptRouterArn": rt.ARN})
	}
}

func (g PromptRouters) get(a *Adapter) HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		ident := r.PathValue("promptRouterArn")
		if err := a.Authorize(r, "bedrock:GetPromptRouter", ident); err != nil {
			return err
		}
		rt, err := g.Service.Get(r.Context(), ident)
		if err != nil {
			return err
		}
		return WriteJSON(w, http.StatusOK, routerWire(rt))
	}
}

func (g PromptRouters) delete(a *Adapter) HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		ident := r.PathValue("promptRouterArn")
		if err := a.Authorize(r, "bedrock:DeletePromptRouter", ident); err != nil {
			return err
		}
		if err := g.Service.Delete(r.Context(), ident); err != nil {
			return err
		}
		return WriteJSON(w, http.StatusOK, struct{}{})
	}
}

func (g PromptRouters) list(a *Adapter) HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := a.Authorize(r, "bedrock:ListPromptRouters", "*"); err != nil {
			return err
		}
		p, err := resource.PageFromQuery(r.URL.Query())
		if err != nil {
			return err
		}
		out := struct {
			Summaries []promptRouterWire `json:"promptRouterSummaries"`
			NextToken string             `json:"nextToken,omitempty"`
		}{Summaries: []promptRouterWire{}}
		list := g.Service.List
		switch typ := r.URL.Query().Get("type"); typ {
		case promptrouter.TypeDefault:
			list = g.Service.ListDefaults
		case "", promptrouter.TypeCustom:
		default:
			return resource.Invalid("type", "Member must satisfy enum value set: [custom, default]")
		}
		rts, next, err := list(r.Context(), p)
		if err != nil {
			return err
		}
		for _, rt := range rts {
			out.Summaries = append(out.Summaries, routerWire(rt))
		}
		out.NextToken = next
		return WriteJSON(w, http.StatusOK, out)
	}
}

// PromptRouting returns middleware that serves runtime calls whose modelId
// is a prompt router's ARN, custom or default (Converse, ConverseStream, InvokeModel,
// InvokeModelWithResponseStream): it reads the text of the request's last
// user turn, lets the router choose a model, and hands the request on with
// that model's ID in the path and the decision in the context, where
// promptrouter.Stage reports it in the response trace. The principal must
// be allowed to invoke the router itself (Service.Authorize) as well as the
// chosen model (the gateway's own check). maxBody bounds the
// body it reads; writeErr writes errors in the API's shape.
func PromptRouting(svc *promptrouter.Service, maxBody int64, writeErr func(http.ResponseWriter, *http.Request, error)) func(http.Handler) http.Handler {
	if maxBody <= 0 {
		maxBody = 25 << 20
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id, op, ok := routerCall(r)
			if !ok {
				next.ServeHTTP(w, r)
				return
			}
			rt, err := svc.Get(r.Context(), id)
			if err != nil {
				writeErr(w, r, err)
				return
			}
			if svc.Authorize != nil {
				action := "bedrock:InvokeModel"
				if strings.Contains(op, "stream") {
					action = "bedrock:InvokeModelWithResponseStream"
				}
				if err := svc.Authorize(r.Context(), action, rt.ARN); err != nil {
					writeErr(w, r, err)
					return
				}
			}
			body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
			if err != nil {
				writeErr(w, r, resource.Invalidf("The request body could not be read."))
				return
			}
			prompt := ""
			if int64(len(body)) <= maxBody {
				prompt = lastUserText(body)
			}
			d, err := svc.Decide(rt, prompt)
			if err != nil {
				writeErr(w, r, err)
				return
			}
			r2 := r.WithContext(promptrouter.WithDecision(r.Context(), d))
			u := *r.URL
			u.Path = "/model/" + d.ModelID + "/" + op
			u.RawPath = "/model/" + url.PathEscape(d.ModelID) + "/" + op
			r2.URL = &u
			r2.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), r.Body))
			r2.ContentLength = -1
			next.ServeHTTP(w, r2)
		})
	}
}

// routerCall reports whether r is a runtime call on a prompt router,
// returning the router's ARN and the operation's path segment.
func routerCall(r *http.Request) (arn, op string, ok bool) {
	if r.Method != http.MethodPost {
		return "", "", false
	}
	segs := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")
	if len(segs) != 3 || segs[0] != "model" {
		return "", "", false
	}
	switch segs[2] {
	case "converse", "converse-stream", "invoke", "invoke-with-response-stream":
	default:
		return "", "", false
	}
	id, err := url.PathUnescape(segs[1])
	if err != nil {
		return "", "", false
	}
	a, ok := resource.ParseARN(id)
	if !ok || (a.Type != promptrouter.ARNType && a.Type != promptrouter.DefaultARNType) {
		return "", "", false
	}
	return id, segs[2], true
}

// lastUserText returns the text of the last user message of a Converse
// body or of a model-native body with a messages list (Anthropic), or ""
// when there is none; the handler that follows validates the body.
func lastUserText(body []byte) string {
	var req struct {
		Messages []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
	}
	if json.Unmarshal(body, &req) != nil {
		return ""
	}
	for i := len(req.Messages) - 1; i >= 0; i-- {
		m := req.Messages[i]
		if m.Role != "user" {
			continue
		}
		var s string
		if json.Unmarshal(m.Content, &s) == nil {
			return s
		}
		var blocks []struct {
			Text string `json:"text"`
		}
		if json.Unmarshal(m.Content, &blocks) != nil {
			return ""
		}
		var parts []string
		for _, b := range blocks {
			if b.Text != "" {
				parts = append(parts, b.Text)
			}
		}
		return strings.Join(parts, "\n")
	}
	return ""
}
