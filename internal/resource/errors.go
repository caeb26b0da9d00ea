package resource

import (
	"fmt"
	"regexp"
	"strconv"
	"unicode/utf8"

	"github.com/outcrop/outcrop/internal/llm"
)

// NotFound returns a ResourceNotFoundException (404).
func NotFound(format string, args ...any) error {
	return llm.Errorf(llm.KindNotFound, format, args...)
}

// Invalid returns a ValidationException (400) in Bedrock's wording:
// "1 validation error detected: Value at 'field' failed to satisfy
// constraint: constraint".
func Invalid(field, constraint string) error {
	return llm.Errorf(llm.KindValidation, "1 validation error detected: Value at '%s' failed to satisfy constraint: %s", field, constraint)
}

// Invalidf returns a ValidationException with a free-form message.
func Invalidf(format string, args ...any) error {
	return llm.Errorf(llm.KindValidation, format, args...)
}

// Conflict returns a ConflictException (409 on the control plane).
func Conflict(format string, args ...any) error {
	return llm.Errorf(llm.KindConflict, format, args...)
}

// QuotaExceeded returns a ServiceQuotaExceededException (402 on
// bedrock-agent, 400 elsewhere).
func QuotaExceeded(format string, args ...any) error {
	return llm.Errorf(llm.KindQuotaExceeded, format, args...)
}

// namePattern is the name rule bedrock-agent gives agents, prompts, flows
// and their aliases.
var namePattern = regexp.MustCompile(`^([0-9a-zA-Z][_-]?){1,100}$`)

// Name checks a resource name against ([0-9a-zA-Z][_-]?){1,100}.
func Name(field, v string) error {
	if v == "" {
		return Invalid(field, "Member must not be null")
	}
	if !namePattern.MatchString(v) {
		return Invalid(field, "Member must satisfy regular expression pattern: ([0-9a-zA-Z][_-]?){1,100}")
	}
	return nil
}

// Length checks that v has between lo and hi characters; an empty v passes
// when lo is 0 (an absent optional member).
func Length(field, v string, lo, hi int) error {
	n := utf8.RuneCountInString(v)
	if n < lo || n > hi {
		return Invalid(field, "Member must have length between "+strconv.Itoa(lo)+" and "+strconv.Itoa(hi))
	}
	return nil
}

// OptionalLength is Length for an optional member: empty passes.
func OptionalLength(field, v string, lo, hi int) error {
	if v == "" {
		return nil
	}
	return Length(field, v, lo, hi)
}

// Range checks lo <= v <= hi.
func Range(field string, v, lo, hi int) error {
	if v < lo || v > hi {
		return Invalid(field, fmt.Sprintf("Member must have value between %d and %d", lo, hi))
	}
	return nil
}

// Tags checks a tags map: at most 50 entries, keys 1–128 and values 0–256
// characters.
func Tags(field string, tags map[string]string) error {
	if len(tags) > 50 {
		return Invalid(field, "Member must have at most 50 entries")
	}
	for k, v := range tags {
		if err := Length(field+".key", k, 1, 128); err != nil {
			return err
		}
		if err := Length(field+".value", v, 0, 256); err != nil {
			return err
		}
	}
	return nil
}

// ParseVersion accepts "" (meaning DRAFT), "DRAFT" or a version number
// 1…99999999 without leading zeros, and returns the label.
func ParseVersion(field, v string) (string, error) {
	if v == "" || v == Draft {
		return Draft, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 99999999 || strconv.Itoa(n) != v {
		return "", Invalid(field, "Member must satisfy regular expression pattern: (DRAFT|[0-9]{1,8})")
	}
	return v, nil
}

// versionNumber is the sort key of a version label: 0 for DRAFT.
func versionNumber(v string) int64 {
	if v == Draft || v == "" {
		return 0
	}
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}
