package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/connect"
	"github.com/sluicehq/sluice/connect/configdef"
	"github.com/sluicehq/sluice/connect/data"
)

// Sink settings, with the JDBC sink connector's names.
const (
	InsertMode      = "insert.mode"
	PKMode          = "pk.mode"
	PKFields        = "pk.fields"
	TableNameFormat = "table.name.format"
	AutoCreate      = "auto.create"
	AutoEvolve      = "auto.evolve"
	DeleteEnabled   = "delete.enabled"
	BatchSize       = "batch.size"
	FieldsWhitelist = "fields.whitelist"
	MaxRetries      = "max.retries"
	RetryBackoff    = "retry.backoff.ms"
)

// Insert and primary key modes.
const (
	InsertModeInsert = "insert"
	InsertModeUpsert = "upsert"
	InsertModeUpdate = "update"

	PKNone        = "none"
	PKKafka       = "kafka"
	PKRecordKey   = "record_key"
	PKRecordValue = "record_value"
)

// The default key columns of pk.mode kafka and of a primitive record key.
var (
	kafkaPKColumns = []string{"__connect_topic", "__connect_partition", "__connect_offset"}
	keyPKColumn    = "__connect_key"
)

// SinkConfig describes the sink's settings.
func SinkConfig() *configdef.Def {
	d := configdef.New(connectionKeys()...)
	for _, k := range []configdef.Key{
		{Name: InsertMode, Type: configdef.String, Default: InsertModeInsert, Importance: configdef.High, Group: "Writes",
			Validator: configdef.OneOf(true, InsertModeInsert, InsertModeUpsert, InsertModeUpdate),
			Doc:       "insert: INSERT each record; upsert: INSERT ... ON CONFLICT (the key) DO UPDATE; update: UPDATE the row of the key."},
		{Name: PKMode, Type: configdef.String, Default: PKNone, Importance: configdef.High, Group: "Primary Keys",
			Validator: configdef.OneOf(true, PKNone, PKKafka, PKRecordKey, PKRecordValue),
			Doc:       "Where the primary key comes from: none; kafka (topic, partition and offset); record_key (the record key: a primitive, or fields of a struct); record_value (fields of the value)."},
		{Name: PKFields, Type: configdef.List, Default: "", Importance: configdef.Medium, Group: "Primary Keys",
			Doc: "The key columns: for kafka three names (default __connect_topic,__connect_partition,__connect_offset); for a primitive record key one name (default __connect_key); for a struct key or record_value the fields (default all)."},
		{Name: TableNameFormat, Type: configdef.String, Default: "${topic}", Importance: configdef.Medium, Group: "Writes",
			Doc: "The table of a record, where ${topic} is its topic; may name a schema (schema.table)."},
		{Name: AutoCreate, Type: configdef.Boolean, Default: "false", Importance: configdef.Medium, Group: "DDL Support",
			Doc: "Create a missing table from the record's schema (CREATE TABLE), with the primary key of pk.mode."},
		{Name: AutoEvolve, Type: configdef.Boolean, Default: "false", Importance: configdef.Medium, Group: "DDL Support",
			Doc: "Add columns a record has and the table lacks (ALTER TABLE ... ADD COLUMN); they must be optional or have a default."},
		{Name: DeleteEnabled, Type: configdef.Boolean, Default: "false", Importance: configdef.Medium, Group: "Writes",
			Doc: "Delete the row of the key of a record with a null value (a tombstone); needs pk.mode=record_key. When false, tombstones are skipped."},
		{Name: BatchSize, Type: configdef.Int, Default: "3000", Validator: configdef.AtLeast(1), Importance: configdef.Medium, Group: "Writes",
			Doc: "The most rows written by one statement."},
		{Name: FieldsWhitelist, Type: configdef.List, Default: "", Importance: configdef.Medium, Group: "Writes",
			Doc: "The value fields written (all when empty); key columns are written anyway."},
		{Name: MaxRetries, Type: configdef.Int, Default: "10", Validator: configdef.AtLeast(0), Importance: configdef.Medium, Group: "Retries",
			Doc: "How many times a write that failed for a lost connection is tried again before the task fails."},
		{Name: RetryBackoff, Type: configdef.Int, Default: "3000", Validator: configdef.AtLeast(0), Importance: configdef.Medium, Group: "Retries",
			Doc: "How long to wait before trying a failed write again."},
	} {
		d.Define(k)
	}
	return d
}

