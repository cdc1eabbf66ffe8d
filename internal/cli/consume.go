package cli

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// consumeFlags are the settings of `sluice consume`.
type consumeFlags struct {
	fromBeginning bool
	offset        string
	fromTime      string
	partitions    []int32
	count         int64
	exitAtEnd     bool
	follow        bool
	isolation     string
	format        string
	tmpl          string
	props         []string
	idle          time.Duration
}

// outFormat is how records are printed.
type outFormat struct {
	kind string // plain, json, template
	tmpl *template.Template

	// plain, as Kafka's DefaultMessageFormatter: the enabled fields in this
	// order, separated by keySep.
	printTimestamp, printPartition, printOffset, printHeaders, printKey, printValue bool
	keySep, lineSep, headersSep, nullLiteral                                        string
}

func (a *app) consumeCmd() *cobra.Command {
	f := &consumeFlags{}
	cmd := &cobra.Command{
		Use:   "consume TOPIC",
		Short: "Print a topic's records",
		Long: `Print the records of a topic, as kafka-console-consumer.sh (and kcat -C) does.
Partitions are read directly, without a consumer group.

Where to start (every partition, or those given with --partition):
  --from-beginning           the first record (--offset beginning)
  --offset end               only records produced from now on (the default)
  --offset N                 offset N; --offset -N: the last N records
  --from-time T              the first record at or after T (RFC 3339, or ms since the epoch)
Where to stop: -n N records, or --exit-at-end (-e) once the records present at
the start have been printed; otherwise it follows the topic until interrupted.

Output (--format):
  plain      the value; --property print.key=true (print.timestamp, print.partition,
             print.offset, print.headers, print.value, key.separator,
             line.separator, headers.separator, null.literal) as Kafka's console consumer
  json       one JSON object per line: topic, partition, offset, timestamp,
             key, value, headers (non-UTF-8 bytes as base64, flagged)
  template   a Go template per record (--template), with .Topic .Partition .Offset
             .Timestamp .Key .Value .Headers (each .Key and .Value) .LeaderEpoch`,
		Example: `  sluice consume orders --from-beginning -e
  sluice consume orders --offset -10 --property print.key=true --property key.separator=:
  sluice consume orders --from-beginning --format json -n 100
  sluice consume orders -p 0 --offset 42 --template '{{.Offset}} {{.Key}}={{.Value}}'`,
		Args: cobra.ExactArgs(1),
	}
	cf := a.addClientFlags(cmd)
	fl := cmd.Flags()
	fl.BoolVar(&f.fromBeginning, "from-beginning", false, "start at the first record")
	fl.StringVarP(&f.offset, "offset", "o", "", "start at: beginning, end, an offset N, or -N for the last N records")
	fl.StringVar(&f.fromTime, "from-time", "", "start at the first record at or after this time (RFC 3339, or ms since the epoch)")
	fl.Int32SliceVarP(&f.partitions, "partition", "p", nil, "read only these partitions (repeatable, or comma-separated)")
	fl.Int64VarP(&f.count, "max-messages", "n", 0, "stop after this many records (0: no limit)")
	fl.BoolVarP(&f.exitAtEnd, "exit-at-end", "e", false, "stop once the records present at the start are printed")
	fl.BoolVar(&f.follow, "follow", true, "keep waiting for new records (--follow=false is --exit-at-end)")
	fl.StringVar(&f.isolation, "isolation-level", "read_uncommitted", "read_uncommitted, or read_committed to skip aborted transactions")
	fl.StringVar(&f.format, "format", "plain", "plain, json or template")
	fl.StringVar(&f.tmpl, "template", "", "Go template for each record (implies --format template)")
	fl.StringArrayVar(&f.props, "property", nil, "Kafka console-consumer formatter property key=value (print.key=true, key.separator=:, ...)")
	fl.DurationVar(&f.idle, "idle-timeout", 0, "stop after this long without a record (0: never), like --timeout-ms")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return a.runConsume(cmd, cf, f, args[0])
	}
	return cmd
}

