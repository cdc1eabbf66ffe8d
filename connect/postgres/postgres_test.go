package postgres

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/connect"
	"github.com/sluicehq/sluice/connect/data"
	"github.com/sluicehq/sluice/connect/postgres/pgtest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// server is the package's PostgreSQL server; each test has a database.
var server *pgtest.Server

func TestMain(m *testing.M) {
	var err error
	if server, err = pgtest.New(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	server.Stop()
	os.Exit(code)
}

// database returns a fresh database's URL and a connection to it.
func database(t *testing.T) (string, *pgx.Conn) {
	url := server.Database(t)
	return url, pgtest.Connect(t, url)
}

// sourceCtx is a source task's context with offsets kept in memory, as
// the worker would store them.
type sourceCtx struct {
	props   map[string]string
	offsets map[string]map[string]any
}

func (c *sourceCtx) Configs() map[string]string                     { return c.props }
func (c *sourceCtx) Logger() *slog.Logger                           { return quiet }
func (c *sourceCtx) TransactionContext() connect.TransactionContext { return nil }
func (c *sourceCtx) Offset(p map[string]any) (map[string]any, error) {
	return c.offsets[fmt.Sprint(p)], nil
}

// pollAll polls until a poll returns nothing, keeping the offsets.
func pollAll(t *testing.T, task *SourceTask, sc *sourceCtx) []*connect.SourceRecord {
	t.Helper()
	var out []*connect.SourceRecord
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		recs, err := task.Poll(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.SourcePartition != nil {
				sc.offsets[fmt.Sprint(r.SourcePartition)] = r.SourceOffset
			}
		}
		out = append(out, recs...)
		// A poll returns fewer rows than batch.max.rows when it read the
		// last row of its query; the next is empty (nothing new, or not
		// due yet): the rows present when the query ran are all read.
		if len(recs) == 0 {
			return out
		}
	}
}

// startSource starts the connector and the task of its first task config.
func startSource(t *testing.T, props map[string]string, sc *sourceCtx) *SourceTask {
	t.Helper()
	c := &SourceConnector{}
	if err := c.Start(nil, props); err != nil {
		t.Fatal(err)
	}
	cfgs, err := c.TaskConfigs(1)
	c.Stop()
	if err != nil || len(cfgs) != 1 {
		t.Fatalf("task configs: %v %v", cfgs, err)
	}
	sc.props = cfgs[0]
	task := &SourceTask{}
	if err := task.Start(sc, cfgs[0]); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { task.Stop() })
	return task
}

func ids(t *testing.T, recs []*connect.SourceRecord) []int32 {
	t.Helper()
	var out []int32
	for _, r := range recs {
		out = append(out, r.Value.(*data.Struct).Get("id").(int32))
	}
	return out
}