func validateSink(props map[string]string) map[string][]string {
	errs := map[string][]string{}
	v, err := SinkConfig().Parse(props)
	if err != nil {
		return errs
	}
	mode, pk := strings.ToLower(v.String(InsertMode)), strings.ToLower(v.String(PKMode))
	if mode != InsertModeInsert && pk == PKNone {
		errs[PKMode] = append(errs[PKMode], "insert.mode="+mode+" needs a primary key: set pk.mode")
	}
	if v.Bool(DeleteEnabled) && pk != PKRecordKey {
		errs[DeleteEnabled] = append(errs[DeleteEnabled], "delete.enabled=true needs pk.mode=record_key")
	}
	if pk == PKKafka && len(v.List(PKFields)) != 0 && len(v.List(PKFields)) != 3 {
		errs[PKFields] = append(errs[PKFields], "pk.mode=kafka takes three pk.fields: topic, partition and offset columns")
	}
	if _, err := connConfig(v); err != nil {
		errs[ConnectionURL] = append(errs[ConnectionURL], err.Error())
	}
	return errs
}

// SinkConnector writes topics into PostgreSQL tables.
type SinkConnector struct{ props map[string]string }

// Version returns the connector's version.
func (*SinkConnector) Version() string { return Version }

// Config describes the settings.
func (*SinkConnector) Config() *configdef.Def { return SinkConfig() }

// Validate checks the settings together.
func (*SinkConnector) Validate(props map[string]string) map[string][]string {
	return validateSink(props)
}

// Start checks the settings.
func (c *SinkConnector) Start(_ connect.ConnectorContext, props map[string]string) error {
	if _, err := SinkConfig().Parse(props); err != nil {
		return err
	}
	if err := firstError(validateSink(props)); err != nil {
		return err
	}
	c.props = props
	return nil
}

// TaskConfigs gives every task the same config: the worker shares the
// partitions among them.
func (c *SinkConnector) TaskConfigs(maxTasks int) ([]map[string]string, error) {
	out := make([]map[string]string, maxTasks)
	for i := range out {
		out[i] = c.props
	}
	return out, nil
}

// Stop does nothing.
func (*SinkConnector) Stop() error { return nil }

// NewTask returns a sink task.
func (*SinkConnector) NewTask() connect.SinkTask { return &SinkTask{} }

// SinkTask writes each Put in one transaction: rows are batched into
// multi-row statements, and, with a primary key, only the last change of
// each key in a Put is written (deletes first, then inserts or updates).
type SinkTask struct {
	ctx     connect.SinkTaskContext
	cfg     *configdef.Values
	log     *slog.Logger
	loc     *time.Location
	conn    *pgx.Conn
	mode    string
	pk      string
	tables  map[string]map[string]bool // table → its columns
	retries int
}

// Version returns the task's version.
func (*SinkTask) Version() string { return Version }

// Start connects.
func (t *SinkTask) Start(sctx connect.SinkTaskContext, props map[string]string) error {
	v, err := SinkConfig().Parse(props)
	if err != nil {
		return err
	}
	if err := firstError(validateSink(props)); err != nil {
		return err
	}
	t.ctx, t.cfg, t.log = sctx, v, sctx.Logger()
	t.mode, t.pk = strings.ToLower(v.String(InsertMode)), strings.ToLower(v.String(PKMode))
	if t.loc, err = time.LoadLocation(v.String(DBTimezone)); err != nil {
		return connect.ConfigErrorf("%s: %v", DBTimezone, err)
	}
	t.tables = map[string]map[string]bool{}
	t.conn, err = dial(context.Background(), v)
	return err
}