// outFormat builds the output format from the flags.
func (f *consumeFlags) outFormat() (*outFormat, error) {
	o := &outFormat{kind: strings.ToLower(f.format), printValue: true, keySep: "\t", lineSep: "\n", headersSep: ",", nullLiteral: "null"}
	if f.tmpl != "" {
		o.kind = "template"
	}
	switch o.kind {
	case "plain", "json":
	case "template":
		if f.tmpl == "" {
			return nil, errors.New("--format template needs --template TEXT")
		}
		t, err := template.New("record").Option("missingkey=error").Parse(f.tmpl)
		if err != nil {
			return nil, fmt.Errorf("--template: %w", err)
		}
		o.tmpl = t
	default:
		return nil, fmt.Errorf("--format %q: want plain, json or template", f.format)
	}
	for _, kv := range f.props {
		k, v, err := parseKV("--property", kv)
		if err != nil {
			return nil, err
		}
		b := strings.EqualFold(v, "true")
		switch k {
		case "print.timestamp":
			o.printTimestamp = b
		case "print.partition":
			o.printPartition = b
		case "print.offset":
			o.printOffset = b
		case "print.headers":
			o.printHeaders = b
		case "print.key":
			o.printKey = b
		case "print.value":
			o.printValue = b
		case "key.separator":
			o.keySep = unescape(v)
		case "line.separator":
			o.lineSep = unescape(v)
		case "headers.separator":
			o.headersSep = unescape(v)
		case "null.literal":
			o.nullLiteral = v
		default:
			return nil, fmt.Errorf("--property %s: unknown console-consumer property (known: print.timestamp, print.partition, print.offset, print.headers, print.key, print.value, key.separator, line.separator, headers.separator, null.literal)", k)
		}
	}
	return o, nil
}