func TestSourceModes(t *testing.T) {
	url, conn := database(t)
	pgtest.Exec(t, conn, `CREATE TABLE items (
		id serial PRIMARY KEY, name text NOT NULL, amount numeric(10,2), day date, payload bytea,
		flag boolean, score double precision, updated timestamp NOT NULL DEFAULT '2020-01-01 00:00:00')`,
		`INSERT INTO items (name, amount, day, payload, flag, score, updated) VALUES
		('a', 1.50, '2024-02-29', '\x0102', true, 0.5, '2024-01-01 10:00:00'),
		('b', NULL, NULL, NULL, NULL, NULL, '2024-01-01 10:00:00'),
		('c', -3.25, '1999-12-31', '', false, -1, '2024-01-01 11:00:00')`)
	base := map[string]string{
		ConnectionURL: "jdbc:" + strings.Replace(strings.TrimSuffix(url, "?sslmode=disable"), "postgres://postgres@", "postgresql://", 1) + "?user=postgres", TopicPrefix: "pg-",
		TableWhitelist: "items", PollInterval: "1", BatchMaxRows: "2", IncrementingColumn: "id", TimestampColumn: "updated",
	}

	t.Run("schema and values", func(t *testing.T) {
		props := maps.Clone(base)
		props[Mode] = ModeBulk
		props[PollInterval] = "60000"
		sc := &sourceCtx{offsets: map[string]map[string]any{}}
		// Bulk mode reads the whole table at each poll interval: the
		// first read, then nothing until the next.
		recs := pollAll(t, startSource(t, props, sc), sc)
		if len(recs) != 3 || recs[0].Topic != "pg-items" {
			t.Fatalf("bulk: %d records, topic %q", len(recs), recs[0].Topic)
		}
		s := recs[0].ValueSchema
		want := map[string]string{"id": "INT32", "name": "STRING", "amount": "BYTES", "day": "INT32", "payload": "BYTES",
			"flag": "BOOLEAN", "score": "FLOAT64", "updated": "INT64"}
		for name, typ := range want {
			f, ok := s.Field(name)
			if !ok || f.Schema.Type.String() != typ {
				t.Fatalf("field %s: %+v", name, f)
			}
		}
		if f, _ := s.Field("id"); f.Schema.Optional {
			t.Fatal("a NOT NULL column has a required schema")
		}
		if f, _ := s.Field("amount"); !f.Schema.Optional || f.Schema.Name != data.DecimalName || f.Schema.Parameters["scale"] != "2" {
			t.Fatalf("numeric(10,2) is an optional Decimal of scale 2: %+v", f.Schema)
		}
		byID := map[int32]*data.Struct{}
		for _, r := range recs {
			st := r.Value.(*data.Struct)
			byID[st.Get("id").(int32)] = st
		}
		a := byID[1]
		if a.Get("name") != "a" || a.Get("amount").(data.Decimal).String() != "1.50" || !a.Get("day").(time.Time).Equal(time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)) ||
			string(a.Get("payload").([]byte)) != "\x01\x02" || a.Get("flag") != true || a.Get("score") != 0.5 ||
			!a.Get("updated").(time.Time).Equal(time.Date(2024, 1, 1, 10, 0, 0, 0, time.UTC)) {
			t.Fatalf("row 1: %v", a)
		}
		if b := byID[2]; b.Get("amount") != nil || b.Get("day") != nil || b.Get("flag") != nil {
			t.Fatalf("NULLs are nil: %v", b)
		}
		if c := byID[3]; c.Get("amount").(data.Decimal).String() != "-3.25" || len(c.Get("payload").([]byte)) != 0 {
			t.Fatalf("row 3: %v", c)
		}
		if recs[0].SourcePartition != nil {
			t.Fatal("bulk mode stores no offsets")
		}
	})

	t.Run("incrementing", func(t *testing.T) {
		props := maps.Clone(base)
		props[Mode] = ModeIncrementing
		sc := &sourceCtx{offsets: map[string]map[string]any{}}
		task := startSource(t, props, sc)
		if got := ids(t, pollAll(t, task, sc)); !slices.Equal(got, []int32{1, 2, 3}) {
			t.Fatalf("first poll: %v", got)
		}
		pgtest.Exec(t, conn, `INSERT INTO items (name) VALUES ('d'), ('e')`, `UPDATE items SET name = 'A' WHERE id = 1`)
		if got := ids(t, pollAll(t, task, sc)); !slices.Equal(got, []int32{4, 5}) {
			t.Fatalf("incrementing sees new rows only: %v", got)
		}
		if off := sc.offsets[fmt.Sprint(map[string]any{"table": "public.items"})]; off["incrementing"] != int64(5) {
			t.Fatalf("offset %v", off)
		}
		// A new task resumes after the stored offset.
		pgtest.Exec(t, conn, `INSERT INTO items (name) VALUES ('f')`)
		if got := ids(t, pollAll(t, startSource(t, props, sc), sc)); !slices.Equal(got, []int32{6}) {
			t.Fatalf("after a restart: %v", got)
		}
	})

	t.Run("timestamp+incrementing", func(t *testing.T) {
		pgtest.Exec(t, conn, `CREATE TABLE ev (id int PRIMARY KEY, v text, ts timestamptz NOT NULL)`,
			`INSERT INTO ev SELECT g, 'v' || g, '2024-01-01 00:00:00+00' FROM generate_series(1, 5) g`)
		props := maps.Clone(base)
		props[Mode], props[TableWhitelist], props[TimestampColumn] = ModeTimestampIncrementing, "ev", "ts"
		sc := &sourceCtx{offsets: map[string]map[string]any{}}
		task := startSource(t, props, sc)
		// Five rows with one timestamp, read two at a time: none is lost.
		if got := ids(t, pollAll(t, task, sc)); !slices.Equal(got, []int32{1, 2, 3, 4, 5}) {
			t.Fatalf("first poll: %v", got)
		}
		pgtest.Exec(t, conn, `UPDATE ev SET v = 'changed', ts = '2024-01-02 00:00:00+00' WHERE id = 2`,
			`INSERT INTO ev VALUES (6, 'v6', '2023-12-31 00:00:00+00')`, // an older timestamp: not seen
			`INSERT INTO ev VALUES (7, 'v7', '2024-01-02 00:00:00+00')`)
		recs := pollAll(t, task, sc)
		if got := ids(t, recs); !slices.Equal(got, []int32{2, 7}) || recs[0].Value.(*data.Struct).Get("v") != "changed" {
			t.Fatalf("updates and new rows after the last timestamp: %v", got)
		}
		off := sc.offsets[fmt.Sprint(map[string]any{"table": "public.ev"})]
		if off["incrementing"] != int64(7) || off["timestamp"] != time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC).UnixMilli() {
			t.Fatalf("offset %v", off)
		}
		if got := ids(t, pollAll(t, startSource(t, props, sc), sc)); len(got) != 0 {
			t.Fatalf("a restarted task repeats nothing: %v", got)
		}
	})

	t.Run("query", func(t *testing.T) {
		props := maps.Clone(base)
		delete(props, TableWhitelist)
		props[Mode], props[Query], props[TopicPrefix] = ModeIncrementing, "SELECT id, upper(name) AS name FROM items WHERE id % 2 = 1", "odd"
		sc := &sourceCtx{offsets: map[string]map[string]any{}}
		recs := pollAll(t, startSource(t, props, sc), sc)
		if got := ids(t, recs); !slices.Equal(got, []int32{1, 3, 5}) || recs[0].Topic != "odd" || recs[0].Value.(*data.Struct).Get("name") != "A" {
			t.Fatalf("query: %v", got)
		}
	})

	t.Run("config errors", func(t *testing.T) {
		props := maps.Clone(base)
		props[Mode] = ModeTimestamp
		delete(props, TimestampColumn)
		errs := (&SourceConnector{}).Validate(props)
		if len(errs[TimestampColumn]) == 0 {
			t.Fatalf("timestamp mode without its column: %v", errs)
		}
		if err := (&SourceConnector{}).Start(nil, props); err == nil {
			t.Fatal("Start refuses it too")
		}
	})
}

