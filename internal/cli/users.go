package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// The users commands manage SCRAM credentials (KIP-554) through
// AlterUserScramCredentials and DescribeUserScramCredentials, as
// kafka-configs.sh --entity-type users does with
// --add-config 'SCRAM-SHA-512=[password=...]'. The password is salted and
// hashed here; the broker never sees it.

func (a *app) usersCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "users",
		Short: "Create, list and delete SCRAM users (SASL SCRAM-SHA-256/512 credentials)",
		Long: `Manage the SCRAM credentials clients authenticate with (SASL SCRAM-SHA-256 and
SCRAM-SHA-512), as kafka-configs.sh --entity-type users does. Credentials live in
the cluster's metadata log, so every broker knows them at once. The password is
salted and hashed by this command; neither the broker nor the metadata log ever
holds it.

  sluice users create alice --scram-password-stdin <password.txt
  sluice users list
  sluice users delete alice`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(a.usersCreateCmd(), a.usersListCmd(), a.usersDeleteCmd())
	return cmd
}

// scramMechanisms parses --mechanism values: SCRAM-SHA-256, SCRAM-SHA-512,
// comma-separated or repeated.
func scramMechanisms(vals []string) ([]kadm.ScramMechanism, error) {
	var out []kadm.ScramMechanism
	seen := map[kadm.ScramMechanism]bool{}
	for _, v := range vals {
		for _, s := range strings.Split(v, ",") {
			var m kadm.ScramMechanism
			switch strings.ToUpper(strings.TrimSpace(s)) {
			case "":
				continue
			case mechScram256:
				m = kadm.ScramSha256
			case mechScram512:
				m = kadm.ScramSha512
			default:
				return nil, fmt.Errorf("--mechanism %q: want %s or %s", s, mechScram256, mechScram512)
			}
			if !seen[m] {
				seen[m] = true
				out = append(out, m)
			}
		}
	}
	return out, nil
}

func (a *app) usersCreateCmd() *cobra.Command {
	var (
		mechanisms    []string
		iterations    int32
		password      string
		passwordStdin bool
	)
	cmd := &cobra.Command{
		Use:   "create USER",
		Short: "Create a SCRAM user, or change its password",
		Long: `Create SCRAM credentials for USER, one per mechanism (both SCRAM-SHA-256 and
SCRAM-SHA-512 unless --mechanism says), as
kafka-configs.sh --alter --add-config 'SCRAM-SHA-512=[iterations=4096,password=...]'
--entity-type users --entity-name USER does. A user that has a credential for a
mechanism gets a new one: this is also how a password is changed.

The new user's password comes from --scram-password-stdin (the first line of
standard input), from the environment variable SLUICE_SCRAM_PASSWORD, or from
--scram-password, which other users of the machine can see in the process list.
It is not the password of --user, which this command authenticates with.`,
		Example: `  echo "$ALICE_PASSWORD" | sluice users create alice --scram-password-stdin
  SLUICE_SCRAM_PASSWORD=alice-secret sluice users create alice --mechanism SCRAM-SHA-512 --iterations 8192
  sluice users create alice --scram-password-stdin --tls-ca ca.pem --sasl-mechanism PLAIN --user admin <alice.txt`,
		Args: cobra.ExactArgs(1),
	}
	cf := a.addClientFlags(cmd)
	fl := cmd.Flags()
	fl.StringArrayVar(&mechanisms, "mechanism", nil, "SCRAM-SHA-256 or SCRAM-SHA-512, repeatable or comma-separated (default: both)")
	fl.Int32Var(&iterations, "iterations", 4096, "PBKDF2 iterations of the salted password, 4096 to 16384")
	fl.StringVar(&password, "scram-password", "", "the new user's password (prefer --scram-password-stdin or SLUICE_SCRAM_PASSWORD)")
	fl.BoolVar(&passwordStdin, "scram-password-stdin", false, "read the new user's password from the first line of standard input")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		user := args[0]
		mechs, err := scramMechanisms(mechanisms)
		if err != nil {
			return err
		}
		if len(mechs) == 0 {
			mechs = []kadm.ScramMechanism{kadm.ScramSha256, kadm.ScramSha512}
		}
		if iterations < 4096 || iterations > 16384 {
			return fmt.Errorf("--iterations %d: want 4096 to 16384, as Kafka's brokers accept", iterations)
		}
		pw, err := a.newUserPassword(cmd.InOrStdin(), password, passwordStdin)
		if err != nil {
			return err
		}
		ctx, cancel := signalContext(cmd)
		defer cancel()
		cl, adm, err := cf.client()
		if err != nil {
			return err
		}
		defer cl.Close()
		// One request per mechanism: the broker refuses a user altered
		// twice in one request (DUPLICATE_RESOURCE), as Kafka's does.
		for _, m := range mechs {
			res, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: user, Mechanism: m, Iterations: iterations, Password: pw}})
			if err != nil {
				return cf.explain(err)
			}
			r, ok := res[user]
			switch {
			case !ok:
				return fmt.Errorf("user %s: no answer from the broker", user)
			case r.Err != nil:
				return fmt.Errorf("%s credential of user %s: %w", m, user, brokerErr(r.Err, r.ErrMessage))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Set the %s credential of user %s (%d iterations).\n", m, user, iterations)
		}
		return nil
	}
	return cmd
}

