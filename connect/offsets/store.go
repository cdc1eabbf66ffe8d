// Package offsets keeps source connectors' offsets: for each connector and
// source partition (a file), the offset of the last record that reached
// Kafka. The standalone worker keeps them in one file
// (offset.storage.file.filename), rewritten whole and atomically at each
// flush, as Kafka's FileOffsetBackingStore. Keys and values are written as
// Kafka writes them, schemaless JSON: ["connector",{"filename":"..."}].
package offsets

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/sluicehq/sluice/connect/converter"
)

// Entry is one stored offset.
type Entry struct {
	Partition map[string]any
	Offset    map[string]any
}

// FileStore is an offset store backed by a file. It is safe for
// concurrent use.
type FileStore struct {
	path string
	conv *converter.JSON

	mu      sync.Mutex
	entries map[string]stored // by the key's JSON
	dirty   bool
}

type stored struct {
	connector string
	partition map[string]any
	offset    map[string]any
	key       []byte
	value     []byte
}

// fileFormat is the file's JSON.
type fileFormat struct {
	Version int         `json:"version"`
	Offsets []fileEntry `json:"offsets"`
}

type fileEntry struct {
	Key   json.RawMessage `json:"key"`
	Value json.RawMessage `json:"value"`
}

// Open loads the store at path; a missing file is an empty store.
func Open(path string) (*FileStore, error) {
	conv := &converter.JSON{}
	if err := conv.Configure(map[string]string{converter.SchemasEnable: "false"}, false); err != nil {
		return nil, err
	}
	s := &FileStore{path: path, conv: conv, entries: map[string]stored{}}
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read offsets file %s: %w", path, err)
	}
	var ff fileFormat
	if err := json.Unmarshal(raw, &ff); err != nil {
		return nil, fmt.Errorf("offsets file %s is not valid: %w", path, err)
	}
	for _, e := range ff.Offsets {
		_, k, err := conv.ToConnectData("", nil, e.Key)
		if err != nil {
			return nil, fmt.Errorf("offsets file %s: key %s: %w", path, e.Key, err)
		}
		pair, ok := k.([]any)
		if !ok || len(pair) != 2 {
			return nil, fmt.Errorf("offsets file %s: key %s is not [connector, partition]", path, e.Key)
		}
		name, _ := pair[0].(string)
		part, _ := pair[1].(map[string]any)
		var off map[string]any
		if string(e.Value) != "null" {
			_, v, err := conv.ToConnectData("", nil, e.Value)
			if err != nil {
				return nil, fmt.Errorf("offsets file %s: value %s: %w", path, e.Value, err)
			}
			off, _ = v.(map[string]any)
		}
		s.entries[string(e.Key)] = stored{connector: name, partition: part, offset: off, key: e.Key, value: e.Value}
	}
	return s, nil
}

func (s *FileStore) key(connector string, partition map[string]any) ([]byte, error) {
	k, err := s.conv.FromConnectData("", nil, nil, []any{connector, partition})
	if err != nil {
		return nil, fmt.Errorf("encode source partition %v: %w", partition, err)
	}
	return k, nil
}

// Get returns a partition's stored offset, nil if none.
func (s *FileStore) Get(connector string, partition map[string]any) (map[string]any, error) {
	k, err := s.key(connector, partition)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.entries[string(k)].offset, nil
}

// Set records offsets in memory; Flush writes them.
func (s *FileStore) Set(connector string, offsets []Entry) error {
	type enc struct {
		k, v []byte
		e    Entry
	}
	encoded := make([]enc, 0, len(offsets))
	for _, e := range offsets {
		k, err := s.key(connector, e.Partition)
		if err != nil {
			return err
		}
		v, err := s.conv.FromConnectData("", nil, nil, e.Offset)
		if err != nil {
			return fmt.Errorf("encode source offset %v: %w", e.Offset, err)
		}
		if v == nil {
			v = []byte("null")
		}
		encoded = append(encoded, enc{k, v, e})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range encoded {
		old, ok := s.entries[string(x.k)]
		if ok && bytes.Equal(old.value, x.v) {
			continue
		}
		s.entries[string(x.k)] = stored{connector: connector, partition: x.e.Partition, offset: x.e.Offset, key: x.k, value: x.v}
		s.dirty = true
	}
	return nil
}

// Entries returns a connector's stored offsets.
func (s *FileStore) Entries(connector string) []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys []string
	for k, e := range s.entries {
		if e.connector == connector {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out := make([]Entry, len(keys))
	for i, k := range keys {
		out[i] = Entry{Partition: s.entries[k].partition, Offset: s.entries[k].offset}
	}
	return out
}

// Flush writes the store if it changed: a temporary file, synced, renamed
// over the old one, and the directory synced, so a crash leaves either the
// old offsets or the new ones.
func (s *FileStore) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.dirty {
		return nil
	}
	keys := make([]string, 0, len(s.entries))
	for k := range s.entries {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	// One entry a line, keys and values compact as Kafka writes them.
	var buf bytes.Buffer
	buf.WriteString("{\"version\":1,\"offsets\":[")
	for i, k := range keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString("\n{\"key\":")
		buf.Write(s.entries[k].key)
		buf.WriteString(",\"value\":")
		buf.Write(s.entries[k].value)
		buf.WriteByte('}')
	}
	buf.WriteString("\n]}\n")
	raw := buf.Bytes()
	if err := writeAtomic(s.path, raw); err != nil {
		return fmt.Errorf("write offsets file %s: %w", s.path, err)
	}
	s.dirty = false
	return nil
}

func writeAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
