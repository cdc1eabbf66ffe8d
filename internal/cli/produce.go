package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
)

// produceFlags are the settings of `sluice produce`.
type produceFlags struct {
	file        string
	keySep      string
	headers     []string
	props       []string
	acks        string
	compression string
	partition   int32
	rate        float64
	linger      time.Duration
	maxLine     int
	verbose     bool
}

// lineFormat is how a line splits into headers, key and value: Kafka's
// console producer properties.
type lineFormat struct {
	parseKey      bool
	keySep        string
	parseHeaders  bool
	headersDelim  string // between the headers and the rest
	headersSep    string // between two headers
	headerKeySep  string // between a header's key and value
	nullMarker    string // a key or value equal to it is null
	staticHeaders []kgo.RecordHeader
}

func (a *app) produceCmd() *cobra.Command {
	f := &produceFlags{}
	cmd := &cobra.Command{
		Use:   "produce TOPIC",
		Short: "Produce records from lines of stdin or a file",
		Long: `Produce one record per line of stdin (or --file), as kafka-console-producer.sh
does. A missing topic is created if the broker allows it (auto.create.topics.enable).

Keys: with --key-separator SEP (or --property parse.key=true and
key.separator=SEP) each line is KEY SEP VALUE.
Headers: -H key=value adds a header to every record; with --property
parse.headers=true each line starts with its own headers, as in Kafka:
  h1:v1,h2:v2<TAB>key<TAB>value
(headers.delimiter, headers.separator and headers.key.separator change the
three separators). --property null.marker=X makes a key or value X null.

Nothing is printed on success (-v prints a summary on stderr); the exit code is
non-zero if any record could not be produced.`,
		Example: `  echo hello | sluice produce greetings
  sluice produce orders --key-separator : < orders.txt
  sluice produce orders --file orders.txt --acks 1 --compression zstd --rate 1000
  sluice produce orders -H source=batch --property parse.key=true --property key.separator=,`,
		Args: cobra.ExactArgs(1),
	}
	cf := a.addClientFlags(cmd)
	fl := cmd.Flags()
	fl.StringVarP(&f.file, "file", "f", "", "read lines from this file instead of stdin")
	fl.StringVarP(&f.keySep, "key-separator", "K", "", "split each line into key and value at the first SEP")
	fl.StringArrayVarP(&f.headers, "header", "H", nil, "header key=value for every record, repeatable")
	fl.StringArrayVar(&f.props, "property", nil, "Kafka console-producer property key=value: parse.key, key.separator, parse.headers, headers.delimiter, headers.separator, headers.key.separator, null.marker")
	fl.StringVar(&f.acks, "acks", "all", "acknowledgements: all (-1), 1 or 0")
	fl.StringVar(&f.acks, "request-required-acks", "all", "the same as --acks, as Kafka's console producer spells it")
	fl.StringVar(&f.compression, "compression", "none", "none, gzip, snappy, lz4 or zstd")
	fl.StringVar(&f.compression, "compression-codec", "none", "the same as --compression, as Kafka's console producer spells it")
	fl.Int32VarP(&f.partition, "partition", "p", -1, "produce every record to this partition (-1: by key hash, keyless records spread)")
	fl.Float64Var(&f.rate, "rate", 0, "at most this many records per second (0: as fast as possible)")
	fl.DurationVar(&f.linger, "linger", 0, "how long to wait to fill a batch")
	fl.IntVar(&f.maxLine, "max-line-bytes", 16<<20, "longest line accepted")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "print a summary on stderr")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return a.runProduce(cmd, cf, f, args[0])
	}
	return cmd
}

