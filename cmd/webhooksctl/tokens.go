package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/internal/apitoken"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// errNoTokensYet means the API-token bucket does not exist: no token was
// ever created on this server.
var errNoTokensYet = errors.New("no API token exists on this server yet")

// tokens runs the API-token operations: create, list, revoke.
func (c *cli) tokens(args []string) error {
	if len(args) == 0 {
		return usagef("tokens needs a subcommand: create, list or revoke")
	}
	op, args := args[0], args[1:]
	switch op {
	case "create":
		return c.createToken(args)
	case "list":
		return c.listTokens(args)
	case "revoke":
		return c.revokeToken(args)
	}
	return usagef("unknown tokens subcommand %q (want create, list or revoke)", op)
}

// createToken makes a token and prints it once, alone on stdout.
func (c *cli) createToken(args []string) error {
	fs := newFlags("tokens create")
	name := fs.String("name", "", "what the token is for, such as \"acme support portal\" (required)")
	operator := fs.Bool("operator", false, "an operator token: every organization, secrets, replay and purge")
	org := fs.String("org", "", "an organization token: this organization's deliveries, attempts, undelivered events and secret metadata")
	replay := fs.Bool("replay", false, "with --org: the token may also replay its organization's undelivered events")
	if rest, err := parse(fs, args); err != nil {
		return err
	} else if len(rest) > 0 {
		return usagef("tokens create: unexpected argument %q", rest[0])
	}
	spec := apitoken.Spec{Name: *name, OrgID: *org, Replay: *replay}
	switch {
	case *name == "":
		return usagef("tokens create needs --name")
	case *operator == (*org != ""):
		return usagef("tokens create needs exactly one of --operator or --org ORG")
	case *org != "" && !envelope.ValidOrgID(*org):
		return usagef("--org %q must match [A-Za-z0-9_-]{1,64}", *org)
	case *operator && *replay:
		return usagef("--replay is for organization tokens; an operator token always may replay")
	case *operator:
		spec.Scope = apitoken.ScopeOperator
	default:
		spec.Scope = apitoken.ScopeOrg
	}
	if err := spec.Validate(); err != nil {
		return usageError{err}
	}
	st, done, err := c.tokenStore(true)
	if err != nil {
		return err
	}
	defer done()
	token, rec, err := st.Create(c.ctx, spec)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.errOut, "New %s token %s (%s). It is printed below ONCE and will not be shown again: store it now.\n",
		describeScope(rec), rec.ID, rec.Name)
	fmt.Fprintln(c.out, token)
	return nil
}

// listTokens prints every token's metadata (never a token or its digest).
func (c *cli) listTokens(args []string) error {
	fs := newFlags("tokens list")
	asJSON := fs.Bool("json", false, "print JSON")
	if rest, err := parse(fs, args); err != nil {
		return err
	} else if len(rest) > 0 {
		return usagef("tokens list: unexpected argument %q", rest[0])
	}
	st, done, err := c.tokenStore(false)
	if errors.Is(err, errNoTokensYet) {
		if *asJSON {
			fmt.Fprintln(c.out, "[]")
		} else {
			fmt.Fprintln(c.out, "No API tokens yet (create one with: webhooksctl tokens create --name NAME --org ORG).")
		}
		return nil
	}
	if err != nil {
		return err
	}
	defer done()
	recs, err := st.List(c.ctx)
	if err != nil {
		return err
	}
	for i := range recs {
		recs[i].Hash = "" // the digest is no one's business
	}
	if *asJSON {
		b, _ := json.MarshalIndent(recs, "", "  ")
		fmt.Fprintln(c.out, string(b))
		return nil
	}
	tw := tabwriter.NewWriter(c.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tSCOPE\tCREATED\tLAST USED")
	for _, r := range recs {
		last := "never"
		if r.LastUsedAt != nil {
			last = r.LastUsedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.ID, r.Name, describeScope(r), r.CreatedAt.UTC().Format(time.RFC3339), last)
	}
	return tw.Flush()
}

// revokeToken deletes a token; its next request is refused.
func (c *cli) revokeToken(args []string) error {
	fs := newFlags("tokens revoke")
	yes := fs.Bool("yes", false, "do not ask for confirmation")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usagef("tokens revoke needs one token id (see webhooksctl tokens list)")
	}
	id := rest[0]
	if !apitoken.ValidID(id) {
		return usagef("token id %q must be 16 lowercase hex digits, as webhooksctl tokens list shows it", id)
	}
	st, done, err := c.tokenStore(false)
	if errors.Is(err, errNoTokensYet) {
		return fmt.Errorf("no token %s: %w; nothing was changed", id, err)
	}
	if err != nil {
		return err
	}
	defer done()
	if !*yes && !c.confirm("Revoke token "+id+"? Requests with it will be refused.") {
		return errors.New("not revoked")
	}
	if err := st.Revoke(c.ctx, id); errors.Is(err, apitoken.ErrNotFound) {
		return fmt.Errorf("no token %s (see webhooksctl tokens list); nothing was changed", id)
	} else if err != nil {
		return err
	}
	fmt.Fprintf(c.errOut, "Revoked token %s.\n", id)
	return nil
}

// tokenStore connects and opens the token bucket; with create, a missing
// bucket is created (as every publisher creates it at start-up), without,
// it is errNoTokensYet.
func (c *cli) tokenStore(create bool) (*apitoken.Store, func(), error) {
	s, err := c.connect()
	if err != nil {
		return nil, nil, err
	}
	kv, err := s.js.KeyValue(c.ctx, s.streams.TokensBucket)
	switch {
	case errors.Is(err, jetstream.ErrBucketNotFound) && create:
		kv, err = s.js.CreateOrUpdateKeyValue(c.ctx, s.streams.TokensBucketConfig())
	case errors.Is(err, jetstream.ErrBucketNotFound):
		s.close()
		return nil, nil, errNoTokensYet
	}
	if err != nil {
		s.close()
		return nil, nil, explain(fmt.Errorf("open bucket %s: %w", s.streams.TokensBucket, err))
	}
	return apitoken.NewStore(kv, apitoken.StoreOptions{Now: c.now}), s.close, nil
}

// describeScope says what a token reaches.
func describeScope(r apitoken.Record) string {
	switch {
	case r.Scope == apitoken.ScopeOperator:
		return "operator"
	case r.Replay:
		return "org " + r.OrgID + " (may replay)"
	}
	return "org " + r.OrgID
}
