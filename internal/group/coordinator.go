package group

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/internal/metadata"
)

// Coordinator is the group coordinator of one broker: it serves the groups
// whose partition of __consumer_offsets this broker leads.
//
// Locking: c.mu guards the partitions and their group maps; each Group has
// its own mutex for its state. A goroutine may take c.mu while holding a
// group's lock (to remove a dead group), never the reverse.
type Coordinator struct {
	cfg    Config
	store  Storage
	clock  Clock
	logger *slog.Logger

	ctx    context.Context // ends at Stop; bounds background waits
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu            sync.RWMutex
	started       bool
	stopped       bool
	numPartitions int32            // of __consumer_offsets; 0 when it does not exist
	topicID       [16]byte         // of __consumer_offsets
	shards        map[int32]*shard // the partitions this node leads
	retention     Timer
	topics        map[string][16]byte // the topics of the last image, by name

	img atomic.Pointer[metadata.Image] // the latest, for consumer groups' subscriptions
}

// shard is one partition of __consumer_offsets that this node leads.
type shard struct {
	partition int32
	loading   bool
	loaded    chan struct{} // closed when loading ends
	groups    map[string]*Group
	txn       *txnIndex
	queued    []txnCompletion // transaction markers that came during the load
}

// New returns a coordinator that persists to store. It serves nothing until
// Start, and no group until it leads a partition (Lead).
func New(cfg Config, store Storage, clock Clock, logger *slog.Logger) *Coordinator {
	if clock == nil {
		clock = SystemClock()
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Coordinator{
		cfg:    cfg,
		store:  store,
		clock:  clock,
		logger: logger,
		ctx:    ctx,
		cancel: cancel,
		shards: make(map[int32]*shard),
	}
}

// Start makes the coordinator answer requests and starts the periodic
// expiration of offsets and empty groups.
func (c *Coordinator) Start() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started || c.stopped {
		return
	}
	c.started = true
	c.scheduleRetentionLocked()
}

// Stop unloads every group (waiting requests get NOT_COORDINATOR) and
// waits for background work to end.
func (c *Coordinator) Stop() {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return
	}
	c.stopped = true
	if c.retention != nil {
		c.retention.Stop()
	}
	var groups []*Group
	for p, sh := range c.shards {
		for _, g := range sh.groups {
			groups = append(groups, g)
		}
		delete(c.shards, p)
	}
	c.mu.Unlock()
	c.cancel()
	for _, g := range groups {
		g.mu.Lock()
		g.kill(kerr.NotCoordinator)
		g.mu.Unlock()
	}
	c.wg.Wait()
}

// Lead sets the partitions of __consumer_offsets this node leads: numParts
// is the topic's partition count (0: it does not exist) and topicID its ID.
// Newly led partitions are loaded in the background, answering
// COORDINATOR_LOAD_IN_PROGRESS meanwhile; partitions no longer led are
// unloaded. It returns at once.
func (c *Coordinator) Lead(topicID [16]byte, numParts int32, led []int32) {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return
	}
	recreated := topicID != c.topicID || numParts != c.numPartitions
	c.topicID, c.numPartitions = topicID, numParts
	want := make(map[int32]bool, len(led))
	for _, p := range led {
		if p >= 0 && p < numParts {
			want[p] = true
		}
	}
	var dropped []*Group
	for p, sh := range c.shards {
		if want[p] && !recreated {
			continue
		}
		for _, g := range sh.groups {
			dropped = append(dropped, g)
		}
		delete(c.shards, p)
		c.logger.Info("unloaded group coordinator partition", "partition", p, "groups", len(sh.groups))
	}
	var load []*shard
	for p := range want {
		if _, ok := c.shards[p]; ok {
			continue
		}
		sh := &shard{partition: p, loading: true, loaded: make(chan struct{}), groups: make(map[string]*Group), txn: newTxnIndex()}
		c.shards[p] = sh
		load = append(load, sh)
	}
	c.wg.Add(len(load))
	c.mu.Unlock()

	for _, g := range dropped {
		g.mu.Lock()
		g.kill(kerr.NotCoordinator)
		g.mu.Unlock()
	}
	for _, sh := range load {
		go func() {
			defer c.wg.Done()
			c.load(sh)
		}()
	}
}

