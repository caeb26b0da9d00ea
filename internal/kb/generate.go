package kb

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"

	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/resource"
)

// Converser is the model gateway RetrieveAndGenerate answers through (the
// same pipeline as a client's Converse: policy, quotas, guardrails, routing).
type Converser interface {
	Converse(ctx context.Context, c *gateway.Call) (*llm.Response, error)
}

// kindSession is the resource kind of RetrieveAndGenerate sessions.
const kindSession = "kb-session"

// DefaultPromptTemplate is used when the request gives none. It must hold
// $search_results$; $query$ is optional (the question is also sent as the
// user turn when the template lacks it).
const DefaultPromptTemplate = `You are a question answering agent. Answer the user's question using only the search results below, in numbered order. If the search results do not contain the answer, say that you could not find it.

Search results:
$search_results$

Question: $query$`

// RAGInput is the body of RetrieveAndGenerate.
type RAGInput struct {
	Input struct {
		Text string `json:"text"`
	} `json:"input"`
	SessionID                        string `json:"sessionId"`
	RetrieveAndGenerateConfiguration struct {
		Type                       string `json:"type"`
		KnowledgeBaseConfiguration *struct {
			KnowledgeBaseID         string          `json:"knowledgeBaseId"`
			ModelArn                string          `json:"modelArn"`
			RetrievalConfiguration  json.RawMessage `json:"retrievalConfiguration"`
			GenerationConfiguration *struct {
				PromptTemplate *struct {
					TextPromptTemplate string `json:"textPromptTemplate"`
				} `json:"promptTemplate"`
				InferenceConfig *struct {
					TextInferenceConfig *struct {
						MaxTokens     *int     `json:"maxTokens"`
						Temperature   *float64 `json:"temperature"`
						TopP          *float64 `json:"topP"`
						StopSequences []string `json:"stopSequences"`
					} `json:"textInferenceConfig"`
				} `json:"inferenceConfig"`
				GuardrailConfiguration *struct {
					GuardrailID      string `json:"guardrailId"`
					GuardrailVersion string `json:"guardrailVersion"`
				} `json:"guardrailConfiguration"`
			} `json:"generationConfiguration"`
		} `json:"knowledgeBaseConfiguration"`
	} `json:"retrieveAndGenerateConfiguration"`
}

// Citation is one entry of RetrieveAndGenerate's citations: a span of the
// generated text and the retrieved passages it rests on.
type Citation struct {
	GeneratedResponsePart struct {
		TextResponsePart struct {
			Text string `json:"text"`
			Span struct {
				Start int `json:"start"`
				End   int `json:"end"`
			} `json:"span"`
		} `json:"textResponsePart"`
	} `json:"generatedResponsePart"`
	RetrievedReferences []RetrievalResult `json:"retrievedReferences"`
}

// RAGOutput is the response of RetrieveAndGenerate.
type RAGOutput struct {
	SessionID string `json:"sessionId"`
	Output    struct {
		Text string `json:"text"`
	} `json:"output"`
	Citations []Citation `json:"citations"`
}

// sessionBody keeps a conversation's turns.
type sessionBody struct {
	KnowledgeBaseID string        `json:"knowledgeBaseId"`
	Turns           []sessionTurn `json:"turns"`
}

type sessionTurn struct {
	Question string `json:"question"`
	Answer   string `json:"answer"`
}

// maxSessionTurns bounds the history sent with a follow-up.
const maxSessionTurns = 5

// RetrieveAndGenerate retrieves passages for the question, asks the model
// through the gateway with them in the prompt, and cites them: each
// sentence of the answer is attributed to the retrieved passages that share
// at least two content words with it (span offsets are in characters,
// end inclusive). With a sessionId, earlier turns of the session are sent
// as conversation history and the new turn is appended.
func (s *Service) RetrieveAndGenerate(ctx context.Context, in *RAGInput) (*RAGOutput, error) {
	p, err := s.prepareRAG(ctx, in)
	if err != nil {
		return nil, err
	}
	resp, err := s.Models.Converse(ctx, p.call)
	if err != nil {
		return nil, err
	}
	var ans strings.Builder
	for _, c := range resp.Message.Content {
		if c.Kind == llm.KindText {
			ans.WriteString(c.Text)
		}
	}
	out := &RAGOutput{}
	out.Output.Text = ans.String()
	out.Citations = cite(out.Output.Text, p.refs)
	if out.SessionID, err = s.saveTurn(ctx, p, out.Output.Text); err != nil {
		return nil, err
	}
	return out, nil
}

