package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/outcrop/outcrop/internal/flow"
)

func init() {
	register("flows", "work with Bedrock flow definitions (validate FILE)", runFlows)
}

// errInvalidFlow is returned when a definition has Error findings; main
// exits non-zero.
var errInvalidFlow = errors.New("flow definition has errors")

func flowsUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: outcrop flows validate FILE.json")
	fmt.Fprintln(w, "\nvalidate  check a flow definition (a FlowDefinition, or a CreateFlow/UpdateFlow body with")
	fmt.Fprintln(w, "          a definition member; - for stdin) the way PrepareFlow does; prints the")
	fmt.Fprintln(w, "          ValidateFlowDefinition response and fails when a finding is an Error")
}

func runFlows(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		flowsUsage(env.Stdout)
		if len(args) == 0 {
			return ErrUsage
		}
		return nil
	}
	if args[0] != "validate" || len(args) != 2 {
		flowsUsage(env.Stderr)
		return fmt.Errorf("flows: want validate FILE: %w", ErrUsage)
	}
	var data []byte
	var err error
	if args[1] == "-" {
		data, err = io.ReadAll(io.LimitReader(env.Stdin, 64<<20))
	} else {
		data, err = os.ReadFile(args[1])
	}
	if err != nil {
		return fmt.Errorf("flows validate: %w", err)
	}
	var wrapper struct {
		Definition json.RawMessage `json:"definition"`
	}
	if json.Unmarshal(data, &wrapper) == nil && len(wrapper.Definition) > 0 {
		data = wrapper.Definition
	}
	def, err := flow.ParseDefinition(data)
	if err != nil {
		return fmt.Errorf("flows validate %s: %w", args[1], err)
	}
	vs := flow.Validate(def)
	if vs == nil {
		vs = []flow.Validation{}
	}
	out, _ := json.MarshalIndent(map[string]any{"validations": vs}, "", "  ")
	fmt.Fprintln(env.Stdout, string(out))
	if flow.HasErrors(vs) {
		return errInvalidFlow
	}
	return nil
}
