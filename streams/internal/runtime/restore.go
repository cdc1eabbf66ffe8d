package runtime

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/streams/processor"
	"github.com/sluicehq/sluice/streams/state"
	"github.com/sluicehq/sluice/streams/topology"
)

// restoreTarget is one changelog partition to read into a store.
type restoreTarget struct {
	topic     string
	partition int32
	from      int64
	inner     state.BytesStore
}

// restore reads each changelog partition from its target's offset up to
// the end offset it has now, writing straight into the inner store (no
// logging, no cache). It returns the offset each changelog partition
// reached, keyed by changelogKey.
//
// readCommitted (exactly-once) reads only committed transactions, up to
// the last stable offset. Control records (transaction markers) are
// fetched too, in either mode, and skipped: the last offset below the end
// may be a marker, and only seeing it tells that the end was reached.
func restore(ctx context.Context, adm *kadm.Client, opts []kgo.Opt, targets []restoreTarget, readCommitted bool) (map[string]int64, int64, error) {
	reached := make(map[string]int64, len(targets))
	var records int64
	if len(targets) == 0 {
		return reached, 0, nil
	}
	var topics []string
	for _, t := range targets {
		topics = append(topics, t.topic)
	}
	list := adm.ListEndOffsets
	if readCommitted {
		list = adm.ListCommittedOffsets
	}
	ends, err := list(ctx, topics...)
	if err != nil {
		return nil, 0, fmt.Errorf("restore: end offsets of changelogs: %w", err)
	}
	want := make(map[string]map[int32]kgo.Offset)
	byPartition := make(map[string]restoreTarget)
	remaining := make(map[string]int64) // changelogKey -> last offset to read
	for _, t := range targets {
		end, ok := ends.Lookup(t.topic, t.partition)
		if !ok || end.Err != nil {
			return nil, 0, fmt.Errorf("restore: end offset of %s-%d: %v", t.topic, t.partition, end.Err)
		}
		key := changelogKey(t.topic, t.partition)
		reached[key] = end.Offset
		if t.from >= end.Offset {
			continue
		}
		if want[t.topic] == nil {
			want[t.topic] = make(map[int32]kgo.Offset)
		}
		want[t.topic][t.partition] = kgo.NewOffset().At(t.from)
		byPartition[key] = t
		remaining[key] = end.Offset - 1
	}
	if len(remaining) == 0 {
		return reached, 0, nil
	}
	copts := append(append([]kgo.Opt{}, opts...),
		kgo.ConsumePartitions(want),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200*time.Millisecond),
		kgo.KeepControlRecords(),
	)
	if readCommitted {
		copts = append(copts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl, err := kgo.NewClient(copts...)
	if err != nil {
		return nil, 0, fmt.Errorf("restore: client: %w", err)
	}
	defer cl.Close()
	for len(remaining) > 0 {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		var ferr error
		fetches.EachError(func(topic string, p int32, err error) {
			ferr = fmt.Errorf("restore: fetch %s-%d: %w", topic, p, err)
		})
		if ferr != nil {
			return nil, 0, ferr
		}
		var batchErr error
		fetches.EachTopic(func(ft kgo.FetchTopic) {
			ft.EachPartition(func(fp kgo.FetchPartition) {
				key := changelogKey(ft.Topic, fp.Partition)
				t, ok := byPartition[key]
				if batchErr != nil || !ok || len(fp.Records) == 0 {
					return
				}
				last, ok := remaining[key]
				if !ok {
					return // already complete
				}
				kvs := make([]state.KeyValue, 0, len(fp.Records))
				for _, r := range fp.Records {
					if r.Offset > last {
						break
					}
					if r.Attrs.IsControl() {
						continue
					}
					kvs = append(kvs, state.KeyValue{Key: r.Key, Value: state.WithTimestamp(r.Value, r.Timestamp.UnixMilli())})
				}
				records += int64(len(kvs))
				if err := t.inner.PutAll(kvs); err != nil {
					batchErr = fmt.Errorf("restore %s-%d into %s: %w", ft.Topic, fp.Partition, t.inner.Name(), err)
					return
				}
				if fp.Records[len(fp.Records)-1].Offset >= last {
					delete(remaining, key)
				}
			})
		})
		if batchErr != nil {
			return nil, 0, batchErr
		}
	}
	return reached, records, nil
}

// runGlobal fills a global store's task from every partition of its topic:
// up to the end offsets it finds first (then ready is closed), and then
// for as long as ctx lasts. Each record goes through the global store's
// processor. readCommitted (exactly-once) reads committed transactions
// only, up to the last stable offset; markers are seen (and skipped) so
// that the end is recognised, as in restore.
func runGlobal(ctx context.Context, adm *kadm.Client, opts []kgo.Opt, topic string, gt interface {
	Process(topology.InputRecord) error
}, ready chan<- struct{}, readCommitted bool) error {
	list := adm.ListEndOffsets
	if readCommitted {
		list = adm.ListCommittedOffsets
	}
	ends, err := list(ctx, topic)
	if err != nil {
		return fmt.Errorf("global store: end offsets of %s: %w", topic, err)
	}
	remaining := make(map[int32]int64)
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			remaining[o.Partition] = o.Offset - 1
		}
	})
	copts := append(append([]kgo.Opt{}, opts...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200*time.Millisecond),
		kgo.KeepControlRecords(),
	)
	if readCommitted {
		copts = append(copts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl, err := kgo.NewClient(copts...)
	if err != nil {
		return fmt.Errorf("global store: client: %w", err)
	}
	defer cl.Close()
	signalled := false
	for {
		if !signalled && len(remaining) == 0 {
			close(ready)
			signalled = true
		}
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var ferr error
		fetches.EachError(func(t string, p int32, err error) {
			ferr = fmt.Errorf("global store: fetch %s-%d: %w", t, p, err)
		})
		if ferr != nil {
			return ferr
		}
		var perr error
		fetches.EachRecord(func(r *kgo.Record) {
			if perr != nil {
				return
			}
			if !r.Attrs.IsControl() {
				perr = gt.Process(inputRecord(r))
			}
			if last, ok := remaining[r.Partition]; ok && r.Offset >= last {
				delete(remaining, r.Partition)
			}
		})
		if perr != nil {
			return perr
		}
	}
}

func inputRecord(r *kgo.Record) topology.InputRecord {
	in := topology.InputRecord{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset,
		Key: r.Key, Value: r.Value, Timestamp: r.Timestamp.UnixMilli()}
	if len(r.Headers) > 0 {
		in.Headers = make([]processor.Header, len(r.Headers))
		for i, h := range r.Headers {
			in.Headers[i] = processor.Header{Key: h.Key, Value: h.Value}
		}
	}
	return in
}