// row is one record's change of one table.
type row struct {
	delete bool
	key    []any // the primary key's values
	cols   []string
	types  []*data.Schema
	vals   []any
}

// Put writes the records. A lost connection is retried (max.retries);
// anything else fails the task.
func (t *SinkTask) Put(records []*connect.SinkRecord) error {
	if len(records) == 0 {
		return nil
	}
	err := t.put(records)
	if err == nil {
		t.retries = 0
		return nil
	}
	t.tables = map[string]map[string]bool{} // DDL of the failed transaction is undone
	var ce *connect.ConfigError
	if !errors.As(err, &ce) && connLost(err, t.conn) && t.retries < int(t.cfg.Int(MaxRetries)) {
		t.retries++
		t.log.Warn("connect: writing to PostgreSQL failed; retrying", "attempt", t.retries, "error", err)
		t.ctx.Timeout(t.cfg.Duration(RetryBackoff))
		if t.conn != nil {
			t.conn.Close(context.Background())
			t.conn = nil
		}
		return connect.Retriable(err)
	}
	return err
}

func (t *SinkTask) put(records []*connect.SinkRecord) error {
	ctx := context.Background()
	if t.conn == nil || t.conn.IsClosed() {
		conn, err := dial(ctx, t.cfg)
		if err != nil {
			return err
		}
		t.conn = conn
	}
	// Rows by table, in the order of the records.
	var order []string
	byTable := map[string][]*row{}
	for _, r := range records {
		table := strings.ReplaceAll(t.cfg.String(TableNameFormat), "${topic}", r.Topic)
		rw, err := t.row(r)
		if err != nil {
			return fmt.Errorf("record %s/%d@%d: %w", r.OriginalTopic, r.OriginalPartition, r.OriginalOffset, err)
		}
		if rw == nil {
			continue
		}
		if _, ok := byTable[table]; !ok {
			order = append(order, table)
		}
		byTable[table] = append(byTable[table], rw)
	}
	tx, err := t.conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(ctx)
	for _, table := range order {
		if err := t.write(ctx, tx, table, byTable[table]); err != nil {
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// row reads a record into the change it makes: nil to skip it.
func (t *SinkTask) row(r *connect.SinkRecord) (*row, error) {
	rw := &row{}
	if r.Value == nil {
		if !t.cfg.Bool(DeleteEnabled) {
			return nil, nil
		}
		rw.delete = true
	}
	var value *data.Struct
	if !rw.delete {
		st, ok := r.Value.(*data.Struct)
		if !ok || r.ValueSchema == nil || r.ValueSchema.Type != data.TypeStruct {
			return nil, connect.ConfigErrorf("the PostgreSQL sink needs values that are structs with a schema (for JSON, value.converter.schemas.enable=true), not %T", r.Value)
		}
		value = st
	}
	add := func(name string, s *data.Schema, v any) error {
		pv, err := sqlValue(s, v, t.loc)
		if err != nil {
			return fmt.Errorf("column %s: %w", name, err)
		}
		rw.cols, rw.types, rw.vals = append(rw.cols, name), append(rw.types, s), append(rw.vals, pv)
		return nil
	}
	fields := t.cfg.List(PKFields)
	var pkNames []string
	switch t.pk {
	case PKKafka:
		names := kafkaPKColumns
		if len(fields) == 3 {
			names = fields
		}
		pkNames = names
		for i, v := range []any{r.OriginalTopic, r.OriginalPartition, r.OriginalOffset} {
			s := []*data.Schema{data.StringSchema, data.Int32Schema, data.Int64Schema}[i]
			if err := add(names[i], s, v); err != nil {
				return nil, err
			}
		}
	case PKRecordKey:
		if r.Key == nil {
			return nil, connect.ConfigErrorf("pk.mode=record_key needs a record key; this record has none")
		}
		if r.KeySchema != nil && r.KeySchema.Type == data.TypeStruct {
			k, ok := r.Key.(*data.Struct)
			if !ok {
				return nil, fmt.Errorf("the key is a %T, not a struct", r.Key)
			}
			names := fields
			if len(names) == 0 {
				for _, f := range r.KeySchema.Fields {
					names = append(names, f.Name)
				}
			}
			for _, n := range names {
				f, ok := r.KeySchema.Field(n)
				if !ok {
					return nil, connect.ConfigErrorf("pk.fields: the key has no field %s", n)
				}
				if err := add(n, f.Schema, k.Get(n)); err != nil {
					return nil, err
				}
			}
			pkNames = names
		} else {
			if r.KeySchema == nil {
				return nil, connect.ConfigErrorf("pk.mode=record_key needs a key with a schema")
			}
			name := keyPKColumn
			if len(fields) > 0 {
				name = fields[0]
			}
			pkNames = []string{name}
			if err := add(name, r.KeySchema, r.Key); err != nil {
				return nil, err
			}
		}
	case PKRecordValue:
		if rw.delete {
			return nil, nil
		}
		names := fields
		if len(names) == 0 {
			for _, f := range r.ValueSchema.Fields {
				names = append(names, f.Name)
			}
		}
		for _, n := range names {
			f, ok := r.ValueSchema.Field(n)
			if !ok {
				return nil, connect.ConfigErrorf("pk.fields: the value has no field %s", n)
			}
			if err := add(n, f.Schema, value.Get(n)); err != nil {
				return nil, err
			}
		}
		pkNames = names
	}
	rw.key = slices.Clone(rw.vals)
	if rw.delete {
		return rw, nil
	}
	white := t.cfg.List(FieldsWhitelist)
	for _, f := range r.ValueSchema.Fields {
		if slices.Contains(pkNames, f.Name) || (len(white) > 0 && !slices.Contains(white, f.Name)) {
			continue
		}
		if err := add(f.Name, f.Schema, value.Get(f.Name)); err != nil {
			return nil, err
		}
	}
	return rw, nil
}

// keyString identifies a primary key's values.
func keyString(vals []any) string {
	var b strings.Builder
	for _, v := range vals {
		fmt.Fprintf(&b, "%T:%v\x00", v, v)
	}
	return b.String()
}

// write applies one table's rows.
func (t *SinkTask) write(ctx context.Context, tx pgx.Tx, table string, rows []*row) error {
	for _, r := range rows {
		if !r.delete {
			if err := t.ensureTable(ctx, tx, table, r); err != nil {
				return err
			}
		}
	}
	if t.pk == PKNone || t.mode == InsertModeInsert && !slices.ContainsFunc(rows, func(r *row) bool { return r.delete }) {
		return t.insert(ctx, tx, table, rows, "")
	}
	// The last change of each key wins.
	last := map[string]*row{}
	var keys []string
	for _, r := range rows {
		k := keyString(r.key)
		if _, ok := last[k]; !ok {
			keys = append(keys, k)
		}
		last[k] = r
	}
	var deletes, writes []*row
	for _, k := range keys {
		if r := last[k]; r.delete {
			deletes = append(deletes, r)
		} else {
			writes = append(writes, r)
		}
	}
	if len(deletes) > 0 {
		if _, known := t.tables[table]; known || t.tableExists(ctx, tx, table) {
			if err := t.delete(ctx, tx, table, deletes); err != nil {
				return err
			}
		}
	}
	if len(writes) == 0 {
		return nil
	}
	switch t.mode {
	case InsertModeUpdate:
		return t.update(ctx, tx, table, writes)
	case InsertModeUpsert:
		return t.insert(ctx, tx, table, writes, "upsert")
	}
	return t.insert(ctx, tx, table, writes, "")
}

func quoteAll(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = pgx.Identifier{n}.Sanitize()
	}
	return out
}

// chunks splits rows into runs that share their columns, of at most
// batch.size rows and fewer than 65,535 parameters.
func (t *SinkTask) chunks(rows []*row) [][]*row {
	var out [][]*row
	limit := int(t.cfg.Int(BatchSize))
	for _, r := range rows {
		n := len(out)
		if n > 0 {
			cur := out[n-1]
			if slices.Equal(cur[0].cols, r.cols) && len(cur) < limit && (len(cur)+1)*len(r.cols) < 65535 {
				out[n-1] = append(cur, r)
				continue
			}
		}
		out = append(out, []*row{r})
	}
	return out
}

// insert writes rows with multi-row INSERTs, ON CONFLICT (key) DO UPDATE
// for upserts.
func (t *SinkTask) insert(ctx context.Context, tx pgx.Tx, table string, rows []*row, mode string) error {
	for _, chunk := range t.chunks(rows) {
		cols := chunk[0].cols
		var sb strings.Builder
		sb.WriteString("INSERT INTO " + quoteIdent(table) + " (" + strings.Join(quoteAll(cols), ", ") + ") VALUES ")
		args := make([]any, 0, len(chunk)*len(cols))
		for i, r := range chunk {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteByte('(')
			for j := range cols {
				if j > 0 {
					sb.WriteString(", ")
				}
				args = append(args, r.vals[j])
				fmt.Fprintf(&sb, "$%d", len(args))
			}
			sb.WriteByte(')')
		}
		if mode == "upsert" {
			nkey := len(chunk[0].key)
			sb.WriteString(" ON CONFLICT (" + strings.Join(quoteAll(cols[:nkey]), ", ") + ")")
			if len(cols) == nkey {
				sb.WriteString(" DO NOTHING")
			} else {
				sets := make([]string, 0, len(cols)-nkey)
				for _, c := range quoteAll(cols[nkey:]) {
					sets = append(sets, c+" = EXCLUDED."+c)
				}
				sb.WriteString(" DO UPDATE SET " + strings.Join(sets, ", "))
			}
		}
		if _, err := tx.Exec(ctx, sb.String(), args...); err != nil {
			return fmt.Errorf("write %d rows to %s: %w", len(chunk), table, err)
		}
	}
	return nil
}

// update writes rows with UPDATE ... WHERE key, sent as one batch.
func (t *SinkTask) update(ctx context.Context, tx pgx.Tx, table string, rows []*row) error {
	b := &pgx.Batch{}
	for _, r := range rows {
		nkey := len(r.key)
		if len(r.cols) == nkey {
			continue
		}
		var sets, where []string
		args := make([]any, 0, len(r.cols))
		for j, c := range quoteAll(r.cols) {
			args = append(args, r.vals[j])
			if j < nkey {
				where = append(where, fmt.Sprintf("%s = $%d", c, len(args)))
			} else {
				sets = append(sets, fmt.Sprintf("%s = $%d", c, len(args)))
			}
		}
		b.Queue("UPDATE "+quoteIdent(table)+" SET "+strings.Join(sets, ", ")+" WHERE "+strings.Join(where, " AND "), args...)
	}
	if b.Len() == 0 {
		return nil
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("update %d rows of %s: %w", b.Len(), table, err)
	}
	return nil
}

// delete removes the rows of the keys.
func (t *SinkTask) delete(ctx context.Context, tx pgx.Tx, table string, rows []*row) error {
	for _, chunk := range t.chunks(rows) {
		keyCols := quoteAll(chunk[0].cols[:len(chunk[0].key)])
		var sb strings.Builder
		sb.WriteString("DELETE FROM " + quoteIdent(table) + " WHERE (" + strings.Join(keyCols, ", ") + ") IN (")
		var args []any
		for i, r := range chunk {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteByte('(')
			for j, v := range r.key {
				if j > 0 {
					sb.WriteString(", ")
				}
				args = append(args, v)
				fmt.Fprintf(&sb, "$%d", len(args))
			}
			sb.WriteByte(')')
		}
		sb.WriteByte(')')
		if _, err := tx.Exec(ctx, sb.String(), args...); err != nil {
			return fmt.Errorf("delete %d rows of %s: %w", len(chunk), table, err)
		}
	}
	return nil
}

// splitTable returns a table's schema (the search path's first when not
// given) and name.
func splitTable(table string) (string, string) {
	if i := strings.LastIndexByte(table, '.'); i >= 0 {
		return table[:i], table[i+1:]
	}
	return "", table
}

func (t *SinkTask) columns(ctx context.Context, tx pgx.Tx, table string) (map[string]bool, error) {
	schema, name := splitTable(table)
	q := `SELECT column_name FROM information_schema.columns WHERE table_name = $1 AND table_schema = `
	args := []any{name}
	if schema == "" {
		q += "current_schema()"
	} else {
		q += "$2"
		args = append(args, schema)
	}
	rows, err := tx.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("columns of %s: %w", table, err)
	}
	defer rows.Close()
	cols := map[string]bool{}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, fmt.Errorf("columns of %s: %w", table, err)
		}
		cols[c] = true
	}
	return cols, rows.Err()
}

