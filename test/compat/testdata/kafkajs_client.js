// kafkajs 2.2.4 client for Sluice's compat tests (run by kafkajs_test.go).
//
//   node kafkajs_client.js produce BOOTSTRAP TOPIC COUNT PARTITIONS
//     Produces COUNT records with acks=-1 (all): key "key-<i>", value "kafkajs-<i>", header
//     src=kafkajs, to partition i % PARTITIONS, in sends of 100 records. The first half goes
//     through a plain producer, the second half through an idempotent producer with GZIP
//     compression. Prints one JSON line per record, {"i", "partition", "offset"}, the offset
//     computed from the base offset the broker answered for that partition in that send.
//
//   node kafkajs_client.js fetch BOOTSTRAP TOPIC PARTITION:OFFSET:COUNT ...
//     Reads COUNT records of each partition from OFFSET and prints one JSON line per record,
//     {"partition", "offset", "key", "value", "headers"}. kafkajs has no consumer without a
//     group, so this drives kafkajs's internal Cluster and Broker objects the way its consumer
//     does (Cluster.findLeaderForPartitions, Broker.fetch with read_committed, dropping
//     records below the fetch offset as its Batch class does). It covers kafkajs's Fetch
//     encoding and record batch decoding; its group membership waits for consumer groups.
//
// Exits non-zero, with the reason on stderr, on any error.
'use strict'

const { Kafka, logLevel, CompressionTypes } = require('kafkajs')

const TIMEOUT_MS = 60000

function fail(msg) {
  process.stderr.write(`kafkajs_client: ${msg}\n`)
  process.exit(1)
}

function newKafka(bootstrap) {
  return new Kafka({
    clientId: 'sluice-compat-kafkajs',
    brokers: [bootstrap],
    logLevel: logLevel.WARN,
  })
}

async function produce(bootstrap, topic, count, partitions) {
  const kafka = newKafka(bootstrap)
  const plain = kafka.producer({ allowAutoTopicCreation: false })
  const idempotent = kafka.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 })
  await plain.connect()
  await idempotent.connect()
  const half = Math.floor(count / 2)
  const chunks = []
  for (let from = 0; from < half; from += 100) chunks.push([from, Math.min(from + 100, half), false])
  for (let from = half; from < count; from += 100) chunks.push([from, Math.min(from + 100, count), true])
  const out = []
  for (const [from, to, useIdempotent] of chunks) {
    const messages = []
    for (let i = from; i < to; i++) {
      messages.push({
        key: `key-${i}`,
        value: `kafkajs-${i}`,
        partition: i % partitions,
        headers: { src: 'kafkajs' },
      })
    }
    const producer = useIdempotent ? idempotent : plain
    const metadata = await producer.send({
      topic,
      acks: -1,
      timeout: TIMEOUT_MS,
      compression: useIdempotent ? CompressionTypes.GZIP : CompressionTypes.None,
      messages,
    })
    const base = new Map()
    for (const m of metadata) {
      if (m.errorCode !== 0) fail(`send: partition ${m.partition} error code ${m.errorCode}`)
      base.set(m.partition, BigInt(m.baseOffset))
    }
    const seen = new Map()
    for (let i = from; i < to; i++) {
      const p = i % partitions
      if (!base.has(p)) fail(`send: no result for partition ${p}`)
      const n = seen.get(p) || 0n
      seen.set(p, n + 1n)
      out.push(JSON.stringify({ i, partition: p, offset: Number(base.get(p) + n) }))
    }
  }
  await plain.disconnect()
  await idempotent.disconnect()
  process.stdout.write(out.join('\n') + '\n')
}

function clusterOf(kafka) {
  // The client's private cluster factory, the one its producer, consumer and admin use.
  const sym = Object.getOwnPropertySymbols(kafka).find(s => s.toString() === 'Symbol(private:Kafka:createCluster)')
  if (!sym) fail('kafkajs internals changed: no createCluster symbol')
  return kafka[sym]({ allowAutoTopicCreation: false, isolationLevel: 1 })
}

async function fetch(bootstrap, topic, specs) {
  const cluster = clusterOf(newKafka(bootstrap))
  await cluster.connect()
  await cluster.addTargetTopic(topic)
  const want = new Map()
  for (const spec of specs) {
    const [p, off, n] = spec.split(':').map(Number)
    want.set(p, { next: BigInt(off), left: n })
  }
  const deadline = Date.now() + TIMEOUT_MS
  const out = []
  for (;;) {
    const active = [...want.entries()].filter(([, s]) => s.left > 0).map(([p]) => p)
    if (active.length === 0) break
    if (Date.now() > deadline) fail(`timed out with ${JSON.stringify([...want.entries()].map(([p, s]) => [p, s.left]))} records left`)
    const byLeader = cluster.findLeaderForPartitions(topic, active)
    for (const [nodeId, parts] of Object.entries(byLeader)) {
      const broker = await cluster.findBroker({ nodeId })
      const { responses } = await broker.fetch({
        isolationLevel: 1, // read_committed, the kafkajs consumer's default
        maxWaitTime: 500,
        minBytes: 1,
        maxBytes: 10485760,
        topics: [{
          topic,
          partitions: parts.map(p => ({ partition: p, fetchOffset: want.get(p).next.toString(), maxBytes: 1048576 })),
        }],
      })
      for (const { partitions } of responses) {
        for (const pd of partitions) {
          if (pd.errorCode !== 0) fail(`fetch partition ${pd.partition}: error code ${pd.errorCode}`)
          const s = want.get(pd.partition)
          for (const m of pd.messages) {
            const off = BigInt(m.offset)
            if (off < s.next || s.left === 0 || m.isControlRecord) continue
            if (off !== s.next) fail(`partition ${pd.partition}: offset ${off} after ${s.next - 1n}, want ${s.next}`)
            s.next = off + 1n
            s.left--
            out.push(JSON.stringify({
              partition: pd.partition,
              offset: Number(off),
              key: m.key === null ? null : m.key.toString(),
              value: m.value === null ? null : m.value.toString(),
              headers: Object.entries(m.headers || {}).map(([k, v]) => [k, v.toString()]),
            }))
          }
        }
      }
    }
  }
  await cluster.disconnect()
  process.stdout.write(out.join('\n') + '\n')
}

async function main(argv) {
  if (argv.length >= 5 && argv[0] === 'produce') {
    await produce(argv[1], argv[2], Number(argv[3]), Number(argv[4]))
  } else if (argv.length >= 4 && argv[0] === 'fetch') {
    await fetch(argv[1], argv[2], argv.slice(3))
  } else {
    fail('usage: see the comment at the top of this file')
  }
}

main(process.argv.slice(2)).catch(e => fail(e && e.stack ? e.stack : String(e)))
