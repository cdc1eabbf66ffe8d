package cli

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// securityFlags are how a client command reaches a secured listener: TLS
// (Kafka's security.protocol SSL, ssl.truststore.*, ssl.keystore.*) and SASL
// (sasl.mechanism with a user and password). TLS and SASL together are
// SASL_SSL.
type securityFlags struct {
	environ []string

	tls           bool
	tlsCA         string
	tlsCert       string
	tlsKey        string
	tlsServerName string
	tlsInsecure   bool

	saslMechanism string
	user          string
	password      string
}

// register adds the TLS and SASL flags. Their defaults come from SLUICE_*
// variables, except the password's: its value is read from SLUICE_PASSWORD
// when the command runs, so that it never shows in --help.
func (s *securityFlags) register(fl *pflag.FlagSet, environ []string) {
	s.environ = environ
	fl.BoolVar(&s.tls, "tls", envOr(environ, "SLUICE_TLS", "") == "true",
		"connect with TLS (implied by every other --tls-* flag; env SLUICE_TLS=true)")
	fl.StringVar(&s.tlsCA, "tls-ca", envOr(environ, "SLUICE_TLS_CA", ""),
		"PEM file of the CA certificates that sign the brokers' certificates, as ssl.truststore.location (default: the system's; env SLUICE_TLS_CA)")
	fl.StringVar(&s.tlsCert, "tls-cert", envOr(environ, "SLUICE_TLS_CERT", ""),
		"PEM file of this client's certificate (chain), for brokers that require one (ssl.client.auth=required; env SLUICE_TLS_CERT)")
	fl.StringVar(&s.tlsKey, "tls-key", envOr(environ, "SLUICE_TLS_KEY", ""),
		"PEM file of the private key of --tls-cert (default: --tls-cert's file, when it holds the key too; env SLUICE_TLS_KEY)")
	fl.StringVar(&s.tlsServerName, "tls-server-name", "",
		"name to check the brokers' certificates against (default: the host dialed)")
	fl.BoolVar(&s.tlsInsecure, "tls-insecure-skip-verify", false,
		"do not check the brokers' certificates (for tests only: anyone in between can read and change the traffic)")
	fl.StringVar(&s.saslMechanism, "sasl-mechanism", envOr(environ, "SLUICE_SASL_MECHANISM", ""),
		"authenticate with SASL: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, with --user and the password (env SLUICE_SASL_MECHANISM)")
	fl.StringVar(&s.user, "user", envOr(environ, "SLUICE_USER", ""),
		"SASL user name (env SLUICE_USER)")
	fl.StringVar(&s.password, "password", "",
		"SASL password; prefer the environment variable SLUICE_PASSWORD, which other users of the machine cannot see in the process list")
}

// opts returns the kgo options of the flags: a TLS dialer, a SASL mechanism,
// or none for plaintext.
func (s *securityFlags) opts() ([]kgo.Opt, error) {
	var out []kgo.Opt
	cfg, err := s.tlsConfig()
	if err != nil {
		return nil, err
	}
	if cfg != nil {
		out = append(out, kgo.DialTLSConfig(cfg))
	}
	mech, err := s.mechanism()
	if err != nil {
		return nil, err
	}
	if mech != nil {
		out = append(out, kgo.SASL(mech))
	}
	return out, nil
}

// usesTLS reports whether any TLS flag is set.
func (s *securityFlags) usesTLS() bool {
	return s.tls || s.tlsCA != "" || s.tlsCert != "" || s.tlsKey != "" || s.tlsServerName != "" || s.tlsInsecure
}

