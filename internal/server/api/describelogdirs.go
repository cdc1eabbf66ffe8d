// DescribeLogDirs (key 35), versions 1-5.
//
// Behaviour: lists each of this broker's log directories (log.dirs, as
// absolute paths) with the partitions stored in it: the size of each
// partition's segments in bytes and its offset lag (how far its log end is
// behind the high watermark; 0 on a leader). A null topic list asks for every
// partition; otherwise only the partitions named, where they exist. From v4
// each directory carries the total and usable bytes of its file system; v5's
// IsCordoned is always false (Sluice does not cordon directories). Future
// replicas (AlterReplicaLogDirs) do not exist, so IsFuture is false.
// Errors: KAFKA_STORAGE_ERROR for a directory that cannot be read.
package api

import (
	"context"
	"path/filepath"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/server"
	"github.com/sluicehq/sluice/internal/storage"
)

func (h *handlers) describeLogDirs(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.DescribeLogDirsRequest)
	resp := r.ResponseKind().(*kmsg.DescribeLogDirsResponse)

	var want map[string]map[int32]bool // nil: everything
	if r.Topics != nil {
		want = make(map[string]map[int32]bool, len(r.Topics))
		for _, t := range r.Topics {
			if want[t.Topic] == nil {
				want[t.Topic] = make(map[int32]bool, len(t.Partitions))
			}
			for _, p := range t.Partitions {
				want[t.Topic][p] = true
			}
		}
	}

	// Logs are opened on first use; open those this node leads so that
	// every hosted partition is listed, as in Kafka, where a leader's log
	// exists from the moment it leads.
	img := h.Meta.Image()
	for name, t := range img.Topics {
		if want != nil && want[name] == nil {
			continue
		}
		for _, p := range t.Partitions {
			if p.Leader == h.NodeID && (want == nil || want[name][p.Index]) {
				if _, err := h.Replicas.Partition(name, p.Index); err != nil {
					h.Logger.Debug("open log to describe it", "topic", name, "partition", p.Index, "err", err)
				}
			}
		}
	}

	// Group the hosted logs by the log directory that holds them.
	byDir := make(map[string]map[string][]kmsg.DescribeLogDirsResponseDirTopicPartition)
	if h.Logs != nil {
		for _, l := range h.Logs.Logs() {
			tp := l.TopicPartition()
			if want != nil && !want[tp.Topic][tp.Partition] {
				continue
			}
			dir := absDir(filepath.Dir(l.Dir()))
			if byDir[dir] == nil {
				byDir[dir] = make(map[string][]kmsg.DescribeLogDirsResponseDirTopicPartition)
			}
			byDir[dir][tp.Topic] = append(byDir[dir][tp.Topic], describedLogPartition(l))
		}
	}

	for _, d := range h.Config.LogDirs {
		dir := absDir(d)
		od := kmsg.NewDescribeLogDirsResponseDir()
		od.Dir = dir
		if r.Version >= 4 {
			total, usable, err := diskSpace(dir)
			if err != nil {
				h.Logger.Warn("describe log dir", "dir", dir, "err", err)
				od.ErrorCode = kerr.KafkaStorageError.Code
			} else {
				od.TotalBytes, od.UsableBytes = total, usable
			}
		}
		topics := byDir[dir]
		names := make([]string, 0, len(topics))
		for n := range topics {
			names = append(names, n)
		}
		sort.Strings(names)
		od.Topics = make([]kmsg.DescribeLogDirsResponseDirTopic, 0, len(names))
		for _, n := range names {
			parts := topics[n]
			sort.Slice(parts, func(i, j int) bool { return parts[i].Partition < parts[j].Partition })
			ot := kmsg.NewDescribeLogDirsResponseDirTopic()
			ot.Topic, ot.Partitions = n, parts
			od.Topics = append(od.Topics, ot)
		}
		resp.Dirs = append(resp.Dirs, od)
	}
	return &server.Reply{Msg: resp}
}

func describedLogPartition(l *storage.Log) kmsg.DescribeLogDirsResponseDirTopicPartition {
	p := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
	p.Partition = l.TopicPartition().Partition
	p.Size = l.Size()
	if lag := l.HighWatermark() - l.LogEndOffset(); lag > 0 {
		p.OffsetLag = lag
	}
	return p
}

// absDir is a log directory as Kafka reports it: absolute and clean.
func absDir(d string) string {
	if a, err := filepath.Abs(d); err == nil {
		return a
	}
	return filepath.Clean(d)
}