// waitLoaded waits until partition p has loaded (tests and tools).
func (c *Coordinator) waitLoaded(ctx context.Context, p int32) error {
	c.mu.RLock()
	sh := c.shards[p]
	c.mu.RUnlock()
	if sh == nil {
		return fmt.Errorf("partition %d is not led here", p)
	}
	select {
	case <-sh.loaded:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// NumPartitions is the partition count of __consumer_offsets as last given
// to Lead (0 before it exists).
func (c *Coordinator) NumPartitions() int32 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.numPartitions
}

// Loading reports whether partition p of __consumer_offsets is being
// loaded here.
func (c *Coordinator) Loading(p int32) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	sh := c.shards[p]
	return sh != nil && sh.loading
}

// shardFor returns the loaded shard of group, or the coordinator error.
// c.mu must be held.
func (c *Coordinator) shardForLocked(group string) (*shard, error) {
	if !c.started || c.stopped {
		return nil, kerr.CoordinatorNotAvailable
	}
	if c.numPartitions <= 0 {
		return nil, kerr.NotCoordinator
	}
	sh := c.shards[PartitionFor(group, c.numPartitions)]
	if sh == nil {
		return nil, kerr.NotCoordinator
	}
	if sh.loading {
		return nil, kerr.CoordinatorLoadInProgress
	}
	return sh, nil
}

// lockGroup finds group (creating it, Empty, when create is set), locks it
// and returns it. It returns nil and no error for a group that does not
// exist, and a coordinator error (NOT_COORDINATOR,
// COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE) when this node
// does not serve it now. The caller unlocks g.mu.
func (c *Coordinator) lockGroup(name string, create bool) (*Group, error) {
	for range 8 {
		c.mu.RLock()
		sh, err := c.shardForLocked(name)
		var g *Group
		if err == nil {
			g = sh.groups[name]
		}
		c.mu.RUnlock()
		if err != nil {
			return nil, err
		}
		if g == nil {
			if !create {
				return nil, nil
			}
			c.mu.Lock()
			sh, err = c.shardForLocked(name)
			if err != nil {
				c.mu.Unlock()
				return nil, err
			}
			g = sh.groups[name]
			if g == nil {
				g = newGroup(c, name, sh)
				sh.groups[name] = g
			}
			c.mu.Unlock()
		}
		g.mu.Lock()
		if g.state != Dead {
			return g, nil
		}
		// Deleted or unloaded since the lookup: look again.
		g.mu.Unlock()
	}
	return nil, kerr.CoordinatorNotAvailable
}

// removeGroup drops a dead group from its shard. g.mu is held.
func (c *Coordinator) removeGroup(g *Group) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if sh := c.shards[g.partition]; sh != nil && sh.groups[g.name] == g {
		delete(sh.groups, g.name)
	}
}

// groupsSnapshot returns the groups of loaded shards, and whether some
// shard is still loading.
func (c *Coordinator) groupsSnapshot() (groups []*Group, loading bool, err error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if !c.started || c.stopped {
		return nil, false, kerr.CoordinatorNotAvailable
	}
	for _, sh := range c.shards {
		if sh.loading {
			loading = true
			continue
		}
		for _, g := range sh.groups {
			groups = append(groups, g)
		}
	}
	return groups, loading, nil
}

// loadRetry is how long a partition whose load failed waits before the
// next attempt; clients get COORDINATOR_LOAD_IN_PROGRESS meanwhile.
const loadRetry = 5 * time.Second

