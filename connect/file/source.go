// Package file holds Kafka's example connectors, FileStreamSource and
// FileStreamSink: a source that sends each line of a file (or of standard
// input) to a topic, and a sink that appends each record of its topics to a
// file (or standard output) as a line.
package file

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"time"

	"github.com/sluicehq/sluice/connect"
	"github.com/sluicehq/sluice/connect/configdef"
	"github.com/sluicehq/sluice/connect/data"
)

// Version is the connectors' version.
const Version = "1.0"

// Settings of the file connectors, as Kafka names them.
const (
	FileConfig      = "file"
	TopicConfig     = "topic"
	BatchSizeConfig = "batch.size"
	// The source partition and offset keys, as Kafka's: the offset is the
	// byte position after the last line sent.
	FilenameField = "filename"
	PositionField = "position"
)

// idleWait is how long Poll waits for a file to grow or appear before
// returning no records.
const idleWait = 200 * time.Millisecond

// SourceConfig describes FileStreamSource's settings.
func SourceConfig() *configdef.Def {
	return configdef.New(
		configdef.Key{Name: FileConfig, Type: configdef.String, Importance: configdef.High,
			Doc: "Source filename. If not specified, the standard input will be used"},
		configdef.Key{Name: TopicConfig, Type: configdef.List, Required: true, Validator: configdef.NonEmpty(), Importance: configdef.High,
			Doc: "The topic to publish data to"},
		configdef.Key{Name: BatchSizeConfig, Type: configdef.Int, Default: "2000", Validator: configdef.AtLeast(1), Importance: configdef.Low,
			Doc: "The maximum number of records the source task can read from the file each time it is polled"},
	)
}

// SourceConnector is FileStreamSource: one task that reads the file.
type SourceConnector struct {
	props map[string]string
	// Stdin is read when no file is set; os.Stdin when nil.
	Stdin io.Reader
}

// Version returns the connector's version.
func (*SourceConnector) Version() string { return Version }

// Config describes the settings.
func (*SourceConnector) Config() *configdef.Def { return SourceConfig() }

// Start checks the settings: exactly one topic.
func (c *SourceConnector) Start(_ connect.ConnectorContext, props map[string]string) error {
	v, err := SourceConfig().Parse(props)
	if err != nil {
		return err
	}
	if len(v.List(TopicConfig)) != 1 {
		return connect.ConfigErrorf("'topic' in FileStreamSourceConnector configuration requires definition of a single topic")
	}
	c.props = props
	return nil
}

// TaskConfigs returns one task: a file has one reader.
func (c *SourceConnector) TaskConfigs(int) ([]map[string]string, error) {
	return []map[string]string{c.props}, nil
}

// Stop does nothing.
func (*SourceConnector) Stop() error { return nil }

// NewTask returns a source task.
func (c *SourceConnector) NewTask() connect.SourceTask { return &SourceTask{stdin: c.Stdin} }

// SourceTask reads lines. A line ends at \n, \r or \r\n, which are not
// part of it; a last line without an end waits until one is written.
type SourceTask struct {
	stdin     io.Reader
	ctx       connect.SourceTaskContext
	filename  string
	topic     string
	batchSize int

	f         *os.File
	r         io.Reader
	buf       []byte // unread bytes start at buf[start:end]
	start     int
	end       int
	position  int64 // file position of buf[start]
	partition map[string]any
	eof       bool // the last read found no data

	lines chan []byte // stdin: lines from the reader goroutine
	errs  chan error
}

// Version returns the task's version.
func (*SourceTask) Version() string { return Version }

// Start reads the settings.
func (t *SourceTask) Start(ctx connect.SourceTaskContext, props map[string]string) error {
	v, err := SourceConfig().Parse(props)
	if err != nil {
		return err
	}
	t.ctx = ctx
	t.filename = v.String(FileConfig)
	t.topic = v.List(TopicConfig)[0]
	t.batchSize = int(v.Int(BatchSizeConfig))
	t.partition = map[string]any{FilenameField: t.filename}
	t.buf = make([]byte, 64*1024)
	if t.filename == "" {
		in := t.stdin
		if in == nil {
			in = os.Stdin
		}
		t.startStdin(in)
	}
	return nil
}

// startStdin reads standard input in a goroutine: a read from a terminal
// or pipe cannot be interrupted, so Poll waits on a channel instead. Its
// lines carry no offsets: standard input cannot be resumed.
func (t *SourceTask) startStdin(in io.Reader) {
	t.lines = make(chan []byte, 4096)
	t.errs = make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 64*1024), 1<<30)
		sc.Split(scanLines)
		for sc.Scan() {
			t.lines <- bytes.Clone(sc.Bytes())
		}
		t.errs <- sc.Err()
		close(t.lines)
	}()
}

func scanLines(b []byte, atEOF bool) (int, []byte, error) {
	line, n, ok := cutLine(b, atEOF)
	if ok {
		return n, line, nil
	}
	if atEOF && len(b) > 0 {
		return len(b), b, nil
	}
	return 0, nil, nil
}