// format builds the line format from the flags.
func (f *produceFlags) format() (lineFormat, error) {
	lf := lineFormat{keySep: "\t", headersDelim: "\t", headersSep: ",", headerKeySep: ":"}
	for _, kv := range f.props {
		k, v, err := parseKV("--property", kv)
		if err != nil {
			return lf, err
		}
		switch k {
		case "parse.key":
			lf.parseKey = strings.EqualFold(v, "true")
		case "key.separator":
			lf.keySep = v
		case "parse.headers":
			lf.parseHeaders = strings.EqualFold(v, "true")
		case "headers.delimiter":
			lf.headersDelim = v
		case "headers.separator":
			lf.headersSep = v
		case "headers.key.separator":
			lf.headerKeySep = v
		case "null.marker":
			lf.nullMarker = v
		case "ignore.error":
			// Accepted for compatibility; a bad line always stops the run.
		default:
			return lf, fmt.Errorf("--property %s: unknown console-producer property (known: parse.key, key.separator, parse.headers, headers.delimiter, headers.separator, headers.key.separator, null.marker)", k)
		}
	}
	if f.keySep != "" {
		lf.parseKey, lf.keySep = true, f.keySep
	}
	for _, sep := range []struct{ name, v string }{{"key.separator", lf.keySep}, {"headers.delimiter", lf.headersDelim}, {"headers.separator", lf.headersSep}, {"headers.key.separator", lf.headerKeySep}} {
		if sep.v == "" {
			return lf, fmt.Errorf("%s must not be empty", sep.name)
		}
	}
	for _, h := range f.headers {
		k, v, err := parseKV("--header", h)
		if err != nil {
			return lf, err
		}
		lf.staticHeaders = append(lf.staticHeaders, kgo.RecordHeader{Key: k, Value: []byte(v)})
	}
	return lf, nil
}

// parse turns one line into a record.
func (lf *lineFormat) parse(line []byte, n int) (*kgo.Record, error) {
	r := &kgo.Record{}
	rest := line
	if lf.parseHeaders {
		hs, after, ok := bytes.Cut(rest, []byte(lf.headersDelim))
		if !ok {
			return nil, fmt.Errorf("line %d: no headers delimiter %q (parse.headers=true)", n, lf.headersDelim)
		}
		rest = after
		if len(hs) > 0 {
			for _, h := range bytes.Split(hs, []byte(lf.headersSep)) {
				k, v, ok := bytes.Cut(h, []byte(lf.headerKeySep))
				if !ok {
					return nil, fmt.Errorf("line %d: header %q has no key separator %q", n, h, lf.headerKeySep)
				}
				var val []byte
				if lf.nullMarker == "" || string(v) != lf.nullMarker {
					val = bytes.Clone(v)
				}
				r.Headers = append(r.Headers, kgo.RecordHeader{Key: string(k), Value: val})
			}
		}
	}
	r.Headers = append(r.Headers, lf.staticHeaders...)
	if lf.parseKey {
		k, v, ok := bytes.Cut(rest, []byte(lf.keySep))
		if !ok {
			return nil, fmt.Errorf("line %d: no key separator %q", n, lf.keySep)
		}
		r.Key, rest = lf.orNull(k), v
	}
	r.Value = lf.orNull(rest)
	return r, nil
}

// orNull copies b, or returns nil when b is the null marker.
func (lf *lineFormat) orNull(b []byte) []byte {
	if lf.nullMarker != "" && string(b) == lf.nullMarker {
		return nil
	}
	if b == nil {
		return []byte{}
	}
	return bytes.Clone(b)
}

