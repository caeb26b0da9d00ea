package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/outcrop/outcrop/internal/auth"
)

func init() {
	register("auth", "manage principals, access keys, API keys and policies", runAuth)
}

// authCommands are the auth subcommands: synopsis (after "auth NAME"),
// number of positional arguments, and the function.
var authCommands = []struct {
	name, args, summary string
	nargs               int
	run                 func(ctx context.Context, env *Env, st *auth.Store, args []string, o authFlags) error
}{
	{"add-principal", "NAME", "create a principal", 1, authAddPrincipal},
	{"delete-principal", "NAME", "delete a principal with its keys and policies", 1, authDeletePrincipal},
	{"list-principals", "", "list principals", 0, authListPrincipals},
	{"create-access-key", "NAME", "create an access key (AWS SigV4); the secret is shown only now", 1, authCreateAccessKey},
	{"list-access-keys", "NAME", "list a principal's access keys", 1, authListAccessKeys},
	{"update-access-key", "NAME KEY_ID Active|Inactive", "activate or deactivate an access key", 3, authUpdateAccessKey},
	{"delete-access-key", "NAME KEY_ID", "delete an access key", 2, authDeleteAccessKey},
	{"create-api-key", "NAME", "create a bearer API key; the key is shown only now", 1, authCreateAPIKey},
	{"list-api-keys", "NAME", "list a principal's API keys", 1, authListAPIKeys},
	{"revoke-api-key", "NAME KEY_ID", "revoke an API key", 2, authRevokeAPIKey},
	{"attach-policy", "NAME FILE.json", "attach an IAM-style policy (named after the file, or --policy-name)", 2, authAttachPolicy},
	{"detach-policy", "NAME POLICY", "detach a policy", 2, authDetachPolicy},
	{"list-policies", "NAME", "list a principal's policies with their documents", 1, authListPolicies},
}

type authFlags struct {
	expires    time.Duration
	policyName string
}

func authUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: outcrop auth <command> [--config FILE] [args]")
	fmt.Fprintln(w, "\nCommands work on the store the server uses ($OUTCROP_HOME/outcrop.db or the configured database), also while it runs.")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range authCommands {
		fmt.Fprintf(w, "  %-18s %-28s %s\n", c.name, c.args, c.summary)
	}
}

func runAuth(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		authUsage(env.Stdout)
		if len(args) == 0 {
			return ErrUsage
		}
		return nil
	}
	name := args[0]
	idx := -1
	for i, c := range authCommands {
		if c.name == name {
			idx = i
		}
	}
	if idx < 0 {
		authUsage(env.Stderr)
		return fmt.Errorf("unknown auth command %q: %w", name, ErrUsage)
	}
	c := authCommands[idx]
	fs := newFlagSet(env, "auth "+c.name, "auth "+c.name+" "+c.args+" [--config FILE]")
	cfgPath := fs.String("config", env.Getenv("OUTCROP_CONFIG"), "configuration file (YAML) naming the store; default: $OUTCROP_HOME/outcrop.db")
	var o authFlags
	if c.name == "create-access-key" || c.name == "create-api-key" {
		fs.DurationVar(&o.expires, "expires", 0, "lifetime of the key, e.g. 720h; 0 = never expires")
	}
	if c.name == "attach-policy" {
		fs.StringVar(&o.policyName, "policy-name", "", "policy name; default: the file name without .json")
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
		return fmt.Errorf("auth %s takes %d argument(s): %s: %w", c.name, c.nargs, c.args, ErrUsage)
	}
	cfg, db, err := openStore(ctx, env, *cfgPath)
	if err != nil {
		return err
	}
	defer db.Close()
	st, _, err := auth.OpenStore(cfg, db)
	if err != nil {
		return err
	}
	return c.run(ctx, env, st, pos, o)
}

func authPrintJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "    ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

func authTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func authAddPrincipal(ctx context.Context, env *Env, st *auth.Store, args []string, _ authFlags) error {
	if err := st.AddPrincipal(ctx, args[0]); err != nil {
		return err
	}
	return authPrintJSON(env.Stdout, map[string]any{"Principal": map[string]string{"Name": args[0], "Arn": auth.UserARN("", args[0])}})
}

func authDeletePrincipal(ctx context.Context, env *Env, st *auth.Store, args []string, _ authFlags) error {
	return st.DeletePrincipal(ctx, args[0])
}

func authListPrincipals(ctx context.Context, env *Env, st *auth.Store, _ []string, _ authFlags) error {
	ps, err := st.Principals(ctx)
	if err != nil {
		return err
	}
	out := []map[string]string{}
	for _, p := range ps {
		out = append(out, map[string]string{"Name": p.Name, "CreateDate": authTime(p.Created)})
	}
	return authPrintJSON(env.Stdout, map[string]any{"Principals": out})
}