func (t *SinkTask) tableExists(ctx context.Context, tx pgx.Tx, table string) bool {
	cols, err := t.columns(ctx, tx, table)
	return err == nil && len(cols) > 0
}

// ensureTable makes sure the table has a row's columns: it creates the
// table (auto.create) or adds columns (auto.evolve), or fails.
func (t *SinkTask) ensureTable(ctx context.Context, tx pgx.Tx, table string, r *row) error {
	cols, known := t.tables[table]
	if known && !slices.ContainsFunc(r.cols, func(c string) bool { return !cols[c] }) {
		return nil
	}
	cols, err := t.columns(ctx, tx, table)
	if err != nil {
		return err
	}
	if len(cols) == 0 {
		if !t.cfg.Bool(AutoCreate) {
			return connect.ConfigErrorf("table %s is missing and auto.create is false", table)
		}
		var defs []string
		for i, c := range r.cols {
			typ, err := sqlType(r.types[i])
			if err != nil {
				return connect.ConfigErrorf("table %s, column %s: %v", table, c, err)
			}
			def := pgx.Identifier{c}.Sanitize() + " " + typ
			if !r.types[i].Optional || i < len(r.key) {
				def += " NOT NULL"
			}
			defs = append(defs, def)
		}
		if len(r.key) > 0 {
			defs = append(defs, "PRIMARY KEY ("+strings.Join(quoteAll(r.cols[:len(r.key)]), ", ")+")")
		}
		stmt := "CREATE TABLE IF NOT EXISTS " + quoteIdent(table) + " (" + strings.Join(defs, ", ") + ")"
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("create table %s: %w", table, err)
		}
		t.log.Info("connect: created table", "table", table, "columns", len(r.cols))
		for _, c := range r.cols {
			cols[c] = true
		}
		t.tables[table] = cols
		return nil
	}
	for i, c := range r.cols {
		if cols[c] {
			continue
		}
		if !t.cfg.Bool(AutoEvolve) {
			return connect.ConfigErrorf("table %s has no column %s and auto.evolve is false", table, c)
		}
		if !r.types[i].Optional && r.types[i].Default == nil {
			return connect.ConfigErrorf("table %s: cannot add the required column %s without a default", table, c)
		}
		typ, err := sqlType(r.types[i])
		if err != nil {
			return connect.ConfigErrorf("table %s, column %s: %v", table, c, err)
		}
		if _, err := tx.Exec(ctx, "ALTER TABLE "+quoteIdent(table)+" ADD COLUMN "+pgx.Identifier{c}.Sanitize()+" "+typ); err != nil {
			return fmt.Errorf("add column %s to %s: %w", c, table, err)
		}
		t.log.Info("connect: added column", "table", table, "column", c)
		cols[c] = true
	}
	t.tables[table] = cols
	return nil
}

// Flush does nothing: Put wrote and committed.
func (*SinkTask) Flush(map[connect.TopicPartition]int64) error { return nil }

// Stop closes the connection.
func (t *SinkTask) Stop() error {
	if t.conn == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return t.conn.Close(ctx)
}