// cutLine finds the first line of b: its content and the bytes it takes
// with its end. A \r at the end of b waits for the next byte unless atEOF.
func cutLine(b []byte, atEOF bool) ([]byte, int, bool) {
	i := bytes.IndexAny(b, "\r\n")
	if i < 0 {
		return nil, 0, false
	}
	if b[i] == '\n' {
		return b[:i], i + 1, true
	}
	if i+1 >= len(b) {
		if atEOF {
			return b[:i], i + 1, true
		}
		return nil, 0, false
	}
	if b[i+1] == '\n' {
		return b[:i], i + 2, true
	}
	return b[:i], i + 1, true
}

// Poll returns up to batch.size lines, waiting a little when there are
// none.
func (t *SourceTask) Poll(ctx context.Context) ([]*connect.SourceRecord, error) {
	if t.lines != nil {
		return t.pollStdin(ctx)
	}
	if t.f == nil {
		if err := t.open(); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				t.log().Warn("file source: waiting for the file to be created", "file", t.filename)
				return nil, sleep(ctx, time.Second)
			}
			return nil, err
		}
	}
	var recs []*connect.SourceRecord
	now := time.Now()
	for len(recs) < t.batchSize {
		line, n, ok := cutLine(t.buf[t.start:t.end], false)
		if ok {
			t.position += int64(n)
			t.start += n
			recs = append(recs, t.record(string(line), now))
			continue
		}
		if t.eof && len(recs) > 0 {
			break // return what there is; read again next time
		}
		if err := t.fill(); err != nil {
			return recs, err
		}
		if t.eof {
			if len(recs) > 0 {
				break
			}
			return nil, sleep(ctx, idleWait)
		}
	}
	return recs, nil
}

func (t *SourceTask) record(line string, now time.Time) *connect.SourceRecord {
	return &connect.SourceRecord{
		Record: connect.Record{Topic: t.topic, ValueSchema: data.StringSchema, Value: line, Timestamp: now},
		// The partition map is shared by every record: the worker only reads it.
		SourcePartition: t.partition,
		SourceOffset:    map[string]any{PositionField: t.position},
	}
}

// fill reads more of the file into the buffer, growing it when a line does
// not fit.
func (t *SourceTask) fill() error {
	if t.start > 0 {
		t.end = copy(t.buf, t.buf[t.start:t.end])
		t.start = 0
	}
	if t.end == len(t.buf) {
		t.buf = append(t.buf, make([]byte, len(t.buf))...)
	}
	n, err := t.r.Read(t.buf[t.end:])
	t.end += n
	t.eof = n == 0
	if err != nil && err != io.EOF {
		return fmt.Errorf("read %s: %w", t.filename, err)
	}
	return nil
}

// open opens the file at the stored offset.
func (t *SourceTask) open() error {
	f, err := os.Open(t.filename)
	if err != nil {
		return err
	}
	off, err := t.ctx.Offset(t.partition)
	if err != nil {
		f.Close()
		return fmt.Errorf("read the stored offset of %s: %w", t.filename, err)
	}
	var pos int64
	if off != nil {
		p, ok := off[PositionField].(int64)
		if !ok && off[PositionField] != nil {
			f.Close()
			return fmt.Errorf("offset position of %s is %T, not a number", t.filename, off[PositionField])
		}
		pos = p
	}
	if pos > 0 {
		if _, err := f.Seek(pos, io.SeekStart); err != nil {
			f.Close()
			return fmt.Errorf("seek %s to the stored offset %d: %w", t.filename, pos, err)
		}
		t.log().Info("file source: resuming from the stored offset", "file", t.filename, "position", pos)
	}
	t.f, t.r, t.position = f, f, pos
	return nil
}

func (t *SourceTask) pollStdin(ctx context.Context) ([]*connect.SourceRecord, error) {
	var recs []*connect.SourceRecord
	now := time.Now()
	timer := time.NewTimer(idleWait)
	defer timer.Stop()
	for len(recs) < t.batchSize {
		select {
		case line, ok := <-t.lines:
			if !ok {
				if len(recs) > 0 {
					return recs, nil
				}
				if err := <-t.errs; err != nil {
					return nil, fmt.Errorf("read standard input: %w", err)
				}
				t.errs <- nil
				return nil, sleep(ctx, idleWait) // stdin ended: nothing more will come
			}
			recs = append(recs, &connect.SourceRecord{Record: connect.Record{Topic: t.topic, ValueSchema: data.StringSchema,
				Value: string(line), Timestamp: now}})
		case <-timer.C:
			return recs, nil
		case <-ctx.Done():
			return recs, nil
		}
		if len(recs) > 0 && len(t.lines) == 0 {
			return recs, nil
		}
	}
	return recs, nil
}

func (t *SourceTask) log() *slog.Logger {
	if t.ctx != nil && t.ctx.Logger() != nil {
		return t.ctx.Logger()
	}
	return slog.Default()
}

// Commit does nothing: the worker stores the offsets.
func (*SourceTask) Commit() error { return nil }

// Stop closes the file.
func (t *SourceTask) Stop() error {
	if t.f != nil {
		return t.f.Close()
	}
	return nil
}

// sleep waits d or until ctx is done; it never fails.
func sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
	return nil
}
