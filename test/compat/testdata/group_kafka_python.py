"""A kafka-python group consumer for Sluice's consumer-group tests (groups_test.go).

Written for kafka-python 2.0.2 (Debian's python3-kafka); run it with Debian's
/usr/bin/python3. The broker version is auto-detected, as a user would leave it.

  group_kafka_python.py BOOTSTRAP TOPIC GROUP COUNT

Joins GROUP subscribed to TOPIC, consumes COUNT records (from the group's committed
offsets, or the earliest), prints one JSON line per record {"partition", "offset", "value"},
commits exactly the records it printed, and leaves the group.
Exits non-zero, with the reason on stderr, on any error or after 90 s.
"""

import json
import sys
import time

from kafka import KafkaConsumer
from kafka.structs import OffsetAndMetadata

TIMEOUT_S = 90


def fail(msg):
    sys.stderr.write("group_kafka_python: %s\n" % msg)
    sys.exit(1)


def main(bootstrap, topic, group, count):
    c = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group,
                      client_id="sluice-compat-kafka-python-group",
                      enable_auto_commit=False, auto_offset_reset="earliest",
                      session_timeout_ms=10000, heartbeat_interval_ms=1000)
    processed = {}
    n = 0
    deadline = time.time() + TIMEOUT_S
    while n < count:
        if time.time() > deadline:
            fail("timed out after %d of %d records" % (n, count))
        batches = c.poll(timeout_ms=500, max_records=count - n)
        for tp, msgs in batches.items():
            for m in msgs:
                if n >= count:
                    break
                print(json.dumps({"partition": m.partition, "offset": m.offset,
                                  "value": m.value.decode() if m.value is not None else None}))
                processed[tp] = m.offset + 1
                n += 1
    if processed:
        c.commit({tp: OffsetAndMetadata(off, None) for tp, off in processed.items()})
    c.close()


if __name__ == "__main__":
    if len(sys.argv) != 5:
        fail("usage: group_kafka_python.py BOOTSTRAP TOPIC GROUP COUNT")
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
