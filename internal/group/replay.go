package group

// loadState accumulates a partition of __consumer_offsets while it loads,
// record by record in log order, with the rules the live coordinator
// follows: plain commits and tombstones change the committed offsets,
// transactional commits become their producer's pending offsets, and a
// transaction marker commits or drops a producer's pending offsets.
type loadState struct {
	groups map[string]*loadedGroup
	epochs map[int64]int16 // latest epoch of each producer seen
	// open are the groups holding pending offsets, by producer id.
	open map[int64]map[string]struct{}
}

// loadedGroup accumulates one group's records while loading.
type loadedGroup struct {
	meta       *groupMetaValue
	consumer   *consumerSnapshot
	offsets    map[topicPartition]*committed
	txnOffsets map[int64]map[topicPartition]*committed
}

func newLoadState() *loadState {
	return &loadState{
		groups: make(map[string]*loadedGroup),
		epochs: make(map[int64]int16),
		open:   make(map[int64]map[string]struct{}),
	}
}

func (s *loadState) group(name string) *loadedGroup {
	lg := s.groups[name]
	if lg == nil {
		lg = &loadedGroup{
			offsets:    make(map[topicPartition]*committed),
			txnOffsets: make(map[int64]map[topicPartition]*committed),
		}
		s.groups[name] = lg
	}
	return lg
}

func (s *loadState) noteEpoch(pid int64, epoch int16) {
	if cur, ok := s.epochs[pid]; !ok || epoch > cur {
		s.epochs[pid] = epoch
	}
}

// apply replays one decoded record read as r. It returns false for a
// record of a kind this coordinator does not know.
func (s *loadState) apply(d decoded, r LoadedRecord) bool {
	switch d.kind {
	case kindOffset:
		lg := s.group(d.group)
		tp := topicPartition{d.topic, d.partition}
		switch {
		case d.offset == nil:
			// A tombstone drops the offset, pending ones included.
			delete(lg.offsets, tp)
			for pid, pend := range lg.txnOffsets {
				delete(pend, tp)
				if len(pend) == 0 {
					delete(lg.txnOffsets, pid)
				}
			}
		case r.ProducerID >= 0:
			s.noteEpoch(r.ProducerID, r.ProducerEpoch)
			pend := lg.txnOffsets[r.ProducerID]
			if pend == nil {
				pend = make(map[topicPartition]*committed)
				lg.txnOffsets[r.ProducerID] = pend
			}
			pend[tp] = &committed{value: *d.offset, pos: r.Offset}
			gs := s.open[r.ProducerID]
			if gs == nil {
				gs = make(map[string]struct{})
				s.open[r.ProducerID] = gs
			}
			gs[d.group] = struct{}{}
		default:
			lg.offsets[tp] = &committed{value: *d.offset, pos: r.Offset}
		}
	case kindGroup:
		lg := s.group(d.group)
		lg.meta = d.meta // nil: tombstone; the offsets have their own
	case kindConsumer:
		lg := s.group(d.group)
		lg.consumer = d.consumer // nil: tombstone
	default:
		return false
	}
	return true
}

// marker replays a transaction marker of producer pid.
func (s *loadState) marker(pid int64, epoch int16, commit bool) {
	s.noteEpoch(pid, epoch)
	for name := range s.open[pid] {
		lg := s.groups[name]
		pend := lg.txnOffsets[pid]
		delete(lg.txnOffsets, pid)
		if !commit {
			continue
		}
		for tp, e := range pend {
			if cur := lg.offsets[tp]; cur == nil || e.pos > cur.pos {
				lg.offsets[tp] = e
			}
		}
	}
	delete(s.open, pid)
}

// index fills a shard's transaction index from the loaded state: the
// producers' epochs, and which installed groups hold whose pending offsets.
func (s *loadState) index(x *txnIndex, groups map[string]*Group) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for pid, epoch := range s.epochs {
		x.noteEpochLocked(pid, epoch)
	}
	for pid, names := range s.open {
		for name := range names {
			g := groups[name]
			if g == nil || len(g.txnOffsets[pid]) == 0 {
				continue // its pending offsets were deleted
			}
			gs := x.groups[pid]
			if gs == nil {
				gs = make(map[*Group]struct{})
				x.groups[pid] = gs
			}
			gs[g] = struct{}{}
		}
	}
}