// newUserPassword is the password of users create: --scram-password-stdin,
// then --scram-password, then SLUICE_SCRAM_PASSWORD.
func (a *app) newUserPassword(stdin io.Reader, flag string, fromStdin bool) (string, error) {
	if fromStdin {
		if flag != "" {
			return "", errors.New("give the password once: --scram-password or --scram-password-stdin")
		}
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read the password from standard input: %w", err)
		}
		pw := strings.TrimRight(line, "\r\n")
		if pw == "" {
			return "", errors.New("--scram-password-stdin: standard input's first line is empty")
		}
		return pw, nil
	}
	if flag != "" {
		return flag, nil
	}
	if pw := envOr(a.environ, "SLUICE_SCRAM_PASSWORD", ""); pw != "" {
		return pw, nil
	}
	return "", errors.New("give the new user's password: --scram-password-stdin, SLUICE_SCRAM_PASSWORD, or --scram-password")
}

func (a *app) usersListCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list [USER...]",
		Short: "List SCRAM users and the mechanisms and iterations of their credentials",
		Long: `List the users that have SCRAM credentials (or only those named), one line each
with the mechanisms and iterations of their credentials, as kafka-configs.sh
--describe --entity-type users prints them. Salts and keys are never shown.`,
		Example: `  sluice users list
  sluice users list alice bob`,
	}
	cf := a.addClientFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		ctx, cancel := signalContext(cmd)
		defer cancel()
		cl, adm, err := cf.client()
		if err != nil {
			return err
		}
		defer cl.Close()
		res, err := adm.DescribeUserSCRAMs(ctx, args...)
		if err != nil {
			return cf.explain(err)
		}
		failed := 0
		for _, d := range res.Sorted() {
			if d.Err != nil {
				failed++
				if errors.Is(d.Err, kerr.ResourceNotFound) {
					fmt.Fprintf(cmd.ErrOrStderr(), "User %s has no SCRAM credentials.\n", d.User)
					continue
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "Error describing user %s: %v\n", d.User, brokerErr(d.Err, d.ErrMessage))
				continue
			}
			fmt.Fprintf(cmd.OutOrStdout(), "SCRAM credential configs for user-principal '%s' are %s\n", d.User, credInfos(d.CredInfos))
		}
		if failed > 0 {
			return fmt.Errorf("%d of %d users not described", failed, len(res))
		}
		return nil
	}
	return cmd
}

