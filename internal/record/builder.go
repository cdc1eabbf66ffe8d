package record

// Builder assembles a v2 batch: for tests, for the broker's own records
// (transaction markers, internal topics) and for compaction. Records are
// encoded as they are added; Build compresses them and writes the header
// with its length and CRC. A Builder is not safe for concurrent use.
//
//	b := record.NewBuilder(record.CodecZstd)
//	b.Add(ts, key, value)
//	batch, err := b.Build(nil)
type Builder struct {
	h             Header
	level         int
	baseSet       bool  // baseTimestamp fixed, by SetBaseTimestamp or the first record
	lastSet       bool  // lastOffsetDelta fixed by SetLastOffsetDelta
	logAppendTime bool  // stamp LogAppendTime
	appendTime    int64 // the stamped time
	recs          []byte
}

// NewBuilder returns a Builder for a batch compressed with c, with no
// producer id, CreateTime timestamps and base offset 0.
func NewBuilder(c Codec) *Builder {
	b := &Builder{}
	b.Reset(c)
	return b
}

// Reset empties the Builder for a new batch with codec c, keeping its buffer.
func (b *Builder) Reset(c Codec) {
	*b = Builder{recs: b.recs[:0]}
	b.h = Header{
		Magic:         2,
		Attributes:    int16(c) & attrCompressionMask,
		BaseTimestamp: NoTimestamp,
		MaxTimestamp:  NoTimestamp,
		ProducerID:    NoProducerID,
		ProducerEpoch: NoProducerEpoch,
		BaseSequence:  NoSequence,
	}
}

// SetCompressionLevel sets the level passed to Compress.
func (b *Builder) SetCompressionLevel(level int) *Builder { b.level = level; return b }

// SetBaseOffset sets the batch's base offset.
func (b *Builder) SetBaseOffset(off int64) *Builder { b.h.BaseOffset = off; return b }

// SetPartitionLeaderEpoch sets the batch's partition leader epoch.
func (b *Builder) SetPartitionLeaderEpoch(epoch int32) *Builder {
	b.h.PartitionLeaderEpoch = epoch
	return b
}

// SetProducer sets the idempotent producer's id, epoch and the base sequence.
func (b *Builder) SetProducer(id int64, epoch int16, baseSequence int32) *Builder {
	b.h.ProducerID, b.h.ProducerEpoch, b.h.BaseSequence = id, epoch, baseSequence
	return b
}

// SetTransactional sets or clears the transactional attribute.
func (b *Builder) SetTransactional(on bool) *Builder { b.setAttr(attrTransactional, on); return b }

// SetControl sets or clears the control attribute (transaction markers).
func (b *Builder) SetControl(on bool) *Builder { b.setAttr(attrControl, on); return b }

// SetLogAppendTime makes the batch LogAppendTime with maxTimestamp now.
func (b *Builder) SetLogAppendTime(now int64) *Builder {
	b.logAppendTime, b.appendTime = true, now
	b.setAttr(attrTimestampType, true)
	return b
}

// SetBaseTimestamp fixes baseTimestamp; otherwise the first record added
// with Add sets it. Call it before adding records.
func (b *Builder) SetBaseTimestamp(ts int64) *Builder {
	b.h.BaseTimestamp, b.baseSet = ts, true
	return b
}

// SetLastOffsetDelta overrides lastOffsetDelta, which otherwise is the last
// record's offset delta (or 0 for an empty batch). Compaction keeps it when
// it drops records.
func (b *Builder) SetLastOffsetDelta(d int32) *Builder {
	b.h.LastOffsetDelta, b.lastSet = d, true
	return b
}

func (b *Builder) setAttr(bit int16, on bool) {
	if on {
		b.h.Attributes |= bit
	} else {
		b.h.Attributes &^= bit
	}
}

// Len is the number of records added.
func (b *Builder) Len() int { return int(b.h.NumRecords) }

// Add appends a record with absolute timestamp ts and the next offset delta.
func (b *Builder) Add(ts int64, key, value []byte, headers ...RecordHeader) *Builder {
	if !b.baseSet {
		b.h.BaseTimestamp, b.baseSet = ts, true
	}
	return b.AddRecord(&Record{
		TimestampDelta: ts - b.h.BaseTimestamp,
		OffsetDelta:    b.h.NumRecords,
		Key:            key,
		Value:          value,
		Headers:        headers,
	})
}

// AddRecord appends r with its deltas as given (relative to baseTimestamp,
// which is 0 if not yet set). Tests use it to craft unusual batches.
func (b *Builder) AddRecord(r *Record) *Builder {
	if !b.baseSet {
		b.h.BaseTimestamp, b.baseSet = 0, true
	}
	b.recs = appendRecord(b.recs, r)
	if ts := b.h.BaseTimestamp + r.TimestampDelta; ts > b.h.MaxTimestamp {
		b.h.MaxTimestamp = ts
	}
	if !b.lastSet {
		b.h.LastOffsetDelta = r.OffsetDelta
	}
	b.h.NumRecords++
	return b
}

// Build appends the batch to dst.
func (b *Builder) Build(dst []byte) ([]byte, error) {
	h := b.h
	if b.logAppendTime {
		h.MaxTimestamp = b.appendTime
	}
	return assemble(dst, &h, b.recs, b.level)
}

// appendRecord encodes r.
func appendRecord(dst []byte, r *Record) []byte {
	hsize := 0
	for i := range r.Headers {
		hd := &r.Headers[i]
		hsize += varintSize(int32(len(hd.Key))) + len(hd.Key) + bytesSize(hd.Value)
	}
	body := 1 + varlongSize(r.TimestampDelta) + varintSize(r.OffsetDelta) +
		bytesSize(r.Key) + bytesSize(r.Value) + varintSize(int32(len(r.Headers))) + hsize
	dst = appendVarint(dst, int32(body))
	dst = append(dst, byte(r.Attributes))
	dst = appendVarlong(dst, r.TimestampDelta)
	dst = appendVarint(dst, r.OffsetDelta)
	dst = appendBytes(dst, r.Key)
	dst = appendBytes(dst, r.Value)
	dst = appendVarint(dst, int32(len(r.Headers)))
	for i := range r.Headers {
		hd := &r.Headers[i]
		dst = appendVarint(dst, int32(len(hd.Key)))
		dst = append(dst, hd.Key...)
		dst = appendBytes(dst, hd.Value)
	}
	return dst
}