func authCreateAccessKey(ctx context.Context, env *Env, st *auth.Store, args []string, o authFlags) error {
	k, err := st.CreateAccessKey(ctx, args[0], o.expires)
	if err != nil {
		return err
	}
	return authPrintJSON(env.Stdout, map[string]any{"AccessKey": map[string]string{
		"UserName": k.Principal, "AccessKeyId": k.AccessKeyID, "Status": k.Status,
		"SecretAccessKey": k.SecretAccessKey, "CreateDate": authTime(k.Created),
	}})
}

func authListAccessKeys(ctx context.Context, env *Env, st *auth.Store, args []string, _ authFlags) error {
	ks, err := st.ListAccessKeys(ctx, args[0])
	if err != nil {
		return err
	}
	out := []map[string]string{}
	for _, k := range ks {
		m := map[string]string{"UserName": k.Principal, "AccessKeyId": k.AccessKeyID, "Status": k.Status, "CreateDate": authTime(k.Created)}
		if !k.Expires.IsZero() {
			m["Expiration"] = authTime(k.Expires)
		}
		out = append(out, m)
	}
	return authPrintJSON(env.Stdout, map[string]any{"AccessKeyMetadata": out})
}

func authUpdateAccessKey(ctx context.Context, env *Env, st *auth.Store, args []string, _ authFlags) error {
	return st.SetAccessKeyStatus(ctx, args[0], args[1], args[2])
}

func authDeleteAccessKey(ctx context.Context, env *Env, st *auth.Store, args []string, _ authFlags) error {
	return st.DeleteAccessKey(ctx, args[0], args[1])
}

func authCreateAPIKey(ctx context.Context, env *Env, st *auth.Store, args []string, o authFlags) error {
	info, key, err := st.CreateAPIKey(ctx, args[0], o.expires)
	if err != nil {
		return err
	}
	return authPrintJSON(env.Stdout, map[string]string{"ApiKeyId": info.APIKeyID, "ApiKey": key})
}

func authListAPIKeys(ctx context.Context, env *Env, st *auth.Store, args []string, _ authFlags) error {
	ks, err := st.ListAPIKeys(ctx, args[0])
	if err != nil {
		return err
	}
	out := []map[string]string{}
	for _, k := range ks {
		m := map[string]string{"UserName": k.Principal, "ApiKeyId": k.APIKeyID, "Status": k.Status, "CreateDate": authTime(k.Created)}
		if !k.Expires.IsZero() {
			m["Expiration"] = authTime(k.Expires)
		}
		if !k.Revoked.IsZero() {
			m["RevokeDate"] = authTime(k.Revoked)
		}
		out = append(out, m)
	}
	return authPrintJSON(env.Stdout, map[string]any{"ApiKeys": out})
}

func authRevokeAPIKey(ctx context.Context, env *Env, st *auth.Store, args []string, _ authFlags) error {
	return st.RevokeAPIKey(ctx, args[0], args[1])
}

func authAttachPolicy(ctx context.Context, env *Env, st *auth.Store, args []string, o authFlags) error {
	var doc []byte
	var err error
	if args[1] == "-" {
		doc, err = io.ReadAll(env.Stdin)
	} else {
		doc, err = os.ReadFile(args[1])
	}
	if err != nil {
		return fmt.Errorf("read policy: %w", err)
	}
	name := o.policyName
	if name == "" {
		if args[1] == "-" {
			return fmt.Errorf("--policy-name is required when the policy is read from stdin: %w", ErrUsage)
		}
		name = strings.TrimSuffix(filepath.Base(args[1]), filepath.Ext(args[1]))
	}
	if err := st.AttachPolicy(ctx, args[0], name, doc); err != nil {
		return err
	}
	return authPrintJSON(env.Stdout, map[string]string{"UserName": args[0], "PolicyName": name})
}

func authDetachPolicy(ctx context.Context, env *Env, st *auth.Store, args []string, _ authFlags) error {
	return st.DetachPolicy(ctx, args[0], args[1])
}

func authListPolicies(ctx context.Context, env *Env, st *auth.Store, args []string, _ authFlags) error {
	ps, err := st.Policies(ctx, args[0])
	if err != nil {
		return err
	}
	out := []map[string]any{}
	for _, p := range ps {
		out = append(out, map[string]any{"PolicyName": p.Name, "PolicyDocument": json.RawMessage(p.Document), "CreateDate": authTime(p.Created)})
	}
	return authPrintJSON(env.Stdout, map[string]any{"Policies": out})
}