// load reads partition sh of __consumer_offsets and installs its groups. A
// failed load is retried after loadRetry while the partition is still led
// here.
func (c *Coordinator) load(sh *shard) {
	start := c.clock.Now()
	acc := newLoadState()
	records, skipped := 0, 0
	err := c.store.Load(c.ctx, sh.partition, func(r LoadedRecord) error {
		records++
		if r.Control {
			acc.marker(r.ProducerID, r.ProducerEpoch, r.Commit)
			return nil
		}
		d, err := decodeRecord(r.Key, r.Value)
		if err != nil {
			// One bad record must not take every group of the
			// partition down with it: skip it, loudly.
			c.logger.Warn("skipping a record of __consumer_offsets", "partition", sh.partition, "offset", r.Offset, "err", err)
			skipped++
			return nil
		}
		if !acc.apply(d, r) {
			skipped++
		}
		return nil
	})

	c.mu.Lock()
	if c.shards[sh.partition] != sh || c.stopped {
		c.mu.Unlock()
		close(sh.loaded)
		return // unloaded (or superseded) while loading
	}
	if err != nil {
		c.logger.Error("loading group coordinator partition failed; retrying", "partition", sh.partition, "in", loadRetry, "err", err)
		c.clock.AfterFunc(loadRetry, func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.shards[sh.partition] != sh || c.stopped {
				close(sh.loaded)
				return
			}
			c.wg.Add(1)
			go func() {
				defer c.wg.Done()
				c.load(sh)
			}()
		})
		c.mu.Unlock()
		return
	}
	var installed []*Group
	for name, lg := range acc.groups {
		if lg.meta == nil && lg.consumer == nil && len(lg.offsets) == 0 && len(lg.txnOffsets) == 0 {
			continue
		}
		g := newGroup(c, name, sh)
		g.restore(lg)
		sh.groups[name] = g
		installed = append(installed, g)
	}
	acc.index(sh.txn, sh.groups)
	queued := sh.queued
	sh.queued = nil
	sh.loading = false
	close(sh.loaded)
	c.mu.Unlock()
	for _, g := range installed {
		g.mu.Lock()
		g.startSessions()
		g.mu.Unlock()
	}
	for _, tc := range queued {
		sh.complete(tc)
	}
	c.logger.Info("loaded group coordinator partition", "partition", sh.partition,
		"groups", len(installed), "records", records, "skipped", skipped,
		"took", c.clock.Now().Sub(start))
}

// scheduleRetentionLocked arms the next expiration sweep. c.mu is held.
func (c *Coordinator) scheduleRetentionLocked() {
	if c.cfg.RetentionCheckInterval <= 0 || c.stopped {
		return
	}
	c.retention = c.clock.AfterFunc(c.cfg.RetentionCheckInterval, func() {
		c.ExpireNow()
		c.mu.Lock()
		c.scheduleRetentionLocked()
		c.mu.Unlock()
	})
}

// ExpireNow removes expired offsets and empty groups without offsets, as
// the periodic sweep does.
func (c *Coordinator) ExpireNow() {
	groups, _, err := c.groupsSnapshot()
	if err != nil {
		return
	}
	now := c.clock.Now()
	removedOffsets, removedGroups := 0, 0
	for _, g := range groups {
		g.mu.Lock()
		if g.state != Dead {
			n, dead := g.expire(now)
			removedOffsets += n
			if dead {
				removedGroups++
			}
		}
		g.mu.Unlock()
	}
	if removedOffsets > 0 || removedGroups > 0 {
		c.logger.Info("expired group offsets", "offsets", removedOffsets, "groups", removedGroups)
	}
}

// ListGroups lists the groups this node coordinates, filtered by state
// and type (case-insensitive; empty filters match all). While a partition
// is loading it answers COORDINATOR_LOAD_IN_PROGRESS beside the groups it
// has.
func (c *Coordinator) ListGroups(states, types []string) ([]GroupListing, error) {
	groups, loading, err := c.groupsSnapshot()
	if err != nil {
		return nil, err
	}
	match := func(filter []string, v string) bool {
		if len(filter) == 0 {
			return true
		}
		for _, f := range filter {
			if strings.EqualFold(f, v) {
				return true
			}
		}
		return false
	}
	var out []GroupListing
	for _, g := range groups {
		g.mu.Lock()
		l := g.listing()
		if g.state != Dead && match(states, l.State) && match(types, l.Type) {
			out = append(out, l)
		}
		g.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Group < out[j].Group })
	if loading {
		return out, kerr.CoordinatorLoadInProgress
	}
	return out, nil
}

// DescribeGroup describes one group. A group that does not exist gives
// GROUP_ID_NOT_FOUND (older DescribeGroups versions answer it as Dead).
func (c *Coordinator) DescribeGroup(name string) (GroupDescription, error) {
	g, err := c.lockGroup(name, false)
	if err != nil {
		return GroupDescription{Group: name}, err
	}
	if g == nil {
		return GroupDescription{Group: name, State: Dead.String(), NotClassic: true}, kerr.GroupIDNotFound
	}
	defer g.mu.Unlock()
	if g.cg != nil {
		// Kafka 4 describes consumer groups through ConsumerGroupDescribe.
		return GroupDescription{Group: name, State: Dead.String(), NotClassic: true}, kerr.GroupIDNotFound
	}
	return g.describe(), nil
}