// producerOpts maps --acks, --compression and --partition to client options.
func (f *produceFlags) producerOpts() ([]kgo.Opt, error) {
	opts := []kgo.Opt{kgo.AllowAutoTopicCreation(), kgo.ProducerLinger(f.linger)}
	switch strings.ToLower(f.acks) {
	case "all", "-1":
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	case "1":
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	case "0":
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	default:
		return nil, fmt.Errorf("--acks %q: want all, -1, 1 or 0", f.acks)
	}
	var codec kgo.CompressionCodec
	switch strings.ToLower(f.compression) {
	case "none", "uncompressed", "":
		codec = kgo.NoCompression()
	case "gzip":
		codec = kgo.GzipCompression()
	case "snappy":
		codec = kgo.SnappyCompression()
	case "lz4":
		codec = kgo.Lz4Compression()
	case "zstd":
		codec = kgo.ZstdCompression()
	default:
		return nil, fmt.Errorf("--compression %q: want none, gzip, snappy, lz4 or zstd", f.compression)
	}
	opts = append(opts, kgo.ProducerBatchCompression(codec))
	if f.partition >= 0 {
		opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	} else if f.partition != -1 {
		return nil, fmt.Errorf("--partition %d: want a partition number, or -1", f.partition)
	}
	if f.rate < 0 {
		return nil, fmt.Errorf("--rate %v: want a rate of at least 0", f.rate)
	}
	return opts, nil
}

func (a *app) runProduce(cmd *cobra.Command, cf *clientFlags, f *produceFlags, topic string) error {
	lf, err := f.format()
	if err != nil {
		return err
	}
	opts, err := f.producerOpts()
	if err != nil {
		return err
	}
	var in io.Reader = cmd.InOrStdin()
	if f.file != "" {
		fh, err := os.Open(f.file)
		if err != nil {
			return fmt.Errorf("--file: %w", err)
		}
		defer fh.Close()
		in = fh
	}
	ctx, cancel := signalContext(cmd)
	defer cancel()
	cl, adm, err := cf.client(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := cf.reach(ctx, adm); err != nil {
		return err
	}

	var (
		sent, failed atomic.Int64
		bytesOut     atomic.Int64
		firstErr     error
		errOnce      sync.Once
	)
	done := func(r *kgo.Record, err error) {
		if err != nil {
			failed.Add(1)
			errOnce.Do(func() { firstErr = err })
			return
		}
		sent.Add(1)
		bytesOut.Add(int64(len(r.Key) + len(r.Value)))
	}

	start := time.Now()
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64<<10), max(f.maxLine, 1))
	var readErr error
	n := 0
	for sc.Scan() {
		n++
		line := sc.Bytes()
		line = bytes.TrimSuffix(line, []byte("\r"))
		r, err := lf.parse(line, n)
		if err != nil {
			readErr = err
			break
		}
		r.Topic = topic
		if f.partition >= 0 {
			r.Partition = f.partition
		}
		if f.rate > 0 {
			pace(ctx, start, n-1, f.rate)
		}
		if ctx.Err() != nil {
			break
		}
		cl.Produce(ctx, r, done)
	}
	if err := sc.Err(); err != nil && readErr == nil {
		if errors.Is(err, bufio.ErrTooLong) {
			readErr = fmt.Errorf("line %d is longer than --max-line-bytes %d", n+1, f.maxLine)
		} else {
			readErr = fmt.Errorf("read input: %w", err)
		}
	}
	flushErr := cl.Flush(ctx)

	if f.verbose {
		el := time.Since(start).Seconds()
		fmt.Fprintf(cmd.ErrOrStderr(), "Produced %d records (%d bytes of keys and values) to %s in %.2f s", sent.Load(), bytesOut.Load(), topic, el)
		if el > 0 {
			fmt.Fprintf(cmd.ErrOrStderr(), ", %.0f records/s", float64(sent.Load())/el)
		}
		fmt.Fprintln(cmd.ErrOrStderr())
	}
	switch {
	case failed.Load() > 0:
		return fmt.Errorf("%d of %d records were not produced; the first error: %w", failed.Load(), failed.Load()+sent.Load(), cf.explain(firstErr))
	case readErr != nil:
		return readErr
	case ctx.Err() != nil && cmd.Context().Err() == nil:
		return fmt.Errorf("interrupted after %d records", sent.Load())
	case flushErr != nil:
		return fmt.Errorf("flush: %w", flushErr)
	}
	return nil
}

// pace waits until record i may go at rate records per second.
func pace(ctx context.Context, start time.Time, i int, rate float64) {
	at := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
	d := time.Until(at)
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
