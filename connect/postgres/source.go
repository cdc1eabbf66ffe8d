package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/sluicehq/sluice/connect"
	"github.com/sluicehq/sluice/connect/configdef"
	"github.com/sluicehq/sluice/connect/data"
)

// Source settings, with the JDBC source connector's names.
const (
	Mode               = "mode"
	IncrementingColumn = "incrementing.column.name"
	TimestampColumn    = "timestamp.column.name"
	TimestampDelay     = "timestamp.delay.interval.ms"
	TimestampInitial   = "timestamp.initial"
	TableWhitelist     = "table.whitelist"
	TableBlacklist     = "table.blacklist"
	SchemaPattern      = "schema.pattern"
	Query              = "query"
	TopicPrefix        = "topic.prefix"
	PollInterval       = "poll.interval.ms"
	BatchMaxRows       = "batch.max.rows"
	TablePollInterval  = "table.poll.interval.ms"

	// tablesConfig is the tables of one task, in its task config.
	tablesConfig = "tables"
)

// The modes.
const (
	ModeBulk                  = "bulk"
	ModeIncrementing          = "incrementing"
	ModeTimestamp             = "timestamp"
	ModeTimestampIncrementing = "timestamp+incrementing"
)

// The source partition and offset keys, as the JDBC source's.
const (
	partitionTable  = "table"
	partitionQuery  = "query"
	offsetInc       = "incrementing"
	offsetTimestamp = "timestamp"
	offsetNanos     = "timestamp_nanos"
)

// SourceConfig describes the source's settings.
func SourceConfig() *configdef.Def {
	d := configdef.New(connectionKeys()...)
	for _, k := range []configdef.Key{
		{Name: Mode, Type: configdef.String, Required: true, Importance: configdef.High, Group: "Mode",
			Validator: configdef.OneOf(false, ModeBulk, ModeIncrementing, ModeTimestamp, ModeTimestampIncrementing),
			Doc:       "How rows are found at each poll: bulk (the whole table each time), incrementing (rows whose incrementing column is above the last one seen: new rows), timestamp (rows whose timestamp is after the last one seen: new and updated rows), or timestamp+incrementing (both, which does not miss rows sharing a timestamp)."},
		{Name: IncrementingColumn, Type: configdef.String, Default: "", Importance: configdef.Medium, Group: "Mode",
			Doc: "The strictly increasing integer column (incrementing and timestamp+incrementing modes)."},
		{Name: TimestampColumn, Type: configdef.List, Default: "", Importance: configdef.Medium, Group: "Mode",
			Doc: "The timestamp column(s) updated at each change (timestamp modes); with several, the first that is not null counts."},
		{Name: TimestampDelay, Type: configdef.Long, Default: "0", Validator: configdef.AtLeast(0), Importance: configdef.High, Group: "Mode",
			Doc: "How long after a row's timestamp it is read, so that transactions with earlier timestamps have committed."},
		{Name: TimestampInitial, Type: configdef.Long, Importance: configdef.Low, Group: "Mode",
			Doc: "The timestamp (ms since the epoch) to start from when nothing was read yet; -1 is the current time. From the beginning when not set."},
		{Name: TableWhitelist, Type: configdef.List, Default: "", Importance: configdef.Medium, Group: "Database",
			Doc: "The tables to copy (name or schema.name); all tables of schema.pattern when not set."},
		{Name: TableBlacklist, Type: configdef.List, Default: "", Importance: configdef.Medium, Group: "Database",
			Doc: "Tables not to copy."},
		{Name: SchemaPattern, Type: configdef.String, Default: "public", Importance: configdef.Medium, Group: "Database",
			Doc: "The schema whose tables are copied (a LIKE pattern)."},
		{Name: Query, Type: configdef.String, Default: "", Importance: configdef.Medium, Group: "Mode",
			Doc: "Copy the rows of this query instead of tables; the topic is topic.prefix. The mode's conditions are added around it."},
		{Name: TopicPrefix, Type: configdef.String, Required: true, Importance: configdef.High, Group: "Connector",
			Doc: "Prefix of the topic of each table (the topic is the prefix then the table's name), or the topic of the query."},
		{Name: PollInterval, Type: configdef.Int, Default: "5000", Validator: configdef.AtLeast(1), Importance: configdef.High, Group: "Connector",
			Doc: "How often each table is polled for new rows, in milliseconds."},
		{Name: BatchMaxRows, Type: configdef.Int, Default: "100", Validator: configdef.AtLeast(1), Importance: configdef.Low, Group: "Connector",
			Doc: "The most rows handed to the worker at once."},
		{Name: TablePollInterval, Type: configdef.Long, Default: "60000", Validator: configdef.AtLeast(1), Importance: configdef.Low, Group: "Connector",
			Doc: "How often the connector looks for new or removed tables."},
	} {
		d.Define(k)
	}
	return d
}

