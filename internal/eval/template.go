package eval

import (
	"fmt"
	"strings"
)

// Template is a Python string.Template as FMEval uses for prompt templates
// ("$model_input") and Bedrock content templates ("$prompt"): $name and
// ${name} are placeholders, $$ is a literal $, and a $ followed by anything
// else is an error, as is a placeholder with no value.
type Template string

func isIdentStart(c byte) bool { return c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z') }
func isIdent(c byte) bool      { return isIdentStart(c) || (c >= '0' && c <= '9') }

// Identifiers returns the placeholder names in order of first appearance.
func (t Template) Identifiers() ([]string, error) {
	var out []string
	seen := map[string]bool{}
	_, err := t.walk(func(name string) (string, error) {
		if !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
		return "", nil
	})
	return out, err
}

// Substitute replaces every placeholder by vars[name]; a placeholder without
// a value is an error (Python's KeyError).
func (t Template) Substitute(vars map[string]string) (string, error) {
	return t.walk(func(name string) (string, error) {
		v, ok := vars[name]
		if !ok {
			return "", fmt.Errorf("template %q: no value for $%s", string(t), name)
		}
		return v, nil
	})
}

func (t Template) walk(fn func(name string) (string, error)) (string, error) {
	s := string(t)
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' {
			b.WriteByte(s[i])
			continue
		}
		switch {
		case i+1 < len(s) && s[i+1] == '$':
			b.WriteByte('$')
			i++
		case i+1 < len(s) && s[i+1] == '{':
			end := strings.IndexByte(s[i+2:], '}')
			name := ""
			if end >= 0 {
				name = s[i+2 : i+2+end]
			}
			if end < 0 || !validIdent(name) {
				return "", fmt.Errorf("template %q: invalid placeholder at byte %d", s, i)
			}
			v, err := fn(name)
			if err != nil {
				return "", err
			}
			b.WriteString(v)
			i += 2 + end
		case i+1 < len(s) && isIdentStart(s[i+1]):
			j := i + 1
			for j < len(s) && isIdent(s[j]) {
				j++
			}
			v, err := fn(s[i+1 : j])
			if err != nil {
				return "", err
			}
			b.WriteString(v)
			i = j - 1
		default:
			return "", fmt.Errorf("template %q: invalid placeholder at byte %d", s, i)
		}
	}
	return b.String(), nil
}

func validIdent(s string) bool {
	if s == "" || !isIdentStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isIdent(s[i]) {
			return false
		}
	}
	return true
}

// ComposePrompt renders a prompt template with $model_input. An empty
// template means "$model_input".
func ComposePrompt(tmpl, modelInput string) (string, error) {
	if tmpl == "" {
		tmpl = "$model_input"
	}
	return Template(tmpl).Substitute(map[string]string{"model_input": modelInput})
}