func TestSourceConnectorSplitsTables(t *testing.T) {
	url, conn := database(t)
	for _, n := range []string{"t1", "t2", "t3", "skip"} {
		pgtest.Exec(t, conn, "CREATE TABLE "+n+" (id int)")
	}
	c := &SourceConnector{}
	props := map[string]string{ConnectionURL: url, TopicPrefix: "x-", Mode: ModeBulk, TableBlacklist: "skip"}
	if err := c.Start(nil, props); err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	cfgs, err := c.TaskConfigs(2)
	if err != nil || len(cfgs) != 2 {
		t.Fatalf("%v %v", cfgs, err)
	}
	if cfgs[0][tablesConfig] != "public.t1,public.t3" || cfgs[1][tablesConfig] != "public.t2" {
		t.Fatalf("tables %q %q", cfgs[0][tablesConfig], cfgs[1][tablesConfig])
	}
}

// sinkCtx is a sink task's context.
type sinkCtx struct{ timeout time.Duration }

func (c *sinkCtx) Configs() map[string]string                         { return nil }
func (c *sinkCtx) Logger() *slog.Logger                               { return quiet }
func (c *sinkCtx) SetOffsets(map[connect.TopicPartition]int64)        {}
func (c *sinkCtx) Timeout(d time.Duration)                            { c.timeout = d }
func (c *sinkCtx) Assignment() []connect.TopicPartition               { return nil }
func (c *sinkCtx) Pause(...connect.TopicPartition)                    {}
func (c *sinkCtx) Resume(...connect.TopicPartition)                   {}
func (c *sinkCtx) RequestCommit()                                     {}
func (c *sinkCtx) ErrantRecordReporter() connect.ErrantRecordReporter { return nil }

