package streams

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/fnv"

	"github.com/sluicehq/sluice/streams/processor"
	"github.com/sluicehq/sluice/streams/serde"
	"github.com/sluicehq/sluice/streams/state"
	"github.com/sluicehq/sluice/streams/state/pebblestore"
	"github.com/sluicehq/sluice/streams/topology"
)

// The foreign-key join (KIP-213) joins each row of a left table with the
// row of a right table whose key the left value names, though the two
// tables are keyed and partitioned differently. It runs as Kafka Streams
// runs it, in four steps over two internal topics:
//
//  1. On the left, each change of a row sends subscription instructions,
//     keyed by the foreign key, to the subscription-registration topic
//     (<application.id>-...-SUBSCRIPTION-REGISTRATION-...-topic),
//     partitioned like the right table: subscribe to the new foreign key,
//     and unsubscribe from the old one when it changed or the row went.
//  2. On the right, the instructions are kept in a subscription store
//     keyed by (foreign key, primary key), and answered with the right
//     value of the foreign key, sent keyed by the primary key to the
//     subscription-response topic, partitioned like the left table.
//  3. On the right too, each change of a right row is sent to every left
//     row subscribed to it, found by a prefix scan of the subscription
//     store.
//  4. Back on the left, each response is joined with the left row's
//     current value and kept in the result table.
//
// A left row may change again while its subscription travels, so each
// instruction carries a hash of the left value that sent it, the response
// carries it back, and a response whose hash is not that of the row's
// current value is stale and dropped: only the response to the latest
// value counts. Kafka hashes with murmur3-128; Sluice uses 128-bit FNV-1a
// from the standard library, equally fit for telling values apart (it is
// no defence against crafted collisions, nor is murmur3). The instructions
// and responses are Sluice's own encoding, not Kafka's wire format.
//
// The foreign key of a row is fk(value); Go has no null key, so a row
// always names one (Kafka lets the extractor return null for "none").

// Subscription instructions, as Kafka's SubscriptionWrapper.Instruction.
const (
	// fkDeleteNoPropagate unsubscribes without an answer: the row moved
	// to another foreign key, whose answer is the one that counts.
	fkDeleteNoPropagate byte = iota
	// fkDeleteAndPropagate unsubscribes and answers with no right value:
	// the left row is gone, so its result is deleted.
	fkDeleteAndPropagate
	// fkPropagateNullIfNoValue subscribes and always answers, with no
	// right value if the foreign key has none: a left join's result, or
	// the delete of an inner join's result after a change of foreign key.
	fkPropagateNullIfNoValue
	// fkPropagateOnlyIfValue subscribes and answers only if the foreign
	// key has a right value: an inner join's insert or same-key update.
	fkPropagateOnlyIfValue
)

// fkSubscription is a value of the subscription-registration topic.
type fkSubscription struct {
	hash      []byte // of the left value that sent it; nil for a deleted row
	instr     byte
	pk        any   // the left row's key
	partition int32 // the left row's partition, where the response goes
}

// fkResponse is a value of the subscription-response topic.
type fkResponse struct {
	hash      []byte // the subscription's hash, handed back
	foreign   any    // the right value; nil if none
	partition int32  // not encoded: it picks the partition the response goes to
}

// ForeignKeyJoin is the inner foreign-key join: a left row has a result
// while the right table holds the key fk gives for its value. Options:
// Named (base of the node, topic and store names), WithStore and the other
// Materialized options for the result, WithValueSerde for its values.
// The result is always kept in a store (WithStore names it; otherwise a
// generated one without a cache), so that its changes carry the old
// values that what follows (an aggregation) needs; Kafka keeps one only
// where asked or needed. So a delete of a left row that had no result
// emits nothing, where Kafka may emit a tombstone for it.
func ForeignKeyJoin[K, V, KO, VO, VR any](left KTable[K, V], right KTable[KO, VO], fk func(V) KO, joiner func(V, VO) VR, opts ...Option) KTable[K, VR] {
	return fkJoin(left, right, fk, func(v V, vo *VO) VR { return joiner(v, *vo) }, false, opts)
}

// LeftForeignKeyJoin is the left foreign-key join: every left row has a
// result; the joiner gets nil where the right table lacks the foreign key.
func LeftForeignKeyJoin[K, V, KO, VO, VR any](left KTable[K, V], right KTable[KO, VO], fk func(V) KO, joiner func(V, *VO) VR, opts ...Option) KTable[K, VR] {
	return fkJoin(left, right, fk, joiner, true, opts)
}

