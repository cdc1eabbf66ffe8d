"""kafka-python client for Sluice's compat tests (run by python_test.go).

Written for kafka-python 2.0.2 (Debian's python3-kafka). Run it with Debian's /usr/bin/python3.
The broker version is auto-detected (no api_version), as a user would leave it.

  kafka_python_client.py produce BOOTSTRAP TOPIC COUNT PARTITIONS
      Produces COUNT records with acks='all': key "key-<i>", value "kafka-python-<i>",
      header src=kafka-python, to partition i % PARTITIONS. Waits for every future; prints
      one JSON line per record: {"i", "partition", "offset"}.

  kafka_python_client.py consume BOOTSTRAP TOPIC PARTITION:OFFSET:COUNT ...
      assign() + seek() (no consumer group), then reads COUNT records from each partition;
      prints one JSON line per record: {"partition", "offset", "key", "value", "headers"}.

Exits non-zero, with the reason on stderr, on any error.
"""

import json
import sys
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

TIMEOUT_S = 60


def fail(msg):
    sys.stderr.write("kafka_python_client: %s\n" % msg)
    sys.exit(1)


def produce(bootstrap, topic, count, partitions):
    p = KafkaProducer(bootstrap_servers=bootstrap, acks="all",
                      client_id="sluice-compat-kafka-python")
    sys.stderr.write("kafka_python_client: detected broker version %s\n" % (p.config["api_version"],))
    futures = []
    for i in range(count):
        futures.append(p.send(topic, key=b"key-%d" % i, value=b"kafka-python-%d" % i,
                              partition=i % partitions, headers=[("src", b"kafka-python")]))
    p.flush(TIMEOUT_S)
    for i, f in enumerate(futures):
        try:
            md = f.get(timeout=TIMEOUT_S)
        except Exception as e:  # noqa: BLE001 - any failure is the test's failure
            fail("record %d: %r" % (i, e))
        print(json.dumps({"i": i, "partition": md.partition, "offset": md.offset}))
    p.close(TIMEOUT_S)


def consume(bootstrap, topic, specs):
    want = {}
    start = {}
    for spec in specs:
        part, off, n = (int(x) for x in spec.split(":"))
        want[part] = n
        start[part] = off
    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                      client_id="sluice-compat-kafka-python")
    tps = {p: TopicPartition(topic, p) for p in want}
    c.assign(list(tps.values()))
    for p, tp in tps.items():
        c.seek(tp, start[p])
    got = {p: 0 for p in want}
    deadline = time.time() + TIMEOUT_S
    while any(got[p] < want[p] for p in want):
        if time.time() > deadline:
            fail("timed out: consumed %s, want %s" % (got, want))
        for tp, msgs in c.poll(timeout_ms=500).items():
            for m in msgs:
                if got[tp.partition] >= want[tp.partition]:
                    continue
                got[tp.partition] += 1
                print(json.dumps({
                    "partition": tp.partition,
                    "offset": m.offset,
                    "key": m.key.decode() if m.key is not None else None,
                    "value": m.value.decode() if m.value is not None else None,
                    "headers": [[k, v.decode()] for k, v in (m.headers or [])],
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