var (
	keySchema   = data.NewStructSchema("key", data.Field{Name: "id", Schema: data.Int32Schema})
	valueSchema = data.NewStructSchema("value",
		data.Field{Name: "id", Schema: data.Int32Schema},
		data.Field{Name: "name", Schema: data.OptionalStringSchema},
		data.Field{Name: "amount", Schema: data.DecimalSchema(2).AsOptional()},
		data.Field{Name: "at", Schema: data.OptionalTimestampSchema})
)

var offset int64

func rec(id int32, name string, amount int64) *connect.SinkRecord {
	offset++
	k := data.NewStruct(keySchema).MustPut("id", id)
	r := &connect.SinkRecord{Record: connect.Record{Topic: "people", KeySchema: keySchema, Key: k}, OriginalTopic: "people", OriginalOffset: offset}
	if name != "" {
		r.ValueSchema = valueSchema
		r.Value = data.NewStruct(valueSchema).MustPut("id", id).MustPut("name", name).
			MustPut("amount", data.NewDecimal(amount, 2)).MustPut("at", time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC))
	}
	return r
}

func tableRows(t *testing.T, conn *pgx.Conn, q string) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		var parts []string
		for _, v := range vals {
			parts = append(parts, fmt.Sprint(v))
		}
		out = append(out, strings.Join(parts, " "))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSinkUpsertDeleteCreateEvolve(t *testing.T) {
	url, conn := database(t)
	props := map[string]string{ConnectionURL: url, InsertMode: InsertModeUpsert, PKMode: PKRecordKey, PKFields: "id",
		AutoCreate: "true", AutoEvolve: "true", DeleteEnabled: "true", BatchSize: "2"}
	task := &SinkTask{}
	if err := task.Start(&sinkCtx{}, props); err != nil {
		t.Fatal(err)
	}
	defer task.Stop()
	put := func(recs ...*connect.SinkRecord) {
		t.Helper()
		if err := task.Put(recs); err != nil {
			t.Fatal(err)
		}
	}
	query := `SELECT id, name, amount::text, at FROM people ORDER BY id`
	// The same key twice and a delete in one Put: the last change wins.
	put(rec(1, "ann", 100), rec(2, "bob", 250), rec(3, "cy", 1), rec(1, "ann2", 101), rec(3, "", 0), rec(4, "dee", -5))
	want := []string{"1 ann2 1.01 2024-05-01 12:00:00 +0000 UTC", "2 bob 2.50 2024-05-01 12:00:00 +0000 UTC", "4 dee -0.05 2024-05-01 12:00:00 +0000 UTC"}
	if got := tableRows(t, conn, query); !slices.Equal(got, want) {
		t.Fatalf("after the first put:\n%q\nwant\n%q", got, want)
	}
	// Deleted then inserted again, in separate puts and in one.
	put(rec(2, "", 0))
	put(rec(3, "cy again", 7), rec(4, "", 0), rec(4, "dee again", 8))
	want = []string{"1 ann2 1.01 2024-05-01 12:00:00 +0000 UTC", "3 cy again 0.07 2024-05-01 12:00:00 +0000 UTC", "4 dee again 0.08 2024-05-01 12:00:00 +0000 UTC"}
	if got := tableRows(t, conn, query); !slices.Equal(got, want) {
		t.Fatalf("after deletes:\n%q\nwant\n%q", got, want)
	}
	var pk string
	if err := conn.QueryRow(context.Background(), `SELECT string_agg(a.attname, ',') FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'people'::regclass AND i.indisprimary`).Scan(&pk); err != nil || pk != "id" {
		t.Fatalf("auto.create made the primary key %q: %v", pk, err)
	}

	// A new optional field adds a column.
	evolved := data.NewStructSchema("value", append(slices.Clone(valueSchema.Fields), data.Field{Name: "email", Index: 4, Schema: data.OptionalStringSchema})...)
	r := rec(5, "eve", 9)
	v := data.NewStruct(evolved).MustPut("id", int32(5)).MustPut("name", "eve").MustPut("email", "e@x")
	r.ValueSchema, r.Value = evolved, v
	put(r)
	if got := tableRows(t, conn, `SELECT id, email FROM people WHERE id = 5`); !slices.Equal(got, []string{"5 e@x"}) {
		t.Fatalf("evolved: %q", got)
	}

	// A value that is not a struct fails the task, and is no retry.
	bad := rec(6, "x", 0)
	bad.Value, bad.ValueSchema = "text", data.StringSchema
	if err := task.Put([]*connect.SinkRecord{bad}); err == nil || connect.IsRetriable(err) {
		t.Fatalf("a schemaless value: %v", err)
	}
}

