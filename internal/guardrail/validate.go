package guardrail

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"

	"github.com/outcrop/outcrop/internal/llm"
)

// Limits from Bedrock's CreateGuardrail model, plus Outcrop's own bound on
// the size of a compiled custom regex.
const (
	maxTopics         = 30
	maxExamples       = 5
	maxWords          = 10000
	maxWordLen        = 100
	maxWordTokens     = 3
	maxRegexes        = 10
	maxRegexLen       = 500
	maxFilters        = 6
	maxMessagingLen   = 500
	maxRegexProgInsts = 3000 // compiled RE2 program size; bounds per-byte work
)

// FieldError names the member of a definition that failed validation.
// Validate wraps it in an *llm.Error of kind KindValidation.
type FieldError struct {
	Field  string // dotted member path, e.g. "wordPolicyConfig.wordsConfig.3.text"
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

func fieldErr(field, format string, args ...any) error {
	fe := &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
	return &llm.Error{
		Kind:    llm.KindValidation,
		Message: fmt.Sprintf("1 validation error detected: Value at '%s' failed to satisfy constraint: %s", field, fe.Reason),
		Err:     fe,
	}
}

var (
	namePattern      = regexp.MustCompile(`^[0-9a-zA-Z_-]{1,50}$`)
	topicNamePattern = regexp.MustCompile(`^[0-9a-zA-Z_ !?.-]{1,100}$`)
	contentTypes     = []string{"SEXUAL", "VIOLENCE", "HATE", "INSULTS", "MISCONDUCT", "PROMPT_ATTACK"}
	strengths        = []string{"NONE", "LOW", "MEDIUM", "HIGH"}
	blockOrNone      = []string{ActionBlock, ActionNone}
	piiActions       = []string{ActionBlock, ActionAnonymize, ActionNone}
	modalities       = []string{"TEXT", "IMAGE"}
	tiers            = []string{"CLASSIC", "STANDARD"}
	groundingTypes   = []string{"GROUNDING", "RELEVANCE"}
)

func oneOf(field, v string, set []string) error {
	for _, s := range set {
		if v == s {
			return nil
		}
	}
	return fieldErr(field, "Member must satisfy enum value set: [%s]", strings.Join(set, ", "))
}

func optOneOf(field, v string, set []string) error {
	if v == "" {
		return nil
	}
	return oneOf(field, v, set)
}

func length(field, v string, lo, hi int) error {
	n := utf8.RuneCountInString(v)
	if n < lo || n > hi {
		return fieldErr(field, "Member must have length between %d and %d", lo, hi)
	}
	return nil
}

// Validate checks a CreateGuardrail/UpdateGuardrail body against Bedrock's
// constraints and compiles its custom regexes. The error is an *llm.Error of
// kind KindValidation wrapping a *FieldError.
func Validate(d *Definition) error {
	if !namePattern.MatchString(d.Name) {
		return fieldErr("name", "Member must satisfy regular expression pattern: [0-9a-zA-Z-_]+ and have length between 1 and 50")
	}
	if d.Description != "" {
		if err := length("description", d.Description, 1, 200); err != nil {
			return err
		}
	}
	if err := length("blockedInputMessaging", d.BlockedInputMessaging, 1, maxMessagingLen); err != nil {
		return err
	}
	if err := length("blockedOutputsMessaging", d.BlockedOutputsMessaging, 1, maxMessagingLen); err != nil {
		return err
	}
	if len(d.Tags) > 200 {
		return fieldErr("tags", "Member must have length less than or equal to 200")
	}
	checks := []func(*Definition) error{validateTopics, validateContent, validateWords, validateSensitive, validateGrounding}
	for _, c := range checks {
		if err := c(d); err != nil {
			return err
		}
	}
	return nil
}

func validateTopics(d *Definition) error {
	c := d.TopicPolicyConfig
	if c == nil {
		return nil
	}
	if n := len(c.TopicsConfig); n < 1 || n > maxTopics {
		return fieldErr("topicPolicyConfig.topicsConfig", "Member must have length between 1 and %d", maxTopics)
	}
	if c.TierConfig != nil {
		if err := oneOf("topicPolicyConfig.tierConfig.tierName", c.TierConfig.TierName, tiers); err != nil {
			return err
		}
	}
	for i, t := range c.TopicsConfig {
		f := fmt.Sprintf("topicPolicyConfig.topicsConfig.%d.member", i+1)
		if !topicNamePattern.MatchString(t.Name) {
			return fieldErr(f+".name", "Member must satisfy regular expression pattern: [0-9a-zA-Z-_ !?.]+ and have length between 1 and 100")
		}
		if err := length(f+".definition", t.Definition, 1, 1000); err != nil {
			return err
		}
		if len(t.Examples) > maxExamples {
			return fieldErr(f+".examples", "Member must have length less than or equal to %d", maxExamples)
		}
		for j, e := range t.Examples {
			if err := length(fmt.Sprintf("%s.examples.%d.member", f, j+1), e, 1, 100); err != nil {
				return err
			}
		}
		if err := oneOf(f+".type", t.Type, []string{"DENY"}); err != nil {
			return err
		}
		if err := optOneOf(f+".inputAction", t.InputAction, blockOrNone); err != nil {
			return err
		}
		if err := optOneOf(f+".outputAction", t.OutputAction, blockOrNone); err != nil {
			return err
		}
	}
	return nil
}

func validateContent(d *Definition) error {
	c := d.ContentPolicyConfig
	if c == nil {
		return nil
	}
	if n := len(c.FiltersConfig); n < 1 || n > maxFilters {
		return fieldErr("contentPolicyConfig.filtersConfig", "Member must have length between 1 and %d", maxFilters)
	}
	if c.TierConfig != nil {
		if err := oneOf("contentPolicyConfig.tierConfig.tierName", c.TierConfig.TierName, tiers); err != nil {
			return err
		}
	}
	seen := map[string]bool{}
	for i, fc := range c.FiltersConfig {
		f := fmt.Sprintf("contentPolicyConfig.filtersConfig.%d.member", i+1)
		if err := oneOf(f+".type", fc.Type, contentTypes); err != nil {
			return err
		}
		if seen[fc.Type] {
			return fieldErr(f+".type", "Member must be unique; %s is configured twice", fc.Type)
		}
		seen[fc.Type] = true
		if err := oneOf(f+".inputStrength", fc.InputStrength, strengths); err != nil {
			return err
		}
		if err := oneOf(f+".outputStrength", fc.OutputStrength, strengths); err != nil {
			return err
		}
		if fc.Type == "PROMPT_ATTACK" && fc.OutputStrength != "NONE" {
			return fieldErr(f+".outputStrength", "PROMPT_ATTACK applies to inputs only; outputStrength must be NONE")
		}
		for j, m := range fc.InputModalities {
			if err := oneOf(fmt.Sprintf("%s.inputModalities.%d.member", f, j+1), m, modalities); err != nil {
				return err
			}
		}
		for j, m := range fc.OutputModalities {
			if err := oneOf(fmt.Sprintf("%s.outputModalities.%d.member", f, j+1), m, modalities); err != nil {
				return err
			}
		}
		if err := optOneOf(f+".inputAction", fc.InputAction, blockOrNone); err != nil {
			return err
		}
		if err := optOneOf(f+".outputAction", fc.OutputAction, blockOrNone); err != nil {
			return err
		}
	}
	return nil
}

func validateWords(d *Definition) error {
	c := d.WordPolicyConfig
	if c == nil {
		return nil
	}
	if len(c.WordsConfig) == 0 && len(c.ManagedWordListsConfig) == 0 {
		return fieldErr("wordPolicyConfig", "at least one of wordsConfig and managedWordListsConfig must be given")
	}
	if len(c.WordsConfig) > maxWords {
		return fieldErr("wordPolicyConfig.wordsConfig", "Member must have length less than or equal to %d", maxWords)
	}
	for i, w := range c.WordsConfig {
		f := fmt.Sprintf("wordPolicyConfig.wordsConfig.%d.member", i+1)
		if err := length(f+".text", w.Text, 1, maxWordLen); err != nil {
			return err
		}
		n := len(tokenize(w.Text, nil))
		if n == 0 {
			return fieldErr(f+".text", "Member must contain at least one word")
		}
		if n > maxWordTokens {
			return fieldErr(f+".text", "Member must have at most %d words", maxWordTokens)
		}
		if err := optOneOf(f+".inputAction", w.InputAction, blockOrNone); err != nil {
			return err
		}
		if err := optOneOf(f+".outputAction", w.OutputAction, blockOrNone); err != nil {
			return err
		}
	}
	for i, m := range c.ManagedWordListsConfig {
		f := fmt.Sprintf("wordPolicyConfig.managedWordListsConfig.%d.member", i+1)
		if err := oneOf(f+".type", m.Type, []string{"PROFANITY"}); err != nil {
			return err
		}
		if err := optOneOf(f+".inputAction", m.InputAction, blockOrNone); err != nil {
			return err
		}
		if err := optOneOf(f+".outputAction", m.OutputAction, blockOrNone); err != nil {
			return err
		}
	}
	return nil
}

func validateSensitive(d *Definition) error {
	c := d.SensitiveInformationPolicyConfig
	if c == nil {
		return nil
	}
	if len(c.PIIEntitiesConfig) == 0 && len(c.RegexesConfig) == 0 {
		return fieldErr("sensitiveInformationPolicyConfig", "at least one of piiEntitiesConfig and regexesConfig must be given")
	}
	for i, p := range c.PIIEntitiesConfig {
		f := fmt.Sprintf("sensitiveInformationPolicyConfig.piiEntitiesConfig.%d.member", i+1)
		if _, ok := piiTypeSet[p.Type]; !ok {
			return fieldErr(f+".type", "Member must satisfy enum value set: [%s]", strings.Join(PIITypes, ", "))
		}
		if err := oneOf(f+".action", p.Action, piiActions); err != nil {
			return err
		}
		if err := optOneOf(f+".inputAction", p.InputAction, piiActions); err != nil {
			return err
		}
		if err := optOneOf(f+".outputAction", p.OutputAction, piiActions); err != nil {
			return err
		}
	}
	if len(c.RegexesConfig) > maxRegexes {
		return fieldErr("sensitiveInformationPolicyConfig.regexesConfig", "Member must have length less than or equal to %d", maxRegexes)
	}
	for i, r := range c.RegexesConfig {
		f := fmt.Sprintf("sensitiveInformationPolicyConfig.regexesConfig.%d.member", i+1)
		if err := length(f+".name", r.Name, 1, 100); err != nil {
			return err
		}
		if r.Description != "" {
			if err := length(f+".description", r.Description, 1, 1000); err != nil {
				return err
			}
		}
		if err := length(f+".pattern", r.Pattern, 1, maxRegexLen); err != nil {
			return err
		}
		if _, err := compileUserRegex(r.Pattern); err != nil {
			return fieldErr(f+".pattern", "Member must be a valid RE2 regular expression: %v", err)
		}
		if err := oneOf(f+".action", r.Action, piiActions); err != nil {
			return err
		}
		if err := optOneOf(f+".inputAction", r.InputAction, piiActions); err != nil {
			return err
		}
		if err := optOneOf(f+".outputAction", r.OutputAction, piiActions); err != nil {
			return err
		}
	}
	return nil
}

func validateGrounding(d *Definition) error {
	c := d.ContextualGroundingPolicyConfig
	if c == nil {
		return nil
	}
	if len(c.FiltersConfig) < 1 || len(c.FiltersConfig) > 2 {
		return fieldErr("contextualGroundingPolicyConfig.filtersConfig", "Member must have length between 1 and 2")
	}
	for i, g := range c.FiltersConfig {
		f := fmt.Sprintf("contextualGroundingPolicyConfig.filtersConfig.%d.member", i+1)
		if err := oneOf(f+".type", g.Type, groundingTypes); err != nil {
			return err
		}
		if g.Threshold == nil || *g.Threshold < 0 || *g.Threshold >= 1 {
			return fieldErr(f+".threshold", "Member must be between 0 and 0.99")
		}
		if err := optOneOf(f+".action", g.Action, blockOrNone); err != nil {
			return err
		}
	}
	return nil
}

// compileUserRegex compiles a user-supplied pattern with RE2 semantics
// (linear-time matching, no backreferences or look-arounds) and refuses
// patterns whose compiled program is large, which bounds the work per input
// byte.
func compileUserRegex(p string) (*regexp.Regexp, error) {
	re, err := syntax.Parse(p, syntax.Perl)
	if err != nil {
		return nil, err
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return nil, err
	}
	if len(prog.Inst) > maxRegexProgInsts {
		return nil, fmt.Errorf("pattern too complex (%d instructions, limit %d)", len(prog.Inst), maxRegexProgInsts)
	}
	return regexp.Compile(p)
}