// validateSource checks what SourceConfig's types cannot: a mode's
// columns, and tables against a query.
func validateSource(props map[string]string) map[string][]string {
	errs := map[string][]string{}
	v, err := SourceConfig().Parse(props)
	if err != nil {
		return errs // the per-setting checks report it
	}
	mode := v.String(Mode)
	if (mode == ModeIncrementing || mode == ModeTimestampIncrementing) && v.String(IncrementingColumn) == "" {
		errs[IncrementingColumn] = append(errs[IncrementingColumn], "mode "+mode+" needs "+IncrementingColumn)
	}
	if (mode == ModeTimestamp || mode == ModeTimestampIncrementing) && len(v.List(TimestampColumn)) == 0 {
		errs[TimestampColumn] = append(errs[TimestampColumn], "mode "+mode+" needs "+TimestampColumn)
	}
	if v.String(Query) != "" && (len(v.List(TableWhitelist)) > 0 || len(v.List(TableBlacklist)) > 0) {
		errs[Query] = append(errs[Query], "query cannot be used with table.whitelist or table.blacklist")
	}
	if len(v.List(TableWhitelist)) > 0 && len(v.List(TableBlacklist)) > 0 {
		errs[TableWhitelist] = append(errs[TableWhitelist], "table.whitelist and table.blacklist are exclusive")
	}
	if _, err := connConfig(v); err != nil {
		errs[ConnectionURL] = append(errs[ConnectionURL], err.Error())
	}
	return errs
}

func firstError(errs map[string][]string) error {
	for _, k := range slices.Sorted(maps.Keys(errs)) {
		return connect.ConfigErrorf("%s: %s", k, errs[k][0])
	}
	return nil
}

// SourceConnector copies tables (or a query) into topics; its tasks share
// the tables.
type SourceConnector struct {
	props  map[string]string
	cfg    *configdef.Values
	cctx   connect.ConnectorContext
	mu     sync.Mutex
	tables []string
	stop   context.CancelFunc
	done   chan struct{}
}

// Version returns the connector's version.
func (*SourceConnector) Version() string { return Version }

// Config describes the settings.
func (*SourceConnector) Config() *configdef.Def { return SourceConfig() }

// Validate checks the settings together.
func (*SourceConnector) Validate(props map[string]string) map[string][]string {
	return validateSource(props)
}

// Start checks the settings and lists the tables to copy; it then looks
// for new or removed tables every table.poll.interval.ms and asks for new
// task configs when they change.
func (c *SourceConnector) Start(cctx connect.ConnectorContext, props map[string]string) error {
	v, err := SourceConfig().Parse(props)
	if err != nil {
		return err
	}
	if err := firstError(validateSource(props)); err != nil {
		return err
	}
	c.props, c.cfg, c.cctx = props, v, cctx
	if v.String(Query) != "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tables, err := c.listTables(ctx)
	if err != nil {
		return err
	}
	c.tables = tables
	mctx, stop := context.WithCancel(context.Background())
	c.stop, c.done = stop, make(chan struct{})
	go c.monitor(mctx)
	return nil
}

