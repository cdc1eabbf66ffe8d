"""confluent-kafka-python client for Sluice's compat tests (run by python_test.go).

Written for confluent-kafka-python 1.7.0 (Debian's python3-confluent-kafka, librdkafka
2.0.2): it sticks to the API of that release. Run it with Debian's /usr/bin/python3.

  confluent_client.py produce BOOTSTRAP TOPIC COUNT PARTITIONS
      Produces COUNT records with acks=all: key "key-<i>", value "confluent-<i>",
      header src=confluent-python, to partition i % PARTITIONS. Every delivery report is
      checked; prints one JSON line per record: {"i", "partition", "offset"}.

  confluent_client.py consume BOOTSTRAP TOPIC PARTITION:OFFSET:COUNT ...
      Assigns each partition at OFFSET (no consumer group) and reads COUNT records from it;
      prints one JSON line per record: {"partition", "offset", "key", "value", "headers"}.

Exits non-zero, with the reason on stderr, on any error.
"""

import json
import sys
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

TIMEOUT_S = 60


def fail(msg):
    sys.stderr.write("confluent_client: %s\n" % msg)
    sys.exit(1)


def on_error(err):
    # librdkafka reports transient errors (a reconnect) here too; only fatal ones fail.
    sys.stderr.write("confluent_client: client error: %s\n" % err)
    if err.fatal():
        fail("fatal client error: %s" % err)


def produce(bootstrap, topic, count, partitions):
    p = Producer({
        "bootstrap.servers": bootstrap,
        "acks": "all",
        "client.id": "sluice-compat-confluent",
        "error_cb": on_error,
    })
    delivered = {}
    errors = []

    def make_cb(i):
        def cb(err, msg):
            if err is not None:
                errors.append("record %d: %s" % (i, err))
                return
            delivered[i] = (msg.partition(), msg.offset())
        return cb

    for i in range(count):
        while True:
            try:
                p.produce(topic, key="key-%d" % i, value="confluent-%d" % i,
                          partition=i % partitions, headers=[("src", b"confluent-python")],
                          on_delivery=make_cb(i))
                break
            except BufferError:
                p.poll(0.1)  # the local queue is full: serve delivery reports
        p.poll(0)
    left = p.flush(TIMEOUT_S)
    if left:
        fail("%d records still undelivered after %ds" % (left, TIMEOUT_S))
    if errors:
        fail("%d delivery errors, first: %s" % (len(errors), errors[0]))
    if len(delivered) != count:
        fail("%d delivery reports for %d records" % (len(delivered), count))
    for i in range(count):
        part, off = delivered[i]
        print(json.dumps({"i": i, "partition": part, "offset": off}))


def consume(bootstrap, topic, specs):
    want = {}
    assignment = []
    for spec in specs:
        part, off, n = (int(x) for x in spec.split(":"))
        want[part] = n
        assignment.append(TopicPartition(topic, part, off))
    c = Consumer({
        "bootstrap.servers": bootstrap,
        # librdkafka 2.0.2 wants a group.id for a Consumer, even one that only uses
        # assign(): no group is joined and nothing is committed.
        "group.id": "sluice-compat-unused",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "enable.partition.eof": False,
        "client.id": "sluice-compat-confluent",
        "error_cb": on_error,
    })
    c.assign(assignment)
    got = {p: 0 for p in want}
    deadline = time.time() + TIMEOUT_S
    while any(got[p] < want[p] for p in want):
        if time.time() > deadline:
            fail("timed out: consumed %s, want %s" % (got, want))
        msg = c.poll(0.5)
        if msg is None:
            continue
        if msg.error() is not None:
            fail("consume error: %s" % msg.error())
        part = msg.partition()
        if part not in want or got[part] >= want[part]:
            continue
        got[part] += 1
        print(json.dumps({
            "partition": part,
            "offset": msg.offset(),
            "key": msg.key().decode() if msg.key() is not None else None,
            "value": msg.value().decode() if msg.value() is not None else None,
            "headers": [[k, v.decode()] for k, v in (msg.headers() or [])],
        }))
    c.close()


def main(argv):
    if len(argv) >= 5 and argv[0] == "produce":
        produce(argv[1], argv[2], int(argv[3]), int(argv[4]))
    elif len(argv) >= 4 and argv[0] == "consume":
        consume(argv[1], argv[2], argv[3:])
    else:
        fail("usage: see the module docstring")


if __name__ == "__main__":
    main(sys.argv[1:])
