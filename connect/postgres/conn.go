// Package postgres holds connectors between Kafka and PostgreSQL in the
// style of the JDBC connectors many Kafka Connect users know: a source that
// copies tables (or a query) into topics by polling (mode bulk,
// incrementing, timestamp or timestamp+incrementing), and a sink that
// writes topics into tables (insert, upsert or update, keyed as pk.mode
// says, creating and evolving tables, deleting rows on tombstones). They
// talk to PostgreSQL with pgx (github.com/jackc/pgx/v5).
//
// A polling source sees rows as they are when it polls: it cannot see rows
// deleted in between, nor updates that do not advance its timestamp or
// incrementing column.
package postgres

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/connect"
	"github.com/sluicehq/sluice/connect/configdef"
)

// Version is the connectors' version.
const Version = "1.0"

// Connection settings, shared by the source and the sink, with the JDBC
// connectors' names.
const (
	ConnectionURL      = "connection.url"
	ConnectionUser     = "connection.user"
	ConnectionPassword = "connection.password"
	ConnectionAttempts = "connection.attempts"
	ConnectionBackoff  = "connection.backoff.ms"
	DBTimezone         = "db.timezone"
)

func connectionKeys() []configdef.Key {
	return []configdef.Key{
		{Name: ConnectionURL, Type: configdef.String, Required: true, Validator: configdef.NonEmpty(), Importance: configdef.High, Group: "Database",
			Doc: "The PostgreSQL database: a JDBC URL (jdbc:postgresql://host:port/db?user=...), a URL (postgres://user:password@host:port/db) or a libpq keyword/value string."},
		{Name: ConnectionUser, Type: configdef.String, Default: "", Importance: configdef.High, Group: "Database",
			Doc: "The user, when not in the URL."},
		{Name: ConnectionPassword, Type: configdef.Password, Default: "", Importance: configdef.High, Group: "Database",
			Doc: "The password, when not in the URL."},
		{Name: ConnectionAttempts, Type: configdef.Int, Default: "3", Validator: configdef.AtLeast(1), Importance: configdef.Low, Group: "Database",
			Doc: "How many times to try connecting before the task fails."},
		{Name: ConnectionBackoff, Type: configdef.Long, Default: "10000", Validator: configdef.AtLeast(0), Importance: configdef.Low, Group: "Database",
			Doc: "How long to wait between connection attempts."},
		{Name: DBTimezone, Type: configdef.String, Default: "UTC", Importance: configdef.Medium, Group: "Database",
			Doc: "The session time zone: times of columns without a time zone are read and written in it."},
	}
}

// connConfig turns the connection settings into pgx's config. A JDBC URL
// (jdbc:postgresql://host:port/db?user=u&password=p) is accepted as the
// JDBC connectors take it.
func connConfig(v *configdef.Values) (*pgx.ConnConfig, error) {
	raw := strings.TrimSpace(v.String(ConnectionURL))
	if rest, ok := strings.CutPrefix(raw, "jdbc:"); ok {
		if !strings.HasPrefix(rest, "postgresql:") {
			return nil, connect.ConfigErrorf("%s=%s: only jdbc:postgresql: URLs are supported", ConnectionURL, raw)
		}
		rest = strings.TrimPrefix(rest, "postgresql:")
		if !strings.HasPrefix(rest, "//") {
			rest = "//localhost/" + rest // jdbc:postgresql:db
		}
		u, err := url.Parse("postgres:" + rest)
		if err != nil {
			return nil, connect.ConfigErrorf("%s=%s: %v", ConnectionURL, raw, err)
		}
		raw = u.String()
	}
	cfg, err := pgx.ParseConfig(raw)
	if err != nil {
		return nil, connect.ConfigErrorf("%s: %v", ConnectionURL, err)
	}
	if u := v.String(ConnectionUser); u != "" {
		cfg.User = u
	}
	if p := v.String(ConnectionPassword); p != "" {
		cfg.Password = p
	}
	if tz := v.String(DBTimezone); tz != "" {
		if _, err := time.LoadLocation(tz); err != nil {
			return nil, connect.ConfigErrorf("%s=%s: %v", DBTimezone, tz, err)
		}
		cfg.RuntimeParams["timezone"] = tz
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 30 * time.Second
	}
	return cfg, nil
}

// dial connects, trying connection.attempts times.
func dial(ctx context.Context, v *configdef.Values) (*pgx.Conn, error) {
	cfg, err := connConfig(v)
	if err != nil {
		return nil, err
	}
	attempts := int(v.Int(ConnectionAttempts))
	for i := 1; ; i++ {
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err == nil {
			return conn, nil
		}
		if i >= attempts || ctx.Err() != nil {
			return nil, fmt.Errorf("connect to PostgreSQL at %s:%d (attempt %d of %d): %w", cfg.Host, cfg.Port, i, attempts, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(v.Duration(ConnectionBackoff)):
		}
	}
}

// quoteIdent quotes a possibly schema-qualified name: "schema"."table".
func quoteIdent(name string) string {
	parts := strings.Split(name, ".")
	return pgx.Identifier(parts).Sanitize()
}

// Plugins returns the PostgreSQL connectors.
func Plugins() []connect.Plugin {
	return []connect.Plugin{
		{Class: SourceClass, Type: connect.SourcePlugin, Version: Version, New: func() any { return &SourceConnector{} }},
		{Class: SinkClass, Type: connect.SinkPlugin, Version: Version, New: func() any { return &SinkConnector{} }},
	}
}

// The connectors' class names; their aliases are PostgresSource(Connector)
// and PostgresSink(Connector).
const (
	SourceClass = "com.sluicehq.connect.postgres.PostgresSourceConnector"
	SinkClass   = "com.sluicehq.connect.postgres.PostgresSinkConnector"
)