// credInfos renders a user's credentials as Kafka's tools do:
// SCRAM-SHA-256=iterations=4096, SCRAM-SHA-512=iterations=8192.
func credInfos(cs []kadm.CredInfo) string {
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = c.String()
	}
	sort.Strings(s)
	return strings.Join(s, ", ")
}

func (a *app) usersDeleteCmd() *cobra.Command {
	var (
		mechanisms []string
		ifExists   bool
	)
	cmd := &cobra.Command{
		Use:   "delete USER...",
		Short: "Delete SCRAM users' credentials",
		Long: `Delete the SCRAM credentials of users: all of them, or those of --mechanism, as
kafka-configs.sh --alter --delete-config SCRAM-SHA-512 --entity-type users does.
Connections already authenticated stay open until they re-authenticate
(connections.max.reauth.ms) or close; ACLs naming the user stay.`,
		Example: `  sluice users delete alice
  sluice users delete alice --mechanism SCRAM-SHA-256`,
		Args: cobra.MinimumNArgs(1),
	}
	cf := a.addClientFlags(cmd)
	cmd.Flags().StringArrayVar(&mechanisms, "mechanism", nil, "delete only this mechanism's credential, SCRAM-SHA-256 or SCRAM-SHA-512 (default: every one the user has)")
	cmd.Flags().BoolVar(&ifExists, "if-exists", false, "succeed for a user without credentials")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		only, err := scramMechanisms(mechanisms)
		if err != nil {
			return err
		}
		ctx, cancel := signalContext(cmd)
		defer cancel()
		cl, adm, err := cf.client()
		if err != nil {
			return err
		}
		defer cl.Close()
		failed := 0
		for _, user := range args {
			if err := deleteUser(ctx, cmd.OutOrStdout(), adm, user, only, ifExists); err != nil {
				var ke *kerr.Error // the broker's answer for this user: report it, go on
				if !errors.As(err, &ke) && !errors.Is(err, errNoCredentials) {
					return cf.explain(err)
				}
				failed++
				fmt.Fprintf(cmd.ErrOrStderr(), "Error deleting user %s: %v\n", user, err)
			}
		}
		if failed > 0 {
			return fmt.Errorf("%d of %d users not deleted", failed, len(args))
		}
		return nil
	}
	return cmd
}

var errNoCredentials = errors.New("no SCRAM credentials (RESOURCE_NOT_FOUND)")

// deleteUser deletes user's credentials of the mechanisms in only (every one
// it has when only is empty), one request per mechanism.
func deleteUser(ctx context.Context, out io.Writer, adm *kadm.Client, user string, only []kadm.ScramMechanism, ifExists bool) error {
	mechs := only
	if len(mechs) == 0 {
		res, err := adm.DescribeUserSCRAMs(ctx, user)
		if err != nil {
			return err
		}
		d := res[user]
		switch {
		case errors.Is(d.Err, kerr.ResourceNotFound) || (d.Err == nil && len(d.CredInfos) == 0):
			if ifExists {
				return nil
			}
			return errNoCredentials
		case d.Err != nil:
			return brokerErr(d.Err, d.ErrMessage)
		}
		for _, c := range d.CredInfos {
			mechs = append(mechs, c.Mechanism)
		}
	}
	for _, m := range mechs {
		res, err := adm.AlterUserSCRAMs(ctx, []kadm.DeleteSCRAM{{User: user, Mechanism: m}}, nil)
		if err != nil {
			return err
		}
		r, ok := res[user]
		switch {
		case !ok:
			return fmt.Errorf("no answer from the broker")
		case errors.Is(r.Err, kerr.ResourceNotFound) && ifExists:
			continue
		case r.Err != nil:
			return fmt.Errorf("%s: %w", m, brokerErr(r.Err, r.ErrMessage))
		}
		fmt.Fprintf(out, "Deleted the %s credential of user %s.\n", m, user)
	}
	return nil
}