func fkJoin[K, V, KO, VO, VR any](left KTable[K, V], right KTable[KO, VO], fk func(V) KO, joiner func(V, *VO) VR, leftJoin bool, opts []Option) KTable[K, VR] {
	b := left.b
	o := collect(opts)
	left, right = left.materialized(), right.materialized()
	pkSerde := pickSerde[K](b, nil, left.keys)
	lvSerde := pickSerde[V](b, nil, left.vals)
	fkSerde := pickSerde[KO](b, nil, right.keys)
	rvSerde := pickSerde[VO](b, nil, right.vals)
	named := func(suffix, prefix string) string {
		if o.name != "" {
			return o.name + suffix
		}
		return b.name(nil, prefix)
	}
	internalTopic := map[string]string{"cleanup.policy": "delete", "retention.ms": "-1"}

	// Step 1: the left side's subscription instructions.
	sendName := named("-subscription-registration-processor", "KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION")
	regTopic := named("-subscription-registration", "KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION") + "-topic"
	hash := func(v V) ([]byte, error) { return fkHash(lvSerde, regTopic, v) }
	sameKey := func(a, c KO) (bool, error) {
		ab, err := fkSerde.Serialize(regTopic, a)
		if err != nil {
			return false, fmt.Errorf("serialize foreign key: %w", err)
		}
		cb, err := fkSerde.Serialize(regTopic, c)
		if err != nil {
			return false, fmt.Errorf("serialize foreign key: %w", err)
		}
		return bytes.Equal(ab, cb), nil
	}
	b.stateless(sendName, func(ctx processor.NodeContext, r processor.AnyRecord) error {
		if r.Key == nil {
			return nil
		}
		c := r.Value.(change)
		var h []byte
		if c.new != nil {
			var err error
			if h, err = hash(typed[V](c.new)); err != nil {
				return err
			}
		}
		send := func(key KO, instr byte) error {
			return ctx.Forward(processor.AnyRecord{Key: key,
				Value:     fkSubscription{hash: h, instr: instr, pk: r.Key, partition: ctx.TaskID().Partition},
				Timestamp: r.Timestamp, Headers: r.Headers}, "")
		}
		if c.new == nil {
			if c.old == nil {
				return nil
			}
			return send(fk(typed[V](c.old)), fkDeleteAndPropagate)
		}
		newFK := fk(typed[V](c.new))
		if c.old != nil {
			oldFK := fk(typed[V](c.old))
			same, err := sameKey(newFK, oldFK)
			if err != nil {
				return err
			}
			if !same {
				// The old subscription lives on another partition: delete
				// it there, and have the new one answer even without a
				// right value, so that an inner join's old result goes.
				if err := send(oldFK, fkDeleteNoPropagate); err != nil {
					return err
				}
				return send(newFK, fkPropagateNullIfNoValue)
			}
		}
		if leftJoin {
			return send(newFK, fkPropagateNullIfNoValue)
		}
		return send(newFK, fkPropagateOnlyIfValue)
	}, left.node)
	b.t.AddInternalTopic(topology.InternalTopic{Name: regTopic, ReaderPartitions: true, Config: internalTopic})
	regSink := named("-subscription-registration-sink", "KTABLE-SINK")
	b.t.AddNode(&topology.Node{Name: regSink, Kind: topology.Sink, Topic: regTopic,
		KeyEncode: topology.Encode(fkSerde), ValEncode: encodeSubscription(pkSerde)}, sendName)
	regSource := named("-subscription-registration-source", "KTABLE-SOURCE")
	b.t.AddNode(&topology.Node{Name: regSource, Kind: topology.Source, Topics: []string{regTopic},
		KeyDecode: topology.Decode(fkSerde), ValDecode: decodeSubscription(pkSerde)})

	// Step 2: the right side keeps the subscriptions and answers them.
	subStore := named("-subscription-store", "KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE")
	var sup state.Supplier
	if o.inMemory {
		sup = state.InMemory(subStore)
	} else {
		sup = pebblestore.Supplier(subStore)
	}
	// The subscriptions are always logged: without them a restarted
	// instance would no longer pass right-side updates on.
	subSB := state.NewKeyValueBuilder(sup, serde.Bytes, serde.Bytes).WithCaching(false).WithLogging(true, nil)
	respTopic := named("-subscription-response", "KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE") + "-topic"
	receiveName := named("-subscription-receive", "KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR")
	b.addNode(receiveName, func() *node {
		var subs *state.TypedStore[[]byte, []byte]
		var values state.KeyValueStore[KO, VO]
		return &node{
			init: func(ctx processor.NodeContext) error {
				var err error
				if subs, err = subscriptionStore(ctx, subStore); err != nil {
					return err
				}
				s, err := ctx.Store(right.store)
				if err != nil {
					return err
				}
				values, err = state.AsKeyValue[KO, VO](s)
				return err
			},
			process: func(ctx processor.NodeContext, r processor.AnyRecord) error {
				if r.Key == nil {
					return nil
				}
				sub := r.Value.(fkSubscription)
				foreignKey := typed[KO](r.Key)
				ck, err := combinedKey(fkSerde, pkSerde, regTopic, foreignKey, typed[K](sub.pk))
				if err != nil {
					return err
				}
				switch sub.instr {
				case fkDeleteNoPropagate, fkDeleteAndPropagate:
					err = subs.Delete(ck)
				default:
					err = subs.PutWithTimestamp(ck, encodeStoredSubscription(sub), r.Timestamp)
				}
				if err != nil {
					return err
				}
				rv, rts, ok, err := values.GetWithTimestamp(foreignKey)
				if err != nil {
					return err
				}
				resp := fkResponse{hash: sub.hash, partition: sub.partition}
				ts := r.Timestamp
				if ok {
					ts = max(ts, rts)
				}
				switch sub.instr {
				case fkDeleteNoPropagate:
					return nil
				case fkPropagateOnlyIfValue:
					if !ok {
						return nil
					}
					resp.foreign = rv
				case fkPropagateNullIfNoValue:
					if ok {
						resp.foreign = rv
					}
				}
				return ctx.Forward(processor.AnyRecord{Key: sub.pk, Value: resp, Timestamp: ts, Headers: r.Headers}, "")
			},
		}
	}, regSource)
	b.t.AddStore(subSB, receiveName)
	b.t.ConnectStore(right.store, receiveName)

	// Step 3: a change of a right row goes to every left row subscribed.
	foreignName := named("-foreign-join-processor", "KTABLE-FK-JOIN-FOREIGN-PROCESSOR")
	b.addNode(foreignName, func() *node {
		var subs *state.TypedStore[[]byte, []byte]
		return &node{
			init: func(ctx processor.NodeContext) error {
				var err error
				subs, err = subscriptionStore(ctx, subStore)
				return err
			},
			process: func(ctx processor.NodeContext, r processor.AnyRecord) error {
				if r.Key == nil {
					return nil
				}
				c := r.Value.(change)
				if c.new == nil && c.old == nil {
					return nil
				}
				fkb, err := fkSerde.Serialize(regTopic, typed[KO](r.Key))
				if err != nil {
					return fmt.Errorf("serialize foreign key: %w", err)
				}
				prefix := binary.BigEndian.AppendUint32(nil, uint32(len(fkb)))
				prefix = append(prefix, fkb...)
				type subscriber struct {
					pk  K
					sub fkSubscription
				}
				var found []subscriber
				err = subs.Bytes().Range(prefix, nil, func(k, v []byte) error {
					if !bytes.HasPrefix(k, prefix) {
						return state.ErrStopIteration
					}
					pk, err := pkSerde.Deserialize(regTopic, k[len(prefix):])
					if err != nil {
						return fmt.Errorf("subscription store %s: primary key: %w", subStore, err)
					}
					plain, _, err := state.SplitTimestamp(v)
					if err != nil {
						return err
					}
					sub, err := decodeStoredSubscription(plain)
					if err != nil {
						return fmt.Errorf("subscription store %s: %w", subStore, err)
					}
					found = append(found, subscriber{pk, sub})
					return nil
				})
				if err != nil {
					return err
				}
				for _, s := range found {
					resp := fkResponse{hash: s.sub.hash, foreign: c.new, partition: s.sub.partition}
					if err := ctx.Forward(processor.AnyRecord{Key: s.pk, Value: resp, Timestamp: r.Timestamp, Headers: r.Headers}, ""); err != nil {
						return err
					}
				}
				return nil
			},
		}
	}, right.node)
	b.t.ConnectStore(subStore, foreignName)

	b.t.AddInternalTopic(topology.InternalTopic{Name: respTopic, ReaderPartitions: true, Config: internalTopic})
	respSink := named("-subscription-response-sink", "KTABLE-SINK")
	b.t.AddNode(&topology.Node{Name: respSink, Kind: topology.Sink, Topic: respTopic,
		KeyEncode: topology.Encode(pkSerde), ValEncode: encodeResponse(rvSerde),
		// The response goes back to the partition of the left row, which
		// need not be where the key's hash points (a custom partitioner).
		Partitioner: func(_ string, _, v any, n int32) int32 { return v.(fkResponse).partition },
	}, receiveName, foreignName)

	// Step 4: the left side joins the responses that are still current.
	respSource := named("-subscription-response-source", "KTABLE-SOURCE")
	b.t.AddNode(&topology.Node{Name: respSource, Kind: topology.Source, Topics: []string{respTopic},
		KeyDecode: topology.Decode(pkSerde), ValDecode: decodeResponse(rvSerde)})
	resolveName := named("-subscription-response-resolver", "KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-RESOLVER")
	b.addNode(resolveName, func() *node {
		var rows state.KeyValueStore[K, V]
		return &node{
			init: func(ctx processor.NodeContext) error {
				s, err := ctx.Store(left.store)
				if err != nil {
					return err
				}
				rows, err = state.AsKeyValue[K, V](s)
				return err
			},
			process: func(ctx processor.NodeContext, r processor.AnyRecord) error {
				if r.Key == nil {
					return nil
				}
				resp := r.Value.(fkResponse)
				cur, had, err := rows.Get(typed[K](r.Key))
				if err != nil {
					return err
				}
				var h []byte
				if had {
					if h, err = hash(cur); err != nil {
						return err
					}
				}
				if !bytes.Equal(h, resp.hash) || (h == nil) != (resp.hash == nil) {
					return nil // stale: the row changed since this was asked
				}
				var result any
				if had && (resp.foreign != nil || leftJoin) {
					result = joiner(cur, ptrOf[VO](resp.foreign))
				}
				return ctx.Forward(processor.AnyRecord{Key: r.Key, Value: result, Timestamp: r.Timestamp, Headers: r.Headers}, "")
			},
		}
	}, respSource)
	b.t.ConnectStore(left.store, resolveName)

	// The result table.
	name := named("", "KTABLE-FK-JOIN-OUTPUT")
	vals := pickSerde[VR](b, o.valueSerde, nil)
	o.valueSerde = vals
	if o.store == "" {
		o.noCache = true // as a join without a store would, forward at once
	}
	sb := storeBuilder(b, o, "KTABLE-FK-JOIN-OUTPUT", pkSerde, vals)
	store := sb.Name()
	b.addNode(name, func() *node {
		return materializeNode[K, VR](store, func(r processor.AnyRecord) any { return r.Value })
	}, resolveName)
	b.t.AddStore(sb, name)
	return KTable[K, VR]{b: b, node: name, store: store, keys: pkSerde, vals: vals}
}

