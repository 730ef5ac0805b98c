package main

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sixtyfour-oss/webhooks/internal/config"
	"github.com/sixtyfour-oss/webhooks/internal/secrets"
	"github.com/sixtyfour-oss/webhooks/pkg/envelope"
)

// secrets runs the signing-secret operations.
func (c *cli) secrets(args []string) error {
	if len(args) == 0 {
		return usagef("secrets needs a subcommand: create, roll, delete, show or reencrypt")
	}
	op := args[0]
	switch op {
	case "create", "roll", "delete", "show":
	case "reencrypt":
		return c.reencrypt(args[1:])
	default:
		return usagef("unknown secrets subcommand %q (want create, roll, delete, show or reencrypt)", op)
	}
	fs := newFlags("secrets " + op)
	org := fs.String("org", "", "organization id (required)")
	overlapHours := fs.Float64("overlap-hours", secrets.DefaultOverlap.Hours(), "roll: hours the old secret keeps signing, 0..72")
	yes := fs.Bool("yes", false, "delete: do not ask for confirmation")
	asJSON := fs.Bool("json", false, "show: print JSON")
	if rest, err := parse(fs, args[1:]); err != nil {
		return err
	} else if len(rest) > 0 {
		return usagef("secrets %s: unexpected argument %q", op, rest[0])
	}
	switch {
	case *org == "":
		return usagef("secrets %s needs --org", op)
	case !envelope.ValidOrgID(*org):
		return usagef("--org %q must match [A-Za-z0-9_-]{1,64}", *org)
	case *overlapHours < 0 || *overlapHours > secrets.MaxOverlap.Hours():
		return usagef("--overlap-hours %v is outside 0..%v", *overlapHours, secrets.MaxOverlap.Hours())
	}
	m, done, err := c.secretsManager(op == "create" || op == "roll", op == "create")
	if errors.Is(err, errNoSecretsYet) {
		return fmt.Errorf("organization %s has no signing secret: %w (create one with: webhooksctl secrets create --org %s); nothing was changed", *org, err, *org)
	}
	if err != nil {
		return err
	}
	defer done()
	switch op {
	case "create":
		plaintext, meta, err := m.Create(c.ctx, *org)
		return c.printNewSecret(plaintext, meta, err, *org)
	case "roll":
		overlap := time.Duration(*overlapHours * float64(time.Hour))
		plaintext, meta, err := m.Roll(c.ctx, *org, overlap)
		if err == nil {
			fmt.Fprintf(c.errOut, "The previous secret keeps signing (second v1) for %s.\n", overlap)
		}
		return c.printNewSecret(plaintext, meta, err, *org)
	case "delete":
		if !*yes && !c.confirm(fmt.Sprintf("Revoke every signing secret of %s? Its deliveries go out unsigned until a new secret is created.", *org)) {
			return errors.New("aborted: nothing was changed")
		}
		if err := m.Delete(c.ctx, *org); err != nil {
			return secretsError(err, *org)
		}
		fmt.Fprintf(c.out, "Revoked the signing secrets of %s; its deliveries are now unsigned.\n", *org)
		return nil
	default:
		metas, err := m.Show(c.ctx, *org)
		if err != nil {
			return secretsError(err, *org)
		}
		if *asJSON {
			return printJSON(c.out, metas)
		}
		c.printMetas(metas)
		return nil
	}
}

// errNoSecretsYet means the signing-secret bucket does not exist: no secret
// was ever created on this server. It matches secrets.ErrNoSecret too.
var errNoSecretsYet error = noSecretsYet{}

// noSecretsYet is errNoSecretsYet's type.
type noSecretsYet struct{}

// Error says that no secret exists on the server.
func (noSecretsYet) Error() string { return "no signing secrets exist on this server yet" }

// Is makes errors.Is(err, secrets.ErrNoSecret) true: no organization has one.
func (noSecretsYet) Is(target error) bool { return target == secrets.ErrNoSecret }

