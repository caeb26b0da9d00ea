package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/outcrop/outcrop/internal/guardrail"
)

func init() {
	register("guardrails", "manage guardrails (Bedrock CreateGuardrail…) and apply them to text", runGuardrails)
}

// guardrailCommands are the guardrails subcommands, named after the Bedrock
// operations they perform.
var guardrailCommands = []struct {
	name, args, summary string
	nargs               int
	run                 func(ctx context.Context, env *Env, reg *guardrail.Registry, args []string, o guardrailFlags) error
}{
	{"create", "FILE.json", "create a guardrail from a CreateGuardrail request body (- for stdin)", 1, guardrailsCreate},
	{"get", "ID", "print a guardrail version (GetGuardrail shape)", 1, guardrailsGet},
	{"list", "", "list guardrails, or the versions of --id", 0, guardrailsList},
	{"update", "ID FILE.json", "replace the DRAFT from an UpdateGuardrail request body (- for stdin)", 2, guardrailsUpdate},
	{"version", "ID", "freeze the DRAFT as the next numbered version", 1, guardrailsVersion},
	{"delete", "ID", "delete a guardrail, or only --version N", 1, guardrailsDelete},
	{"apply", "ID TEXT", "apply a guardrail version to TEXT (- for stdin) and print the ApplyGuardrail response", 2, guardrailsApply},
}

type guardrailFlags struct {
	version     string
	id          string
	description string
	source      string
	full        bool
}

func guardrailsUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: outcrop guardrails <command> [flags] [args]")
	fmt.Fprintln(w, "\nCommands work on the store the server uses ($OUTCROP_HOME/outcrop.db or the configured database), also while it runs.")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range guardrailCommands {
		fmt.Fprintf(w, "  %-8s %-14s %s\n", c.name, c.args, c.summary)
	}
}

func runGuardrails(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		guardrailsUsage(env.Stdout)
		if len(args) == 0 {
			return ErrUsage
		}
		return nil
	}
	idx := -1
	for i, c := range guardrailCommands {
		if c.name == args[0] {
			idx = i
		}
	}
	if idx < 0 {
		guardrailsUsage(env.Stderr)
		return fmt.Errorf("unknown guardrails command %q: %w", args[0], ErrUsage)
	}
	c := guardrailCommands[idx]
	fs := newFlagSet(env, "guardrails "+c.name, "guardrails "+c.name+" [flags] "+c.args)
	cfgPath := fs.String("config", env.Getenv("OUTCROP_CONFIG"), "configuration file (YAML) naming the store; default: $OUTCROP_HOME/outcrop.db")
	var o guardrailFlags
	switch c.name {
	case "get", "apply":
		fs.StringVar(&o.version, "version", "DRAFT", "guardrail version: DRAFT or a number")
	case "delete":
		fs.StringVar(&o.version, "version", "", "delete only this numbered version")
	case "list":
		fs.StringVar(&o.id, "id", "", "list the versions of this guardrail")
	case "version":
		fs.StringVar(&o.description, "description", "", "description of the new version")
	}
	if c.name == "apply" {
		fs.StringVar(&o.source, "source", "INPUT", "INPUT (a prompt) or OUTPUT (a model answer)")
		fs.BoolVar(&o.full, "full", false, "outputScope FULL: list non-detected filters and topics too")
	}
	pos, err := parseFlags(fs, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(pos) != c.nargs {
		fs.Usage()
		return fmt.Errorf("guardrails %s takes %d argument(s): %s: %w", c.name, c.nargs, c.args, ErrUsage)
	}
	cfg, db, err := openStore(ctx, env, *cfgPath)
	if err != nil {
		return err
	}
	defer db.Close()
	reg := guardrail.NewRegistry(db, guardrail.RegistryOptions{Region: cfg.Server.Region, AccountID: cfg.Server.AccountID})
	return c.run(ctx, env, reg, pos, o)
}

// readArg reads a file argument, or stdin for "-".
func readArg(env *Env, arg string) ([]byte, error) {
	if arg == "-" {
		return io.ReadAll(env.Stdin)
	}
	return os.ReadFile(arg)
}

func readDefinition(env *Env, arg string) (*guardrail.Definition, error) {
	b, err := readArg(env, arg)
	if err != nil {
		return nil, err
	}
	var d guardrail.Definition
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("%s: %w", arg, err)
	}
	return &d, nil
}

func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

func guardrailsCreate(ctx context.Context, env *Env, reg *guardrail.Registry, args []string, _ guardrailFlags) error {
	d, err := readDefinition(env, args[0])
	if err != nil {
		return err
	}
	g, err := reg.Create(ctx, d)
	if err != nil {
		return err
	}
	return printJSON(env.Stdout, map[string]any{"guardrailId": g.GuardrailID, "guardrailArn": g.GuardrailARN, "version": g.Version, "createdAt": g.CreatedAt})
}

func guardrailsGet(ctx context.Context, env *Env, reg *guardrail.Registry, args []string, o guardrailFlags) error {
	g, err := reg.Get(ctx, args[0], o.version)
	if err != nil {
		return err
	}
	return printJSON(env.Stdout, g)
}

func guardrailsList(ctx context.Context, env *Env, reg *guardrail.Registry, _ []string, o guardrailFlags) error {
	items, _, err := reg.List(ctx, o.id, 1000, "")
	if err != nil {
		return err
	}
	if items == nil {
		items = []guardrail.Summary{}
	}
	return printJSON(env.Stdout, map[string]any{"guardrails": items})
}

func guardrailsUpdate(ctx context.Context, env *Env, reg *guardrail.Registry, args []string, _ guardrailFlags) error {
	d, err := readDefinition(env, args[1])
	if err != nil {
		return err
	}
	g, err := reg.Update(ctx, args[0], d)
	if err != nil {
		return err
	}
	return printJSON(env.Stdout, map[string]any{"guardrailId": g.GuardrailID, "guardrailArn": g.GuardrailARN, "version": g.Version, "updatedAt": g.UpdatedAt})
}

func guardrailsVersion(ctx context.Context, env *Env, reg *guardrail.Registry, args []string, o guardrailFlags) error {
	v, err := reg.CreateVersion(ctx, args[0], o.description)
	if err != nil {
		return err
	}
	return printJSON(env.Stdout, map[string]any{"guardrailId": args[0], "version": v})
}

func guardrailsDelete(ctx context.Context, env *Env, reg *guardrail.Registry, args []string, o guardrailFlags) error {
	return reg.Delete(ctx, args[0], o.version)
}

func guardrailsApply(ctx context.Context, env *Env, reg *guardrail.Registry, args []string, o guardrailFlags) error {
	text := args[1]
	if text == "-" {
		b, err := io.ReadAll(env.Stdin)
		if err != nil {
			return err
		}
		text = string(b)
	}
	c, err := reg.Compiled(ctx, args[0], o.version)
	if err != nil {
		return err
	}
	scope := ""
	if o.full {
		scope = "FULL"
	}
	var e guardrail.Engine
	res, err := e.Apply(ctx, c, &guardrail.ApplyRequest{Source: guardrail.Source(o.source), OutputScope: scope,
		Content: []guardrail.Content{{Text: &guardrail.TextContent{Text: text}}}})
	if err != nil {
		return err
	}
	return printJSON(env.Stdout, res)
}