// fkHash is the hash of a left value that instructions carry.
func fkHash[V any](s serde.Serde[V], topic string, v V) ([]byte, error) {
	raw, err := s.Serialize(topic, v)
	if err != nil {
		return nil, fmt.Errorf("serialize left value to hash it: %w", err)
	}
	h := fnv.New128a()
	h.Write(raw)
	return h.Sum(nil), nil
}

// combinedKey is the subscription store's key: the foreign key's length
// (4 bytes, big-endian) and bytes, then the primary key's bytes, so that
// the subscribers of one foreign key are one prefix of the store.
func combinedKey[KO, K any](fkSerde serde.Serde[KO], pkSerde serde.Serde[K], topic string, fk KO, pk K) ([]byte, error) {
	fkb, err := fkSerde.Serialize(topic, fk)
	if err != nil {
		return nil, fmt.Errorf("serialize foreign key: %w", err)
	}
	pkb, err := pkSerde.Serialize(topic, pk)
	if err != nil {
		return nil, fmt.Errorf("serialize primary key: %w", err)
	}
	out := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(fkb)+len(pkb)), uint32(len(fkb)))
	return append(append(out, fkb...), pkb...), nil
}

func subscriptionStore(ctx processor.NodeContext, name string) (*state.TypedStore[[]byte, []byte], error) {
	s, err := ctx.Store(name)
	if err != nil {
		return nil, err
	}
	kv, ok := s.(*state.TypedStore[[]byte, []byte])
	if !ok {
		return nil, fmt.Errorf("subscription store %s is %T", name, s)
	}
	return kv, nil
}