// listTables finds the tables to copy, as schema.table.
func (c *SourceConnector) listTables(ctx context.Context) ([]string, error) {
	conn, err := dial(ctx, c.cfg)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT table_schema, table_name FROM information_schema.tables
		WHERE table_type IN ('BASE TABLE', 'VIEW') AND table_schema LIKE $1
		AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2`, c.cfg.String(SchemaPattern))
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	var all [][2]string
	for rows.Next() {
		var s, t string
		if err := rows.Scan(&s, &t); err != nil {
			return nil, fmt.Errorf("list tables: %w", err)
		}
		all = append(all, [2]string{s, t})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	matches := func(list []string, st [2]string) bool {
		for _, n := range list {
			if n == st[1] || n == st[0]+"."+st[1] {
				return true
			}
		}
		return false
	}
	white, black := c.cfg.List(TableWhitelist), c.cfg.List(TableBlacklist)
	var out []string
	for _, st := range all {
		if (len(white) > 0 && !matches(white, st)) || matches(black, st) {
			continue
		}
		out = append(out, st[0]+"."+st[1])
	}
	return out, nil
}

func (c *SourceConnector) monitor(ctx context.Context) {
	defer close(c.done)
	t := time.NewTicker(c.cfg.Duration(TablePollInterval))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		tables, err := c.listTables(lctx)
		cancel()
		if err != nil {
			continue
		}
		c.mu.Lock()
		changed := !slices.Equal(tables, c.tables)
		c.tables = tables
		c.mu.Unlock()
		if changed {
			c.cctx.RequestTaskReconfiguration()
		}
	}
}

// TaskConfigs spreads the tables over at most maxTasks tasks; a query has
// one task.
func (c *SourceConnector) TaskConfigs(maxTasks int) ([]map[string]string, error) {
	if c.cfg.String(Query) != "" {
		return []map[string]string{maps.Clone(c.props)}, nil
	}
	c.mu.Lock()
	tables := slices.Clone(c.tables)
	c.mu.Unlock()
	n := min(maxTasks, len(tables))
	groups := make([][]string, n)
	for i, t := range tables {
		groups[i%n] = append(groups[i%n], t)
	}
	out := make([]map[string]string, 0, n)
	for _, g := range groups {
		cfg := maps.Clone(c.props)
		cfg[tablesConfig] = strings.Join(g, ",")
		out = append(out, cfg)
	}
	return out, nil
}

// Stop stops looking for tables.
func (c *SourceConnector) Stop() error {
	if c.stop != nil {
		c.stop()
		<-c.done
	}
	return nil
}

// NewTask returns a source task.
func (*SourceConnector) NewTask() connect.SourceTask { return &SourceTask{} }

// SourceTask polls its tables in turn.
type SourceTask struct {
	cfg      *configdef.Values
	log      *slog.Logger
	loc      *time.Location
	conn     *pgx.Conn
	ctx      context.Context
	cancel   context.CancelFunc
	queriers []*querier
	mode     string
	batch    int
	interval time.Duration
	delay    time.Duration
}

// querier reads one table or the query.
type querier struct {
	name      string // the schema-qualified table, or "" for the query
	from      string // what follows FROM
	topic     string
	partition map[string]any

	cols   []column
	schema *data.Schema
	incIdx int   // index of the incrementing column, -1 without
	tsIdx  []int // indexes of the timestamp columns
	tsTZ   bool  // the timestamp columns have a time zone
	sql    string

	hasInc  bool
	lastInc int64
	lastTs  time.Time

	rows pgx.Rows
	next time.Time
}

// Version returns the task's version.
func (*SourceTask) Version() string { return Version }

// Start connects and reads each table's stored offset.
func (t *SourceTask) Start(sctx connect.SourceTaskContext, props map[string]string) error {
	v, err := SourceConfig().Parse(props)
	if err != nil {
		return err
	}
	if err := firstError(validateSource(props)); err != nil {
		return err
	}
	t.cfg, t.log = v, sctx.Logger()
	t.mode, t.batch = v.String(Mode), int(v.Int(BatchMaxRows))
	t.interval, t.delay = v.Duration(PollInterval), v.Duration(TimestampDelay)
	if t.loc, err = time.LoadLocation(v.String(DBTimezone)); err != nil {
		return connect.ConfigErrorf("%s: %v", DBTimezone, err)
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	if t.conn, err = dial(t.ctx, v); err != nil {
		return err
	}
	var qs []*querier
	if q := v.String(Query); q != "" {
		qs = append(qs, &querier{from: "(" + q + ") AS sluice_query", topic: v.String(TopicPrefix), partition: map[string]any{partitionQuery: partitionQuery}})
	} else {
		for _, table := range strings.Split(props[tablesConfig], ",") {
			if table = strings.TrimSpace(table); table == "" {
				continue
			}
			short := table[strings.LastIndexByte(table, '.')+1:]
			qs = append(qs, &querier{name: table, from: quoteIdent(table), topic: v.String(TopicPrefix) + short,
				partition: map[string]any{partitionTable: table}})
		}
	}
	initial := time.Unix(0, 0).UTC()
	if v.Has(TimestampInitial) {
		if ms := v.Int(TimestampInitial); ms == -1 {
			initial = time.Now().UTC()
		} else {
			initial = time.UnixMilli(ms).UTC()
		}
	}
	for _, q := range qs {
		q.lastInc, q.lastTs = -1, initial
		off, err := sctx.Offset(q.partition)
		if err != nil {
			return fmt.Errorf("stored offset of %v: %w", q.partition, err)
		}
		if i, ok := off[offsetInc].(int64); ok {
			q.lastInc = i
		}
		if ms, ok := off[offsetTimestamp].(int64); ok {
			nanos, _ := off[offsetNanos].(int64)
			sec := ms / 1000
			if ms < 0 && ms%1000 != 0 {
				sec--
			}
			q.lastTs = time.Unix(sec, nanos).UTC()
		}
	}
	t.queriers = qs
	return nil
}

// Poll returns up to batch.max.rows rows of the table that is due, and
// waits a little when none is.
func (t *SourceTask) Poll(ctx context.Context) ([]*connect.SourceRecord, error) {
	if len(t.queriers) == 0 {
		return nil, t.wait(ctx, time.Second)
	}
	q := t.queriers[0]
	for _, x := range t.queriers[1:] {
		if x.rows != nil || (q.rows == nil && x.next.Before(q.next)) {
			q = x
		}
	}
	if q.rows == nil {
		if d := time.Until(q.next); d > 0 {
			return nil, t.wait(ctx, min(d, time.Second))
		}
		if err := t.execute(q); err != nil {
			q.next = time.Now().Add(t.interval)
			if connLost(err, t.conn) {
				return nil, connect.Retriable(err)
			}
			return nil, err
		}
	}
	var out []*connect.SourceRecord
	for len(out) < t.batch && q.rows.Next() {
		r, err := t.record(q)
		if err != nil {
			q.rows.Close()
			q.rows = nil
			return nil, err
		}
		out = append(out, r)
	}
	if len(out) < t.batch {
		err := q.rows.Err()
		q.rows.Close()
		q.rows = nil
		q.next = time.Now().Add(t.interval)
		if err != nil {
			return out, connect.Retriable(fmt.Errorf("read %s: %w", q.topic, err))
		}
	}
	return out, nil
}

// connLost reports whether err is a lost or refused connection, worth
// trying again, rather than an error of the statement or the data.
func connLost(err error, conn *pgx.Conn) bool {
	var pgErr *pgconn.PgError
	var netErr net.Error
	var connectErr *pgconn.ConnectError
	switch {
	case errors.As(err, &pgErr):
		return false
	case errors.As(err, &netErr), errors.As(err, &connectErr), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return true
	}
	return conn == nil || conn.IsClosed()
}

func (t *SourceTask) wait(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
	return nil
}

// describe reads a table's (or the query's) columns: their schemas, and
// where the mode's columns are.
func (t *SourceTask) describe(q *querier) error {
	if t.conn.IsClosed() {
		conn, err := dial(t.ctx, t.cfg)
		if err != nil {
			return err
		}
		t.conn = conn
	}
	rows, err := t.conn.Query(t.ctx, "SELECT * FROM "+q.from+" LIMIT 0")
	if err != nil {
		return fmt.Errorf("describe %s: %w", q.topic, err)
	}
	fields := slices.Clone(rows.FieldDescriptions())
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("describe %s: %w", q.topic, err)
	}
	notNull := map[[2]uint32]bool{}
	if q.name != "" {
		nr, err := t.conn.Query(t.ctx, `SELECT attrelid::int8, attnum::int8, attnotnull FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0`, q.from)
		if err != nil {
			return fmt.Errorf("describe %s: %w", q.topic, err)
		}
		for nr.Next() {
			var rel, num int64
			var nn bool
			if err := nr.Scan(&rel, &num, &nn); err != nil {
				nr.Close()
				return fmt.Errorf("describe %s: %w", q.topic, err)
			}
			notNull[[2]uint32{uint32(rel), uint32(num)}] = nn
		}
		nr.Close()
		if err := nr.Err(); err != nil {
			return fmt.Errorf("describe %s: %w", q.topic, err)
		}
	}
	name := q.name[strings.LastIndexByte(q.name, '.')+1:]
	q.cols, q.incIdx, q.tsIdx = nil, -1, nil
	var fieldsOut []data.Field
	for i, f := range fields {
		optional := !notNull[[2]uint32{f.TableOID, uint32(f.TableAttributeNumber)}]
		c := columnFor(f, optional, t.loc)
		q.cols = append(q.cols, c)
		fieldsOut = append(fieldsOut, data.Field{Name: f.Name, Index: i, Schema: c.schema})
		if f.Name == t.cfg.String(IncrementingColumn) {
			switch f.DataTypeOID {
			case pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID:
				q.incIdx = i
			default:
				return connect.ConfigErrorf("%s: column %s of %s is not an integer", IncrementingColumn, f.Name, q.topic)
			}
		}
		if slices.Contains(t.cfg.List(TimestampColumn), f.Name) {
			switch f.DataTypeOID {
			case pgtype.TimestampOID:
			case pgtype.TimestamptzOID:
				q.tsTZ = true
			default:
				return connect.ConfigErrorf("%s: column %s of %s is not a timestamp", TimestampColumn, f.Name, q.topic)
			}
			q.tsIdx = append(q.tsIdx, i)
		}
	}
	needInc := t.mode == ModeIncrementing || t.mode == ModeTimestampIncrementing
	needTs := t.mode == ModeTimestamp || t.mode == ModeTimestampIncrementing
	if needInc && q.incIdx < 0 {
		return connect.ConfigErrorf("%s: %s has no column %s", IncrementingColumn, q.topic, t.cfg.String(IncrementingColumn))
	}
	if needTs && len(q.tsIdx) != len(t.cfg.List(TimestampColumn)) {
		return connect.ConfigErrorf("%s: %s has not all of the columns %s", TimestampColumn, q.topic, strings.Join(t.cfg.List(TimestampColumn), ","))
	}
	if name == "" {
		name = "query"
	}
	q.schema = data.NewStructSchema(name, fieldsOut...)
	q.schema.Optional = false

	// The statement of the mode.
	ts := ""
	if needTs {
		var quoted []string
		for _, c := range t.cfg.List(TimestampColumn) {
			quoted = append(quoted, quoteIdent(c))
		}
		ts = quoted[0]
		if len(quoted) > 1 {
			ts = "COALESCE(" + strings.Join(quoted, ", ") + ")"
		}
	}
	inc := quoteIdent(t.cfg.String(IncrementingColumn))
	base := "SELECT * FROM " + q.from
	switch t.mode {
	case ModeBulk:
		q.sql = base
	case ModeIncrementing:
		q.sql = base + " WHERE " + inc + " > $1 ORDER BY " + inc + " ASC"
	case ModeTimestamp:
		q.sql = base + " WHERE " + ts + " > $1 AND " + ts + " < $2 ORDER BY " + ts + " ASC"
	case ModeTimestampIncrementing:
		q.sql = base + " WHERE " + ts + " < $2 AND ((" + ts + " = $1 AND " + inc + " > $3) OR " + ts + " > $1) ORDER BY " + ts + ", " + inc + " ASC"
	}
	return nil
}

// execute runs a querier's statement from its last offset.
func (t *SourceTask) execute(q *querier) error {
	if q.cols == nil || t.conn.IsClosed() {
		if err := t.describe(q); err != nil {
			return err
		}
	}
	tsArg := func(v time.Time) any {
		if q.tsTZ {
			return v
		}
		return wallClock(v, t.loc)
	}
	var args []any
	switch t.mode {
	case ModeIncrementing:
		args = []any{q.lastInc}
	case ModeTimestamp, ModeTimestampIncrementing:
		var now time.Time
		if err := t.conn.QueryRow(t.ctx, "SELECT CURRENT_TIMESTAMP").Scan(&now); err != nil {
			return fmt.Errorf("read the database's time: %w", err)
		}
		args = []any{tsArg(q.lastTs), tsArg(now.Add(-t.delay))}
		if t.mode == ModeTimestampIncrementing {
			args = append(args, q.lastInc)
		}
	}
	formats := pgx.QueryResultFormats{}
	for _, c := range q.cols {
		if c.text {
			formats = append(formats, pgx.TextFormatCode)
		} else {
			formats = append(formats, pgx.BinaryFormatCode)
		}
	}
	rows, err := t.conn.Query(t.ctx, q.sql, append([]any{formats}, args...)...)
	if err != nil {
		return fmt.Errorf("query %s: %w", q.topic, err)
	}
	q.rows = rows
	return nil
}

// record turns the current row into a record, and moves the querier's
// offset past it.
func (t *SourceTask) record(q *querier) (*connect.SourceRecord, error) {
	dests := make([]any, len(q.cols))
	for i, c := range q.cols {
		dests[i] = c.dest()
	}
	if err := q.rows.Scan(dests...); err != nil {
		return nil, fmt.Errorf("read a row of %s: %w", q.topic, err)
	}
	st := data.NewStruct(q.schema)
	var ts time.Time
	var tsSet bool
	for i, c := range q.cols {
		v, err := c.value(dests[i])
		if err != nil {
			return nil, err
		}
		if v != nil {
			if err := st.Put(c.name, v); err != nil {
				return nil, fmt.Errorf("%s: %w", q.topic, err)
			}
		}
		if i == q.incIdx && v != nil {
			switch n := v.(type) {
			case int16:
				q.lastInc = int64(n)
			case int32:
				q.lastInc = int64(n)
			case int64:
				q.lastInc = n
			}
		}
		if !tsSet && slices.Contains(q.tsIdx, i) && v != nil {
			// The exact time, not the millisecond the record carries.
			switch d := dests[i].(type) {
			case *pgtype.Timestamptz:
				ts = d.Time.UTC()
			case *pgtype.Timestamp:
				ts = inZone(d.Time, t.loc).UTC()
			}
			tsSet = true
		}
	}
	if tsSet {
		q.lastTs = ts
	}
	var offset map[string]any
	switch t.mode {
	case ModeIncrementing:
		offset = map[string]any{offsetInc: q.lastInc}
	case ModeTimestamp:
		offset = map[string]any{offsetTimestamp: q.lastTs.UnixMilli(), offsetNanos: int64(q.lastTs.Nanosecond())}
	case ModeTimestampIncrementing:
		offset = map[string]any{offsetInc: q.lastInc, offsetTimestamp: q.lastTs.UnixMilli(), offsetNanos: int64(q.lastTs.Nanosecond())}
	}
	r := &connect.SourceRecord{Record: connect.Record{Topic: q.topic, ValueSchema: q.schema, Value: st}}
	if offset != nil {
		r.SourcePartition, r.SourceOffset = q.partition, offset
	}
	return r, nil
}

// Commit does nothing: offsets are the worker's.
func (*SourceTask) Commit() error { return nil }

// Stop closes the connection.
func (t *SourceTask) Stop() error {
	for _, q := range t.queriers {
		if q.rows != nil {
			q.rows.Close()
			q.rows = nil
		}
	}
	if t.cancel != nil {
		t.cancel()
	}
	if t.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return t.conn.Close(ctx)
	}
	return nil
}
