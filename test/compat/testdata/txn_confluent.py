"""confluent-kafka-python transactional client for Sluice's compat tests (txn_test.go).

Written for confluent-kafka-python 1.7.0 (Debian's python3-confluent-kafka, librdkafka
2.0.2). Run it with Debian's /usr/bin/python3.

  txn_confluent.py produce BOOTSTRAP TOPIC TXNS PER_TXN PARTITIONS
      One transactional producer writes TXNS transactions of PER_TXN records each, record
      j of transaction i with value "t<i>-<j>" to partition j % PARTITIONS, and commits
      every transaction but those with i % 3 == 2, which it aborts after the records have
      reached the broker. Prints one JSON line
      per transaction: {"txn", "committed"}.

  txn_confluent.py consume BOOTSTRAP TOPIC PARTITIONS ISOLATION
      Reads every partition from the beginning to its end with isolation.level ISOLATION
      (read_committed or read_uncommitted); prints one JSON line per record:
      {"partition", "offset", "value"}.

Exits non-zero, with the reason on stderr, on any error.
"""

import json
import sys
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

TIMEOUT_S = 60


def fail(msg):
    sys.stderr.write("txn_confluent: %s\n" % msg)
    sys.exit(1)


def produce(bootstrap, topic, txns, per_txn, partitions):
    p = Producer({
        "bootstrap.servers": bootstrap,
        "transactional.id": "compat-txn-" + topic,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "error_cb": lambda err: err.fatal() and fail("fatal client error: %s" % err),
    })
    p.init_transactions(TIMEOUT_S)
    for i in range(txns):
        p.begin_transaction()
        for j in range(per_txn):
            p.produce(topic, value=("t%d-%d" % (i, j)).encode(), partition=j % partitions)
        # Flush first, so that an aborted transaction's records reach the broker (abort
        # would otherwise purge those still queued in the client).
        if p.flush(TIMEOUT_S) != 0:
            fail("transaction %d: records still queued after %ds" % (i, TIMEOUT_S))
        commit = i % 3 != 2
        if commit:
            p.commit_transaction(TIMEOUT_S)
        else:
            p.abort_transaction(TIMEOUT_S)
        print(json.dumps({"txn": i, "committed": commit}), flush=True)


def consume(bootstrap, topic, partitions, isolation):
    c = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "compat-txn-reader",
        "enable.auto.commit": False,
        "isolation.level": isolation,
        "enable.partition.eof": True,
    })
    c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    done = set()
    deadline = time.time() + TIMEOUT_S
    while len(done) < partitions:
        if time.time() > deadline:
            fail("partitions %s not read to the end within %ds" % (sorted(set(range(partitions)) - done), TIMEOUT_S))
        m = c.poll(1.0)
        if m is None:
            continue
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                done.add(m.partition())
                continue
            fail("consume: %s" % m.error())
        print(json.dumps({"partition": m.partition(), "offset": m.offset(), "value": m.value().decode()}), flush=True)
    c.close()


def main():
    if len(sys.argv) < 2:
        fail("usage: txn_confluent.py produce|consume ...")
    try:
        if sys.argv[1] == "produce":
            produce(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]))
        elif sys.argv[1] == "consume":
            consume(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
        else:
            fail("unknown command %s" % sys.argv[1])
    except KafkaException as e:
        fail("kafka: %s" % e)


main()