// ragCall is a RetrieveAndGenerate turn ready for the model.
type ragCall struct {
	acct, kbID, question string
	sessionID            string // "" until the first turn is saved
	sess                 *sessionBody
	refs                 []RetrievalResult
	call                 *gateway.Call
}

// prepareRAG validates in, loads its session, retrieves and builds the
// model call.
func (s *Service) prepareRAG(ctx context.Context, in *RAGInput) (*ragCall, error) {
	if s.Models == nil {
		return nil, llm.Errorf(llm.KindUnavailable, "no model gateway is configured")
	}
	q := in.Input.Text
	if q == "" || len(q) > 20000 {
		return nil, resource.Invalid("input.text", "Member must have length between 1 and 20000")
	}
	rc := in.RetrieveAndGenerateConfiguration
	if rc.Type != "KNOWLEDGE_BASE" || rc.KnowledgeBaseConfiguration == nil {
		return nil, resource.Invalidf("Only retrieveAndGenerateConfiguration.type KNOWLEDGE_BASE with a knowledgeBaseConfiguration is supported.")
	}
	kc := rc.KnowledgeBaseConfiguration
	if kc.ModelArn == "" {
		return nil, resource.Invalid("retrieveAndGenerateConfiguration.knowledgeBaseConfiguration.modelArn", "Member must not be null")
	}
	tmpl := DefaultPromptTemplate
	if g := kc.GenerationConfiguration; g != nil && g.PromptTemplate != nil && g.PromptTemplate.TextPromptTemplate != "" {
		tmpl = g.PromptTemplate.TextPromptTemplate
		if !strings.Contains(tmpl, "$search_results$") {
			return nil, resource.Invalidf("The prompt template must contain $search_results$.")
		}
	}
	acct := s.account(ctx)
	p := &ragCall{acct: acct, kbID: kc.KnowledgeBaseID, question: q, sessionID: in.SessionID}
	if in.SessionID != "" {
		it, err := s.Store.Get(ctx, resource.Key{Account: acct, Kind: kindSession, ID: in.SessionID}, "")
		if err != nil {
			return nil, err
		}
		if p.sess, err = resource.Decode[sessionBody](it); err != nil {
			return nil, err
		}
	}
	var rin RetrieveInput
	rin.RetrievalQuery.Text = q
	if len(kc.RetrievalConfiguration) > 0 {
		if err := json.Unmarshal(kc.RetrievalConfiguration, &rin.RetrievalConfiguration); err != nil {
			return nil, resource.Invalidf("retrievalConfiguration is malformed: %v", err)
		}
	}
	refs, err := s.Retrieve(ctx, kc.KnowledgeBaseID, &rin)
	if err != nil {
		return nil, err
	}
	p.refs = refs
	var sr strings.Builder
	for i, r := range refs {
		fmt.Fprintf(&sr, "[%d] %s\n", i+1, r.Content.Text)
	}
	prompt := strings.ReplaceAll(tmpl, "$search_results$", strings.TrimSpace(sr.String()))
	prompt = strings.ReplaceAll(prompt, "$output_format_instructions$", "")
	hasQuery := strings.Contains(prompt, "$query$")
	prompt = strings.ReplaceAll(prompt, "$query$", q)
	req := &llm.Request{Model: kc.ModelArn}
	if p.sess != nil {
		turns := p.sess.Turns
		if len(turns) > maxSessionTurns {
			turns = turns[len(turns)-maxSessionTurns:]
		}
		for _, t := range turns {
			req.Messages = append(req.Messages,
				llm.Message{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock(t.Question)}},
				llm.Message{Role: llm.RoleAssistant, Content: []llm.Block{llm.TextBlock(t.Answer)}})
		}
	}
	user := prompt
	if !hasQuery {
		user = prompt + "\n\n" + q
	}
	req.Messages = append(req.Messages, llm.Message{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock(user)}})
	if g := kc.GenerationConfiguration; g != nil && g.InferenceConfig != nil && g.InferenceConfig.TextInferenceConfig != nil {
		t := g.InferenceConfig.TextInferenceConfig
		req.Inference = llm.InferenceConfig{MaxTokens: t.MaxTokens, Temperature: t.Temperature, TopP: t.TopP, StopSequences: t.StopSequences}
	}
	if g := kc.GenerationConfiguration; g != nil && g.GuardrailConfiguration != nil && g.GuardrailConfiguration.GuardrailID != "" {
		// Applied by the gateway's guardrail stage to the prompt and the answer.
		req.Guardrail = &llm.GuardrailConfig{ID: g.GuardrailConfiguration.GuardrailID, Version: g.GuardrailConfiguration.GuardrailVersion}
	}
	arn := kc.ModelArn
	if !strings.HasPrefix(arn, "arn:") {
		region := s.Store.Scope().Region
		if region == "" {
			region = resource.DefaultRegion
		}
		arn = "arn:aws:bedrock:" + region + "::foundation-model/" + arn
	}
	p.call = &gateway.Call{API: "bedrock", Op: "Converse", Action: "bedrock:InvokeModel", Resource: arn, Request: req}
	return p, nil
}