func TestSinkInsertAndKafkaKeys(t *testing.T) {
	url, conn := database(t)
	pgtest.Exec(t, conn, `CREATE TABLE log (__connect_topic text, __connect_partition int, __connect_offset bigint, id int, name text, amount numeric(10,2), at timestamp,
		PRIMARY KEY (__connect_topic, __connect_partition, __connect_offset))`)
	task := &SinkTask{}
	if err := task.Start(&sinkCtx{}, map[string]string{ConnectionURL: url, PKMode: PKKafka, TableNameFormat: "log"}); err != nil {
		t.Fatal(err)
	}
	defer task.Stop()
	if err := task.Put([]*connect.SinkRecord{rec(1, "a", 1), rec(1, "a", 1), rec(2, "", 0)}); err != nil {
		t.Fatal(err)
	}
	if got := tableRows(t, conn, `SELECT count(*), count(DISTINCT __connect_offset) FROM log`); !slices.Equal(got, []string{"2 2"}) {
		t.Fatalf("every record is a row keyed by its offset; tombstones are skipped: %q", got)
	}
	// Without auto.create a missing table is an error.
	r := rec(3, "c", 0)
	r.Topic = "missing"
	task2 := &SinkTask{}
	if err := task2.Start(&sinkCtx{}, map[string]string{ConnectionURL: url}); err != nil {
		t.Fatal(err)
	}
	defer task2.Stop()
	if err := task2.Put([]*connect.SinkRecord{r}); err == nil || !strings.Contains(err.Error(), "auto.create") {
		t.Fatalf("missing table: %v", err)
	}
	if errs := (&SinkConnector{}).Validate(map[string]string{ConnectionURL: url, InsertMode: "upsert", DeleteEnabled: "true"}); len(errs[PKMode]) == 0 || len(errs[DeleteEnabled]) == 0 {
		t.Fatalf("upsert and delete need keys: %v", errs)
	}
}

// BenchmarkSinkPut measures the sink's writes alone: upserts of records of
// four columns, 5,000 a Put.
func BenchmarkSinkPut(b *testing.B) {
	url := server.Database(b)
	task := &SinkTask{}
	if err := task.Start(&sinkCtx{}, map[string]string{ConnectionURL: url, InsertMode: InsertModeUpsert, PKMode: PKRecordKey,
		AutoCreate: "true", TableNameFormat: "bench"}); err != nil {
		b.Fatal(err)
	}
	defer task.Stop()
	ks := data.NewStructSchema("k", data.Field{Name: "id", Schema: data.Int64Schema})
	vs := data.NewStructSchema("v", data.Field{Name: "id", Schema: data.Int64Schema}, data.Field{Name: "name", Index: 1, Schema: data.StringSchema},
		data.Field{Name: "score", Index: 2, Schema: data.OptionalFloat64Schema}, data.Field{Name: "active", Index: 3, Schema: data.OptionalBooleanSchema})
	recs := make([]*connect.SinkRecord, b.N)
	for i := range recs {
		id := int64(i)
		recs[i] = &connect.SinkRecord{Record: connect.Record{Topic: "bench", KeySchema: ks, Key: data.NewStruct(ks).MustPut("id", id),
			ValueSchema: vs, Value: data.NewStruct(vs).MustPut("id", id).MustPut("name", fmt.Sprint("name-", i)).MustPut("score", 1.5).MustPut("active", true)}}
	}
	b.ResetTimer()
	for i := 0; i < len(recs); i += 5000 {
		if err := task.Put(recs[i:min(i+5000, len(recs))]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
