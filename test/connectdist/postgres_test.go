package connectdist

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/connect/postgres/pgtest"
)

// tableState summarizes a table's rows: their number and a digest of all
// of them in id order.
func tableState(t testing.TB, conn *pgx.Conn, table string) string {
	t.Helper()
	var n int64
	var digest *string
	err := conn.QueryRow(context.Background(), `SELECT count(*), md5(string_agg(id || ':' || name || ':' || balance::text, ',' ORDER BY id)) FROM `+table).Scan(&n, &digest)
	if err != nil {
		return "error: " + err.Error()
	}
	d := ""
	if digest != nil {
		d = *digest
	}
	return fmt.Sprintf("%d rows, digest %s", n, d)
}

// A table copied to another database through a topic by the PostgreSQL
// source (timestamp+incrementing) and sink (upsert keyed by the record
// key): inserts, then updates and more inserts, arrive; tombstones written
// to the topic delete rows; the copy ends equal to the source table.
// SLUICE_LONG=1 copies 100,000 rows instead of 20,000.
func TestPostgresPipeline(t *testing.T) {
	rows := 20000
	if os.Getenv("SLUICE_LONG") != "" {
		rows = 100000
	}
	c := newCluster(t, 2, nil)
	srcURL, dstURL := pg.Database(t), pg.Database(t)
	src, dst := pgtest.Connect(t, srcURL), pgtest.Connect(t, dstURL)
	pgtest.Exec(t, src, `CREATE TABLE accounts (id serial PRIMARY KEY, name text NOT NULL, balance numeric(12,2) NOT NULL,
		updated timestamptz NOT NULL DEFAULT clock_timestamp())`,
		fmt.Sprintf(`INSERT INTO accounts (name, balance) SELECT 'name-' || g, g / 100.0 FROM generate_series(1, %d) g`, rows))
	topic := c.group + "-accounts"
	pgsrc, pgsink := uniqueName(t, "pgsrc"), uniqueName(t, "pgsink")
	w := c.workers[1]
	mustCall(t, 201, "POST", w.url("/connectors"), map[string]any{"name": pgsrc, "config": map[string]string{
		"connector.class": "PostgresSource", "connection.url": srcURL, "mode": "timestamp+incrementing",
		"incrementing.column.name": "id", "timestamp.column.name": "updated", "table.whitelist": "accounts",
		"topic.prefix": c.group + "-", "poll.interval.ms": "200", "batch.max.rows": "2000",
		"transforms": "key", "transforms.key.type": "ValueToKey", "transforms.key.fields": "id",
		"topic.creation.default.partitions": "3", "topic.creation.default.replication.factor": "1"}}, nil)
	mustCall(t, 201, "POST", w.url("/connectors"), map[string]any{"name": pgsink, "config": map[string]string{
		"connector.class": "PostgresSink", "connection.url": dstURL, "topics": topic, "tasks.max": "2",
		"table.name.format": "accounts_copy", "insert.mode": "upsert", "pk.mode": "record_key", "pk.fields": "id",
		"auto.create": "true", "delete.enabled": "true", "consumer.override.max.poll.records": "2000"}}, nil)
	waitState(t, w, pgsrc, "RUNNING")
	waitState(t, w, pgsink, "RUNNING")

	waitEqual := func(what string) {
		t.Helper()
		start := time.Now()
		waitFor(t, 120*time.Second, what, func() (bool, string) {
			want, got := tableState(t, src, "accounts"), tableState(t, dst, "accounts_copy")
			return want == got, fmt.Sprintf("source %s, copy %s", want, got)
		})
		t.Logf("%s: %v", what, time.Since(start).Round(time.Millisecond))
	}
	waitEqual(fmt.Sprintf("the %d rows copied", rows))
	var cols []string
	r, err := dst.Query(context.Background(), `SELECT column_name || ' ' || data_type FROM information_schema.columns WHERE table_name = 'accounts_copy' ORDER BY ordinal_position`)
	if err != nil {
		t.Fatal(err)
	}
	for r.Next() {
		var s string
		r.Scan(&s)
		cols = append(cols, s)
	}
	r.Close()
	if fmt.Sprint(cols) != "[id integer name text balance numeric updated timestamp without time zone]" {
		t.Fatalf("auto.create made the columns %v", cols)
	}

	// Updates (a tenth of the rows) and new rows.
	pgtest.Exec(t, src, `UPDATE accounts SET balance = balance + 1, name = name || '+', updated = clock_timestamp() WHERE id % 10 = 0`,
		`INSERT INTO accounts (name, balance) SELECT 'late-' || g, g FROM generate_series(1, 100) g`)
	waitEqual("updates and new rows copied")

	// Tombstones written to the topic delete rows of the copy. The
	// source cannot see deletes: they are made in the source table only
	// for the comparison.
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker(t)), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for id := 7; id <= rows; id += 97 {
		key := fmt.Sprintf(`{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"}],"optional":false},"payload":{"id":%d}}`, id)
		recs = append(recs, &kgo.Record{Key: []byte(key)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	pgtest.Exec(t, src, `DELETE FROM accounts WHERE id % 97 = 7 AND id <= `+fmt.Sprint(rows))
	waitEqual(fmt.Sprintf("%d tombstones applied", len(recs)))
}
