package file

import (
	"bufio"
	"fmt"
	"io"
	"os"

	"github.com/sluicehq/sluice/connect"
	"github.com/sluicehq/sluice/connect/configdef"
	"github.com/sluicehq/sluice/connect/data"
)

// SinkConfig describes FileStreamSink's own settings (topics is the
// worker's).
func SinkConfig() *configdef.Def {
	return configdef.New(configdef.Key{Name: FileConfig, Type: configdef.String, Importance: configdef.High,
		Doc: "Destination filename. If not specified, the standard output will be used"})
}

// SinkConnector is FileStreamSink.
type SinkConnector struct {
	props map[string]string
	// Stdout is written when no file is set; os.Stdout when nil.
	Stdout io.Writer
}

// Version returns the connector's version.
func (*SinkConnector) Version() string { return Version }

// Config describes the settings.
func (*SinkConnector) Config() *configdef.Def { return SinkConfig() }

// Start keeps the settings.
func (c *SinkConnector) Start(_ connect.ConnectorContext, props map[string]string) error {
	if _, err := SinkConfig().Parse(props); err != nil {
		return err
	}
	c.props = props
	return nil
}

// TaskConfigs returns maxTasks copies of the config, as Kafka's: every task
// appends to the same file.
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
func (c *SinkConnector) NewTask() connect.SinkTask { return &SinkTask{stdout: c.Stdout} }

// SinkTask appends each record's value as a line: its text as
// data.Format writes it ("null" for a null value, as Java's println).
type SinkTask struct {
	stdout io.Writer
	name   string
	f      *os.File
	w      *bufio.Writer
	line   []byte // the line being written, reused
}

// Version returns the task's version.
func (*SinkTask) Version() string { return Version }

// Start opens the file for appending.
func (t *SinkTask) Start(_ connect.SinkTaskContext, props map[string]string) error {
	v, err := SinkConfig().Parse(props)
	if err != nil {
		return err
	}
	t.name = v.String(FileConfig)
	if t.name == "" {
		out := t.stdout
		if out == nil {
			out = os.Stdout
		}
		t.w = bufio.NewWriterSize(out, 256*1024)
		return nil
	}
	f, err := os.OpenFile(t.name, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open %s: %w", t.name, err)
	}
	t.f, t.w = f, bufio.NewWriterSize(f, 256*1024)
	return nil
}

// Put writes the records, a line each.
//
// Every write to the file holds whole lines: a line that does not fit in
// what is left of the buffer first flushes the buffer, and one longer than
// the buffer goes out in a single write of its own. A worker killed
// mid-run thus leaves no torn line for the records sent again after its
// restart to run into (Kafka's FileStreamSinkTask writes each line with
// one write call, so the same holds there).
func (t *SinkTask) Put(records []*connect.SinkRecord) error {
	for _, r := range records {
		t.line = t.line[:0]
		switch v := r.Value.(type) {
		case string:
			t.line = append(t.line, v...)
		case []byte:
			t.line = append(t.line, v...)
		default:
			t.line = append(t.line, data.Format(v)...)
		}
		t.line = append(t.line, '\n')
		var err error
		if len(t.line) > t.w.Available() {
			err = t.w.Flush() // an empty buffer writes a longer line straight through
		}
		if err == nil {
			_, err = t.w.Write(t.line)
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", t.fileName(), err)
		}
	}
	return nil
}

func (t *SinkTask) fileName() string {
	if t.name == "" {
		return "standard output"
	}
	return t.name
}

// Flush writes out the buffer and syncs the file, so the offsets the
// worker commits next never run ahead of the file.
func (t *SinkTask) Flush(map[connect.TopicPartition]int64) error {
	if err := t.w.Flush(); err != nil {
		return fmt.Errorf("flush %s: %w", t.fileName(), err)
	}
	if t.f != nil {
		if err := t.f.Sync(); err != nil {
			return fmt.Errorf("sync %s: %w", t.name, err)
		}
	}
	return nil
}

// Stop flushes and closes the file.
func (t *SinkTask) Stop() error {
	if t.w == nil {
		return nil
	}
	err := t.w.Flush()
	if t.f != nil {
		if cerr := t.f.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// Plugins returns the two connectors under Kafka's class names.
func Plugins() []connect.Plugin {
	return []connect.Plugin{
		{Class: "org.apache.kafka.connect.file.FileStreamSourceConnector", Type: connect.SourcePlugin, Version: Version,
			New: func() any { return &SourceConnector{} }},
		{Class: "org.apache.kafka.connect.file.FileStreamSinkConnector", Type: connect.SinkPlugin, Version: Version,
			New: func() any { return &SinkConnector{} }},
	}
}
