// A kafkajs 2.2.4 group consumer for Sluice's consumer-group tests (groups_test.go).
//
//   node group_kafkajs.js BOOTSTRAP TOPIC GROUP COUNT
//
// Joins GROUP subscribed to TOPIC, consumes COUNT records (from the group's committed
// offsets, or the earliest), prints one JSON line per record {"partition", "offset",
// "value"}, commits exactly the records it printed (autoCommit off), and leaves the group.
// Exits non-zero, with the reason on stderr, on any error or after 90 s.
'use strict'

const { Kafka, logLevel } = require('kafkajs')

function fail(msg) {
  process.stderr.write(`group_kafkajs: ${msg}\n`)
  process.exit(1)
}

async function main(bootstrap, topic, groupId, count) {
  const kafka = new Kafka({ clientId: 'sluice-compat-kafkajs-group', brokers: [bootstrap], logLevel: logLevel.WARN })
  const consumer = kafka.consumer({ groupId, sessionTimeout: 10000, heartbeatInterval: 1000, maxWaitTimeInMs: 500 })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  const processed = new Map()
  let n = 0
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${n} of ${count} records`)), 90000)
    consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        if (n >= count) return
        process.stdout.write(JSON.stringify({ partition, offset: Number(message.offset), value: message.value ? message.value.toString() : null }) + '\n')
        processed.set(partition, BigInt(message.offset) + 1n)
        n++
        if (n === count) {
          clearTimeout(timer)
          resolve()
        }
      },
    }).catch(reject)
  })
  await consumer.commitOffsets([...processed].map(([partition, offset]) => ({ topic, partition, offset: offset.toString() })))
  await consumer.disconnect()
}

const args = process.argv.slice(2)
if (args.length !== 4) fail('usage: node group_kafkajs.js BOOTSTRAP TOPIC GROUP COUNT')
main(args[0], args[1], args[2], Number(args[3])).catch((e) => fail(e.stack || String(e)))
