"""A confluent-kafka-python group member for Sluice's consumer-group tests (groups_test.go).

Written for confluent-kafka-python 1.7.0 (Debian's python3-confluent-kafka, librdkafka
2.0.2, eager range/roundrobin assignment); run it with Debian's /usr/bin/python3.

  group_confluent.py BOOTSTRAP TOPIC GROUP NAME COMMIT_EVERY

Subscribes to TOPIC in GROUP and prints one JSON line per record consumed:
{"member", "partition", "offset", "value"}, and one per rebalance event:
{"member", "event": "assign"|"revoke"|"commit_failed"|"closed", "partitions", "error"}.

Offsets are committed synchronously, only for records already printed: every COMMIT_EVERY
records, in the revoke callback (before the partitions go to another member), and at the
end. SIGTERM makes it leave the group gracefully (commit, then close: LeaveGroup).
Exits non-zero, with the reason on stderr, on a fatal error.
"""

import json
import signal
import sys

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

stop = False


def on_term(signum, frame):
    global stop
    stop = True


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def fail(msg):
    sys.stderr.write("group_confluent: %s\n" % msg)
    sys.exit(1)


def main(bootstrap, topic, group, name, commit_every):
    signal.signal(signal.SIGTERM, on_term)
    processed = {}  # partition -> next offset to commit

    def on_error(err):
        sys.stderr.write("group_confluent %s: client error: %s\n" % (name, err))
        if err.fatal():
            fail("fatal client error: %s" % err)

    c = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "client.id": name,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 1000,
        "enable.partition.eof": False,
        "error_cb": on_error,
    })

    def commit(partitions=None):
        offs = [TopicPartition(topic, p, o) for p, o in sorted(processed.items())
                if partitions is None or p in partitions]
        if not offs:
            return
        try:
            c.commit(offsets=offs, asynchronous=False)
        except KafkaException as e:
            emit({"member": name, "event": "commit_failed", "partitions": [t.partition for t in offs],
                  "error": str(e)})

    def on_assign(consumer, parts):
        emit({"member": name, "event": "assign", "partitions": sorted(p.partition for p in parts)})

    def on_revoke(consumer, parts):
        ps = set(p.partition for p in parts)
        commit(ps)
        for p in ps:
            processed.pop(p, None)
        emit({"member": name, "event": "revoke", "partitions": sorted(ps)})

    c.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
    n = 0
    while not stop:
        msg = c.poll(0.2)
        if msg is None:
            continue
        if msg.error() is not None:
            if msg.error().code() == KafkaError._PARTITION_EOF:
                continue
            sys.stderr.write("group_confluent %s: consume error: %s\n" % (name, msg.error()))
            continue
        emit({"member": name, "partition": msg.partition(), "offset": msg.offset(),
              "value": msg.value().decode() if msg.value() is not None else None})
        processed[msg.partition()] = msg.offset() + 1
        n += 1
        if commit_every > 0 and n % commit_every == 0:
            commit()
    commit()
    c.close()
    emit({"member": name, "event": "closed"})


if __name__ == "__main__":
    if len(sys.argv) != 6:
        fail("usage: group_confluent.py BOOTSTRAP TOPIC GROUP NAME COMMIT_EVERY")
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