// saveTurn appends the turn to its session (creating the session on the
// first turn) and returns the session id.
func (s *Service) saveTurn(ctx context.Context, p *ragCall, answer string) (string, error) {
	if p.sess == nil {
		if _, err := s.saveTurnSession(ctx, p); err != nil {
			return "", err
		}
	}
	p.sess.Turns = append(p.sess.Turns, sessionTurn{Question: p.question, Answer: answer})
	if _, err := s.Store.Update(ctx, resource.Key{Account: p.acct, Kind: kindSession, ID: p.sessionID}, func(it *resource.Item) error {
		raw, err := json.Marshal(p.sess)
		it.Body = raw
		return err
	}); err != nil {
		return "", err
	}
	return p.sessionID, nil
}

func resourceKeySession(acct string) resource.Key {
	return resource.Key{Account: acct, Kind: kindSession, ID: resource.NewID()}
}

// stop words are left out of citation matching.
var stop = map[string]bool{"the": true, "a": true, "an": true, "and": true, "or": true, "of": true, "to": true, "in": true, "on": true,
	"is": true, "are": true, "was": true, "be": true, "it": true, "for": true, "with": true, "that": true, "this": true, "as": true,
	"at": true, "by": true, "you": true, "your": true, "i": true, "can": true, "do": true, "does": true, "not": true, "from": true}

func contentWords(s string) map[string]bool {
	out := map[string]bool{}
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if !stop[w] && len(w) > 1 {
			out[w] = true
		}
	}
	return out
}

// cite attributes each sentence of answer to the references sharing at
// least two content words with it.
func cite(answer string, refs []RetrievalResult) []Citation {
	words := refWords(refs)
	var out []Citation
	for _, sp := range sentences(answer) {
		if c, ok := citeSentence(answer, sp, refs, words); ok {
			out = append(out, c)
		}
	}
	return out
}

// refWords are the content words of each reference.
func refWords(refs []RetrievalResult) []map[string]bool {
	words := make([]map[string]bool, len(refs))
	for i, r := range refs {
		words[i] = contentWords(r.Content.Text)
	}
	return words
}

// citeSentence is the citation of the sentence sp of answer, if any
// reference shares two content words with it; the span is in characters of
// the whole answer, end inclusive.
func citeSentence(answer string, sp token, refs []RetrievalResult, words []map[string]bool) (Citation, bool) {
	text := answer[sp.start:sp.end]
	sw := contentWords(text)
	var c Citation
	for i, r := range refs {
		n := 0
		for w := range sw {
			if words[i][w] {
				n++
			}
		}
		if n >= 2 {
			c.RetrievedReferences = append(c.RetrievedReferences, r)
		}
	}
	if len(c.RetrievedReferences) == 0 {
		return c, false
	}
	start := len([]rune(answer[:sp.start]))
	c.GeneratedResponsePart.TextResponsePart.Text = text
	c.GeneratedResponsePart.TextResponsePart.Span.Start = start
	c.GeneratedResponsePart.TextResponsePart.Span.End = start + len([]rune(text)) - 1
	return c, true
}