// DeleteGroups deletes empty groups with their offsets: NON_EMPTY_GROUP
// while members remain, GROUP_ID_NOT_FOUND for unknown groups. The errors
// come in request order once the tombstones are durable.
func (c *Coordinator) DeleteGroups(names []string) <-chan []error {
	out := make(chan []error, 1)
	errs := make([]error, len(names))
	var waits []func(context.Context) error
	var waitIdx [][]int
	for i, name := range names {
		g, err := c.lockGroup(name, false)
		switch {
		case err != nil:
			errs[i] = err
			continue
		case g == nil:
			errs[i] = kerr.GroupIDNotFound
			continue
		}
		wait, err := g.deleteGroup()
		g.mu.Unlock()
		errs[i] = err
		if err == nil && wait != nil {
			waits = append(waits, wait)
			waitIdx = append(waitIdx, []int{i})
		}
	}
	if len(waits) == 0 {
		out <- errs
		return out
	}
	c.goWait(func(ctx context.Context) {
		for j, w := range waits {
			if err := w(ctx); err != nil {
				for _, i := range waitIdx[j] {
					errs[i] = appendError(err, true)
				}
			}
		}
		out <- errs
	})
	return out
}

// topicsGone records img's topics and returns the names of those that
// were in the previous image and are not in this one with the same ID.
func (c *Coordinator) topicsGone(img *metadata.Image) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var gone []string
	for name, id := range c.topics {
		if t := img.Topics[name]; t == nil || t.ID != id {
			gone = append(gone, name)
		}
	}
	c.topics = make(map[string][16]byte, len(img.Topics))
	for name, t := range img.Topics {
		c.topics[name] = t.ID
	}
	return gone
}

// goBackground runs fn in a goroutine that Stop waits for.
func (c *Coordinator) goBackground(fn func()) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.stopped {
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		fn()
	}()
}

// DeleteTopicOffsets deletes every group's committed offsets of these
// topics (tombstones in __consumer_offsets), for topics that were deleted.
func (c *Coordinator) DeleteTopicOffsets(topics []string) {
	groups, _, err := c.groupsSnapshot()
	if err != nil {
		return
	}
	gone := make(map[string]bool, len(topics))
	for _, t := range topics {
		gone[t] = true
	}
	removed := 0
	for _, g := range groups {
		g.mu.Lock()
		if g.state != Dead {
			removed += g.deleteTopics(gone)
		}
		g.mu.Unlock()
	}
	if removed > 0 {
		c.logger.Info("deleted the committed offsets of deleted topics", "topics", topics, "offsets", removed)
	}
}

// goWait runs fn in the background with the coordinator's context bounded
// by the commit timeout.
func (c *Coordinator) goWait(fn func(ctx context.Context)) {
	c.mu.RLock()
	stopped := c.stopped
	if !stopped {
		c.wg.Add(1) // under c.mu: never concurrent with Stop's Wait
	}
	c.mu.RUnlock()
	go func() {
		if !stopped {
			defer c.wg.Done()
		}
		ctx := c.ctx
		if c.cfg.CommitTimeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, c.cfg.CommitTimeout)
			defer cancel()
		}
		fn(ctx)
	}()
}

// appendError maps an error of an append to __consumer_offsets (or of the
// wait for it) to the code Kafka's coordinator answers: commit selects the
// mapping of offset commits, otherwise that of group metadata writes.
func appendError(err error, commit bool) error {
	if err == nil {
		return nil
	}
	var ke *kerr.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		ke = kerr.RequestTimedOut
	case errors.Is(err, context.Canceled):
		return kerr.NotCoordinator
	case errors.As(err, &ke):
	default:
		return kerr.UnknownServerError
	}
	switch ke {
	case kerr.UnknownTopicOrPartition, kerr.NotEnoughReplicas, kerr.NotEnoughReplicasAfterAppend:
		return kerr.CoordinatorNotAvailable
	case kerr.NotLeaderForPartition, kerr.KafkaStorageError:
		return kerr.NotCoordinator
	case kerr.MessageTooLarge, kerr.RecordListTooLarge, kerr.InvalidFetchSize:
		if commit {
			return kerr.InvalidCommitOffsetSize
		}
		return kerr.UnknownServerError
	case kerr.RequestTimedOut:
		if commit {
			return kerr.RequestTimedOut
		}
		return kerr.RebalanceInProgress
	}
	return ke
}