func (s *securityFlags) tlsConfig() (*tls.Config, error) {
	if !s.usesTLS() {
		return nil, nil
	}
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         s.tlsServerName,
		InsecureSkipVerify: s.tlsInsecure, //nolint:gosec // asked for by --tls-insecure-skip-verify
	}
	if s.tlsCA != "" {
		pem, err := os.ReadFile(s.tlsCA)
		if err != nil {
			return nil, fmt.Errorf("--tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-ca %s: no PEM certificate in it", s.tlsCA)
		}
		cfg.RootCAs = pool
	}
	switch {
	case s.tlsCert != "":
		key := s.tlsKey
		if key == "" {
			key = s.tlsCert
		}
		cert, err := tls.LoadX509KeyPair(s.tlsCert, key)
		if err != nil {
			if s.tlsKey == "" {
				return nil, fmt.Errorf("--tls-cert %s: %v (give the private key with --tls-key)", s.tlsCert, err)
			}
			return nil, fmt.Errorf("--tls-cert %s, --tls-key %s: %w", s.tlsCert, s.tlsKey, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	case s.tlsKey != "":
		return nil, errors.New("--tls-key needs --tls-cert: the certificate that goes with the key")
	}
	return cfg, nil
}

// Mechanism names, as Kafka's sasl.mechanism spells them.
const (
	mechPlain     = "PLAIN"
	mechScram256  = "SCRAM-SHA-256"
	mechScram512  = "SCRAM-SHA-512"
	saslMechsList = mechPlain + ", " + mechScram256 + " or " + mechScram512
)

func (s *securityFlags) mechanism() (sasl.Mechanism, error) {
	name := strings.ToUpper(strings.TrimSpace(s.saslMechanism))
	password := s.password
	if password == "" {
		password = envOr(s.environ, "SLUICE_PASSWORD", "")
	}
	if name == "" {
		if s.user != "" {
			return nil, fmt.Errorf("--user needs --sasl-mechanism %s", saslMechsList)
		}
		return nil, nil
	}
	if s.user == "" {
		return nil, fmt.Errorf("--sasl-mechanism %s needs --user", name)
	}
	if password == "" {
		return nil, fmt.Errorf("--sasl-mechanism %s needs a password: set SLUICE_PASSWORD (or --password)", name)
	}
	switch name {
	case mechPlain:
		return plain.Auth{User: s.user, Pass: password}.AsMechanism(), nil
	case mechScram256:
		return scram.Auth{User: s.user, Pass: password}.AsSha256Mechanism(), nil
	case mechScram512:
		return scram.Auth{User: s.user, Pass: password}.AsSha512Mechanism(), nil
	}
	return nil, fmt.Errorf("--sasl-mechanism %q: want %s", s.saslMechanism, saslMechsList)
}

// explainTLS turns a TLS failure into what to do about it, or returns nil
// when err is not one.
func (s *securityFlags) explainTLS(brokers string, err error) error {
	var (
		unknownCA x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		invalid   x509.CertificateInvalidError
		record    tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &unknownCA):
		return fmt.Errorf("TLS: the certificate of the broker at %s is not signed by a trusted CA (%v); give the CA's certificate with --tls-ca", brokers, err)
	case errors.As(err, &hostErr):
		return fmt.Errorf("TLS: the certificate of the broker at %s is not for the host dialed (%v); set --tls-server-name, or dial a name the certificate has", brokers, err)
	case errors.As(err, &invalid):
		return fmt.Errorf("TLS: the certificate of the broker at %s is not valid (%v)", brokers, err)
	case errors.As(err, &record):
		return fmt.Errorf("TLS: the broker at %s does not speak TLS on that port (%v); drop the --tls flags, or use its SSL or SASL_SSL listener", brokers, err)
	case strings.Contains(err.Error(), "remote error: tls:"):
		// The broker's TLS alert (crypto/tls does not export its type).
		msg := err.Error()
		if strings.Contains(msg, "certificate") && s.tlsCert == "" {
			return fmt.Errorf("TLS: the broker at %s refused the connection (%v); it wants a client certificate: give --tls-cert and --tls-key", brokers, err)
		}
		return fmt.Errorf("TLS: the broker at %s refused the connection (%v)", brokers, err)
	}
	return nil
}