// secretsManager connects and returns a Manager; with needKey, the master
// keyring is loaded first, so a missing key fails before anything else.
// With create, a missing signing-secret bucket is created (as every
// deliverer and publisher creates it at start-up); without, a missing one
// is errNoSecretsYet and nothing is created.
func (c *cli) secretsManager(needKey, create bool) (*secrets.Manager, func(), error) {
	settings, log, gate, err := c.settings()
	if err != nil {
		return nil, nil, err
	}
	var keyring *secrets.Keyring
	if needKey {
		if keyring, err = settings.Keyring(log); err != nil {
			if errors.Is(err, config.ErrNoMasterKey) {
				return nil, nil, fmt.Errorf("%w; nothing was changed", err)
			}
			return nil, nil, err
		}
	}
	s, err := c.connectWith(settings, log, gate)
	if err != nil {
		return nil, nil, err
	}
	kv, err := s.js.KeyValue(c.ctx, s.streams.SecretsBucket)
	switch {
	case errors.Is(err, jetstream.ErrBucketNotFound) && create:
		kv, err = s.js.CreateOrUpdateKeyValue(c.ctx, s.streams.SecretsBucketConfig())
		if err == nil {
			fmt.Fprintf(c.errOut, "Created the signing-secret bucket %s (the first secret on this server).\n", s.streams.SecretsBucket)
		}
	case errors.Is(err, jetstream.ErrBucketNotFound):
		s.close()
		return nil, nil, errNoSecretsYet
	}
	if err != nil {
		s.close()
		return nil, nil, explain(fmt.Errorf("open bucket %s: %w", s.streams.SecretsBucket, err))
	}
	return &secrets.Manager{KV: kv, Keyring: keyring, Now: c.now}, s.close, nil
}

// printNewSecret prints the plaintext alone on stdout, once, and the
// metadata and warning on stderr.
func (c *cli) printNewSecret(plaintext string, meta secrets.Meta, err error, org string) error {
	if err != nil {
		return secretsError(err, org)
	}
	fmt.Fprintf(c.errOut, "New signing secret %s for %s (%s). It is printed below ONCE and will not be shown again: store it now.\n",
		meta.ID, meta.OrgID, meta.Preview)
	fmt.Fprintln(c.out, plaintext)
	return nil
}

// printMetas writes the secrets' metadata as a table.
func (c *cli) printMetas(metas []secrets.Meta) {
	tw := tabwriter.NewWriter(c.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tORG\tPREVIEW\tSTATUS\tCREATED\tEXPIRES\tREVOKED")
	when := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	for _, m := range metas {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.ID, m.OrgID, m.Preview, m.Status,
			m.CreatedAt.UTC().Format(time.RFC3339), when(m.ExpiresAt), when(m.RevokedAt))
	}
	_ = tw.Flush()
}

// secretsError turns the Manager's sentinels into operator messages.
func secretsError(err error, org string) error {
	switch {
	case errors.Is(err, secrets.ErrNoSecret):
		return fmt.Errorf("organization %s has no signing secret to use here (create one with: webhooksctl secrets create --org %s); nothing was changed", org, org)
	case errors.Is(err, secrets.ErrCorruptRecord):
		return fmt.Errorf("%w; the record was left alone for inspection", err)
	case errors.Is(err, secrets.ErrConflict):
		return fmt.Errorf("%w; someone else changed the secrets at the same time: try again", err)
	}
	return err
}

// reencrypt rewrites every organization's secrets under the primary master
// key (the first of WEBHOOKS_MASTER_KEY): the last step of a master key
// rotation, after which the old key can be removed from the list.
func (c *cli) reencrypt(args []string) error {
	fs := newFlags("secrets reencrypt")
	if rest, err := parse(fs, args); err != nil {
		return err
	} else if len(rest) > 0 {
		return usagef("secrets reencrypt: unexpected argument %q", rest[0])
	}
	m, done, err := c.secretsManager(true, false)
	if errors.Is(err, errNoSecretsYet) {
		fmt.Fprintln(c.out, "Nothing to rewrite: no signing secrets exist on this server yet.")
		return nil
	}
	if err != nil {
		return err
	}
	defer done()
	n, err := m.Reencrypt(c.ctx)
	if err != nil {
		return fmt.Errorf("reencrypt (%d records rewritten before the error): %w", n, err)
	}
	fmt.Fprintf(c.out, "Rewrote %d organization records under master key %s.\n", n, m.Keyring.PrimaryID())
	return nil
}