// unescape turns \t, \n and \\ typed on a command line into the characters.
func unescape(s string) string {
	return strings.NewReplacer(`\t`, "\t", `\n`, "\n", `\r`, "\r", `\\`, `\`).Replace(s)
}

// tmplRecord is what a --template sees.
type tmplRecord struct {
	Topic       string
	Partition   int32
	Offset      int64
	Timestamp   time.Time
	LeaderEpoch int32
	Key, Value  string
	Headers     []tmplHeader
}

type tmplHeader struct{ Key, Value string }

// jsonRecord is one line of --format json.
type jsonRecord struct {
	Topic         string       `json:"topic"`
	Partition     int32        `json:"partition"`
	Offset        int64        `json:"offset"`
	Timestamp     int64        `json:"timestamp"`
	Key           *string      `json:"key"`
	KeyEncoding   string       `json:"key_encoding,omitempty"`
	Value         *string      `json:"value"`
	ValueEncoding string       `json:"value_encoding,omitempty"`
	Headers       []jsonHeader `json:"headers"`
}

type jsonHeader struct {
	Key           string  `json:"key"`
	Value         *string `json:"value"`
	ValueEncoding string  `json:"value_encoding,omitempty"`
}

// jsonBytes renders bytes as a JSON string: as text when valid UTF-8, else
// base64 with the encoding named.
func jsonBytes(b []byte) (*string, string) {
	if b == nil {
		return nil, ""
	}
	if utf8.Valid(b) {
		s := string(b)
		return &s, ""
	}
	s := base64.StdEncoding.EncodeToString(b)
	return &s, "base64"
}

// write prints one record.
func (o *outFormat) write(w *bufio.Writer, r *kgo.Record) error {
	switch o.kind {
	case "json":
		jr := jsonRecord{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp.UnixMilli(), Headers: []jsonHeader{}}
		jr.Key, jr.KeyEncoding = jsonBytes(r.Key)
		jr.Value, jr.ValueEncoding = jsonBytes(r.Value)
		for _, h := range r.Headers {
			jh := jsonHeader{Key: h.Key}
			jh.Value, jh.ValueEncoding = jsonBytes(h.Value)
			jr.Headers = append(jr.Headers, jh)
		}
		b, err := json.Marshal(jr)
		if err != nil {
			return err
		}
		w.Write(b)
		return w.WriteByte('\n')
	case "template":
		tr := tmplRecord{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp,
			LeaderEpoch: r.LeaderEpoch, Key: string(r.Key), Value: string(r.Value)}
		for _, h := range r.Headers {
			tr.Headers = append(tr.Headers, tmplHeader{Key: h.Key, Value: string(h.Value)})
		}
		if err := o.tmpl.Execute(w, tr); err != nil {
			return fmt.Errorf("--template: %w", err)
		}
		return w.WriteByte('\n')
	}
	sep := false
	field := func(s string) {
		if sep {
			w.WriteString(o.keySep)
		}
		w.WriteString(s)
		sep = true
	}
	if o.printTimestamp {
		field("CreateTime:" + strconv.FormatInt(r.Timestamp.UnixMilli(), 10))
	}
	if o.printPartition {
		field("Partition:" + strconv.Itoa(int(r.Partition)))
	}
	if o.printOffset {
		field("Offset:" + strconv.FormatInt(r.Offset, 10))
	}
	if o.printHeaders {
		if len(r.Headers) == 0 {
			field("NO_HEADERS")
		} else {
			hs := make([]string, len(r.Headers))
			for i, h := range r.Headers {
				v := o.nullLiteral
				if h.Value != nil {
					v = string(h.Value)
				}
				hs[i] = h.Key + ":" + v
			}
			field(strings.Join(hs, o.headersSep))
		}
	}
	if o.printKey {
		field(o.orNull(r.Key))
	}
	if o.printValue {
		field(o.orNull(r.Value))
	}
	_, err := w.WriteString(o.lineSep)
	return err
}

func (o *outFormat) orNull(b []byte) string {
	if b == nil {
		return o.nullLiteral
	}
	return string(b)
}

// startAt resolves where each partition starts, from the flags.
func (f *consumeFlags) startAt(ctx context.Context, adm *kadm.Client, topic string, parts []int32, starts, ends map[int32]int64) (map[int32]int64, error) {
	at := make(map[int32]int64, len(parts))
	offset := strings.ToLower(strings.TrimSpace(f.offset))
	set := 0
	for _, b := range []bool{f.fromBeginning, offset != "", f.fromTime != ""} {
		if b {
			set++
		}
	}
	if set > 1 {
		return nil, errors.New("give only one of --from-beginning, --offset and --from-time")
	}
	switch {
	case f.fromBeginning || offset == "beginning" || offset == "earliest" || offset == "start":
		for _, p := range parts {
			at[p] = starts[p]
		}
	case f.fromTime != "":
		ms, err := parseTime(f.fromTime)
		if err != nil {
			return nil, err
		}
		lo, err := adm.ListOffsetsAfterMilli(ctx, ms, topic)
		if err != nil {
			return nil, err
		}
		for _, p := range parts {
			o, ok := lo.Lookup(topic, p)
			if !ok || o.Err != nil || o.Offset < 0 {
				at[p] = ends[p] // no record at or after the time
				continue
			}
			at[p] = o.Offset
		}
	case offset == "" || offset == "end" || offset == "latest":
		for _, p := range parts {
			at[p] = ends[p]
		}
	default:
		n, err := strconv.ParseInt(offset, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("--offset %q: want beginning, end, N or -N", f.offset)
		}
		for _, p := range parts {
			o := n
			if n < 0 {
				o = ends[p] + n
			}
			at[p] = min(max(o, starts[p]), ends[p])
		}
	}
	return at, nil
}

// parseTime reads RFC 3339 or milliseconds since the epoch.
func parseTime(s string) (int64, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return ms, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, fmt.Errorf("--from-time %q: want RFC 3339 (2024-05-01T12:00:00Z) or milliseconds since the epoch", s)
	}
	return t.UnixMilli(), nil
}

func (a *app) runConsume(cmd *cobra.Command, cf *clientFlags, f *consumeFlags, topic string) error {
	out, err := f.outFormat()
	if err != nil {
		return err
	}
	var iso kgo.IsolationLevel
	switch f.isolation {
	case "read_uncommitted":
		iso = kgo.ReadUncommitted()
	case "read_committed":
		iso = kgo.ReadCommitted()
	default:
		return fmt.Errorf("--isolation-level %q: want read_uncommitted or read_committed", f.isolation)
	}
	exitAtEnd := f.exitAtEnd || !f.follow
	ctx, cancel := signalContext(cmd)
	defer cancel()

	meta, adm, err := cf.client()
	if err != nil {
		return err
	}
	defer meta.Close()
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		return cf.explain(err)
	}
	td, ok := md.Topics[topic]
	if !ok || td.Err != nil {
		if !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition) {
			return fmt.Errorf("topic %s does not exist (UNKNOWN_TOPIC_OR_PARTITION)", topic)
		}
		return fmt.Errorf("topic %s: %w", topic, td.Err)
	}
	parts := f.partitions
	if len(parts) == 0 {
		for p := range td.Partitions {
			parts = append(parts, p)
		}
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	for _, p := range parts {
		if _, ok := td.Partitions[p]; !ok {
			return fmt.Errorf("topic %s has no partition %d (it has %d)", topic, p, len(td.Partitions))
		}
	}

	starts, ends, err := offsetBounds(ctx, adm, topic, f.isolation == "read_committed")
	if err != nil {
		return cf.explain(err)
	}
	at, err := f.startAt(ctx, adm, topic, parts, starts, ends)
	if err != nil {
		return cf.explain(err)
	}
	// With --exit-at-end, a partition is done once its position reaches the
	// end it had at the start.
	pending := map[int32]bool{}
	assign := map[int32]kgo.Offset{}
	for _, p := range parts {
		assign[p] = kgo.NewOffset().At(at[p])
		if at[p] < ends[p] {
			pending[p] = true
		}
	}

	w := bufio.NewWriterSize(cmd.OutOrStdout(), 64<<10)
	defer w.Flush()
	var printed int64
	finished := func() bool {
		return (f.count > 0 && printed >= f.count) || (exitAtEnd && len(pending) == 0)
	}
	if !finished() {
		cl, _, err := cf.client(
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: assign}),
			kgo.FetchIsolationLevel(iso),
		)
		if err != nil {
			return err
		}
		defer cl.Close()
		if err := consumeLoop(ctx, cl, w, out, f, ends, pending, &printed, finished); err != nil {
			w.Flush()
			return cf.explain(err)
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "Processed a total of %d messages\n", printed)
	return nil
}

// consumeLoop polls and prints until finished, the idle timeout, or ctx.
func consumeLoop(ctx context.Context, cl *kgo.Client, w *bufio.Writer, out *outFormat, f *consumeFlags,
	ends map[int32]int64, pending map[int32]bool, printed *int64, finished func() bool) error {
	for !finished() {
		pctx, cancel := ctx, context.CancelFunc(func() {})
		if f.idle > 0 {
			pctx, cancel = context.WithTimeout(ctx, f.idle)
		}
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return nil // interrupted: print what was read
		}
		if pctx.Err() != nil && fs.NumRecords() == 0 {
			return nil // idle timeout
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			if ferr == nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				ferr = fmt.Errorf("%s-%d: %w", t, p, err)
			}
		})
		if ferr != nil {
			return ferr
		}
		var werr error
		fs.EachRecord(func(r *kgo.Record) {
			if werr != nil || (f.count > 0 && *printed >= f.count) {
				return
			}
			if err := out.write(w, r); err != nil {
				werr = err
				return
			}
			*printed++
			if pending[r.Partition] && r.Offset+1 >= ends[r.Partition] {
				delete(pending, r.Partition)
			}
		})
		if werr != nil {
			return werr
		}
		// Followers see records as they come; piped output is flushed per poll.
		if err := w.Flush(); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
	}
	return nil
}

// offsetBounds returns each partition's first offset and its end: the high
// watermark, or the last stable offset under read_committed.
func offsetBounds(ctx context.Context, adm *kadm.Client, topic string, committed bool) (map[int32]int64, map[int32]int64, error) {
	so, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, nil, err
	}
	list := adm.ListEndOffsets
	if committed {
		list = adm.ListCommittedOffsets
	}
	eo, err := list(ctx, topic)
	if err != nil {
		return nil, nil, err
	}
	starts, ends := map[int32]int64{}, map[int32]int64{}
	var firstErr error
	for _, lo := range []struct {
		l   kadm.ListedOffsets
		dst map[int32]int64
	}{{so, starts}, {eo, ends}} {
		lo.l.Each(func(o kadm.ListedOffset) {
			if o.Err != nil && firstErr == nil {
				firstErr = fmt.Errorf("%s-%d: %w", o.Topic, o.Partition, o.Err)
			}
			lo.dst[o.Partition] = o.Offset
		})
	}
	return starts, ends, firstErr
}
