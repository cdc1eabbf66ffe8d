package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// defaultBrokers is where the client commands look for a broker: the
// address `sluice server` listens on with no arguments.
const defaultBrokers = "127.0.0.1:9092"

// clientFlags are the connection settings every client command shares.
type clientFlags struct {
	brokers  string
	clientID string
	timeout  time.Duration
	security securityFlags
}

// addClientFlags registers --brokers (also spelled --bootstrap-server, as in
// Kafka's tools, and -b, as in kcat), --client-id, --timeout, and the TLS and
// SASL flags (clientauth.go).
func (a *app) addClientFlags(cmd *cobra.Command) *clientFlags {
	return a.clientFlagsOn(cmd.Flags())
}

// clientFlagsOn registers the client flags on fl: a command's own flags, or
// the persistent flags a command group shares with its subcommands.
func (a *app) clientFlagsOn(fl *pflag.FlagSet) *clientFlags {
	f := &clientFlags{}
	fl.StringVarP(&f.brokers, "brokers", "b", envOr(a.environ, "SLUICE_BROKERS", defaultBrokers),
		"host:port,... of brokers to bootstrap from (env SLUICE_BROKERS)")
	fl.StringVar(&f.brokers, "bootstrap-server", envOr(a.environ, "SLUICE_BROKERS", defaultBrokers),
		"the same as --brokers, as Kafka's tools spell it")
	fl.StringVar(&f.clientID, "client-id", "sluice-cli", "client id sent to the brokers")
	fl.DurationVar(&f.timeout, "timeout", 30*time.Second, "give up on a broker request after this long")
	f.security.register(fl, a.environ)
	return f
}

// seeds splits --brokers.
func (f *clientFlags) seeds() ([]string, error) {
	var out []string
	for _, s := range strings.Split(f.brokers, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if _, port, err := net.SplitHostPort(s); err != nil || port == "" {
			return nil, fmt.Errorf("--brokers %q: %q is not host:port", f.brokers, s)
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, errors.New("--brokers is empty: give host:port of at least one broker")
	}
	return out, nil
}

// client builds a kgo client, speaking TLS and SASL as the flags ask, and an
// admin client on it. It is the one place the client commands build their
// clients. The caller closes the kgo client.
func (f *clientFlags) client(opts ...kgo.Opt) (*kgo.Client, *kadm.Client, error) {
	seeds, err := f.seeds()
	if err != nil {
		return nil, nil, err
	}
	sec, err := f.security.opts()
	if err != nil {
		return nil, nil, err
	}
	base := []kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.ClientID(f.clientID),
		kgo.RequestTimeoutOverhead(f.timeout),
		kgo.RetryTimeout(f.timeout),
		kgo.DialTimeout(10 * time.Second),
	}
	base = append(base, sec...)
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		return nil, nil, fmt.Errorf("client: %w", err)
	}
	adm := kadm.NewClient(cl)
	adm.SetTimeoutMillis(int32(f.timeout / time.Millisecond))
	return cl, adm, nil
}

// reach checks that a broker answers, so that a wrong address fails at
// once with a clear message instead of after retries.
func (f *clientFlags) reach(ctx context.Context, adm *kadm.Client) error {
	ctx, cancel := context.WithTimeout(ctx, min(f.timeout, 15*time.Second))
	defer cancel()
	if _, err := adm.BrokerMetadata(ctx); err != nil {
		return f.explain(err)
	}
	return nil
}

// signalContext is cancelled by SIGINT or SIGTERM.
func signalContext(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
}

// explain turns a client error into words a Kafka user knows: the Kafka
// error name and what it means, or why no broker could be reached.
func (f *clientFlags) explain(err error) error {
	if err == nil {
		return nil
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return err // kerr's text is "NAME: description", as Kafka's tools print it
	}
	if tlsErr := f.security.explainTLS(f.brokers, err); tlsErr != nil {
		return tlsErr
	}
	var ne net.Error
	var oe *net.OpError
	switch {
	case errors.As(err, &oe), errors.As(err, &ne), errors.Is(err, context.DeadlineExceeded), errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("cannot reach a broker at %s (%v); is it running? Set --brokers or SLUICE_BROKERS", f.brokers, err)
	}
	return err
}

// topicErr renders a per-topic (or per-resource) error with the broker's
// message when it sent one.
func topicErr(what string, err error, msg string) error {
	return fmt.Errorf("%s: %w", what, brokerErr(err, msg))
}

// brokerErr renders a Kafka error code with the broker's message, which
// says more than the code ("Invalid value x for configuration retention.ms:
// ..."): the message first, then the code's name, as in
// "Topic currently has 3 partitions, which is higher than the requested 2.
// (INVALID_PARTITIONS)". Without a message, the code's own text.
func brokerErr(err error, msg string) error {
	var ke *kerr.Error
	if msg == "" || !errors.As(err, &ke) {
		return err
	}
	// Some brokers prefix the message with the code's text; drop it.
	msg = strings.TrimPrefix(msg, ke.Error()+": ")
	return &brokerError{code: ke, msg: msg}
}

// brokerError is a Kafka error code with the broker's message.
type brokerError struct {
	code *kerr.Error
	msg  string
}

func (e *brokerError) Error() string { return e.msg + " (" + e.code.Message + ")" }
func (e *brokerError) Unwrap() error { return e.code }

// parseKV parses key=value.
func parseKV(flag, s string) (string, string, error) {
	k, v, ok := strings.Cut(s, "=")
	k = strings.TrimSpace(k)
	if !ok || k == "" {
		return "", "", fmt.Errorf("%s %q: want key=value", flag, s)
	}
	return k, v, nil
}

// parseInt32 parses a flag value that must fit an int32.
func parseInt32(flag, s string) (int32, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%s %q: not a number", flag, s)
	}
	return int32(n), nil
}