// Wire formats, version 0. A subscription: version, instruction, flags
// (bit 0: a hash follows), the 16-byte hash, the left partition (4 bytes),
// then the primary key's bytes. A response: version, flags (bit 0: hash,
// bit 1: a right value follows), the hash, then the right value's bytes.
// The subscription store keeps the left partition and the hash.
const fkWireVersion = 0

const fkHashLen = 16

func encodeSubscription[K any](pkSerde serde.Serde[K]) topology.Encoder {
	return func(topic string, v any) ([]byte, error) {
		sub := v.(fkSubscription)
		pkb, err := pkSerde.Serialize(topic, typed[K](sub.pk))
		if err != nil {
			return nil, fmt.Errorf("serialize primary key: %w", err)
		}
		out := []byte{fkWireVersion, sub.instr}
		out = appendHash(out, sub.hash)
		out = binary.BigEndian.AppendUint32(out, uint32(sub.partition))
		return append(out, pkb...), nil
	}
}

func decodeSubscription[K any](pkSerde serde.Serde[K]) topology.Decoder {
	return func(topic string, b []byte) (any, error) {
		if len(b) < 2 || b[0] != fkWireVersion {
			return nil, fmt.Errorf("foreign-key subscription: not a version %d subscription", fkWireVersion)
		}
		sub := fkSubscription{instr: b[1]}
		if sub.instr > fkPropagateOnlyIfValue {
			return nil, fmt.Errorf("foreign-key subscription: unknown instruction %d", sub.instr)
		}
		h, rest, err := readHash(b[2:])
		if err != nil || len(rest) < 4 {
			return nil, fmt.Errorf("foreign-key subscription: truncated")
		}
		sub.hash, sub.partition = h, int32(binary.BigEndian.Uint32(rest))
		pk, err := pkSerde.Deserialize(topic, rest[4:])
		if err != nil {
			return nil, fmt.Errorf("foreign-key subscription: primary key: %w", err)
		}
		sub.pk = pk
		return sub, nil
	}
}

func encodeStoredSubscription(sub fkSubscription) []byte {
	out := binary.BigEndian.AppendUint32(nil, uint32(sub.partition))
	return appendHash(out, sub.hash)
}

func decodeStoredSubscription(b []byte) (fkSubscription, error) {
	if len(b) < 4 {
		return fkSubscription{}, fmt.Errorf("stored subscription of %d bytes", len(b))
	}
	h, _, err := readHash(b[4:])
	return fkSubscription{partition: int32(binary.BigEndian.Uint32(b)), hash: h}, err
}

func encodeResponse[VO any](rvSerde serde.Serde[VO]) topology.Encoder {
	return func(topic string, v any) ([]byte, error) {
		resp := v.(fkResponse)
		out := []byte{fkWireVersion}
		out = appendHash(out, resp.hash)
		if resp.foreign == nil {
			return out, nil
		}
		out[1] |= 2
		vb, err := rvSerde.Serialize(topic, typed[VO](resp.foreign))
		if err != nil {
			return nil, fmt.Errorf("serialize right value: %w", err)
		}
		return append(out, vb...), nil
	}
}

func decodeResponse[VO any](rvSerde serde.Serde[VO]) topology.Decoder {
	return func(topic string, b []byte) (any, error) {
		if len(b) < 2 || b[0] != fkWireVersion {
			return nil, fmt.Errorf("foreign-key response: not a version %d response", fkWireVersion)
		}
		h, rest, err := readHash(b[1:])
		if err != nil {
			return nil, fmt.Errorf("foreign-key response: %w", err)
		}
		resp := fkResponse{hash: h}
		if b[1]&2 != 0 {
			v, err := rvSerde.Deserialize(topic, rest)
			if err != nil {
				return nil, fmt.Errorf("foreign-key response: right value: %w", err)
			}
			resp.foreign = v
		}
		return resp, nil
	}
}

// appendHash appends the flags byte (bit 0: a hash follows) and the hash.
func appendHash(out, h []byte) []byte {
	if h == nil {
		return append(out, 0)
	}
	return append(append(out, 1), h...)
}

// readHash reads what appendHash wrote and returns the rest.
func readHash(b []byte) (h, rest []byte, err error) {
	if len(b) < 1 {
		return nil, nil, fmt.Errorf("missing flags")
	}
	if b[0]&1 == 0 {
		return nil, b[1:], nil
	}
	if len(b) < 1+fkHashLen {
		return nil, nil, fmt.Errorf("truncated hash")
	}
	return b[1 : 1+fkHashLen], b[1+fkHashLen:], nil
}
