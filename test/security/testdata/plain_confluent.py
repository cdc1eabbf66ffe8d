#!/usr/bin/python3
"""Produces N records over SASL with PLAIN, then consumes them back, with
librdkafka (confluent-kafka-python). Prints the consumed values, one a line.

usage: plain_confluent.py BROKER PROTOCOL USER PASSWORD TOPIC N [CA]
"""
import sys

from confluent_kafka import Consumer, KafkaException, Producer


def main():
    broker, protocol, user, password, topic, n = sys.argv[1:7]
    n = int(n)
    conf = {
        "bootstrap.servers": broker,
        "security.protocol": protocol,
        "sasl.mechanisms": "PLAIN",
        "sasl.username": user,
        "sasl.password": password,
    }
    if len(sys.argv) > 7:
        conf["ssl.ca.location"] = sys.argv[7]

    errors = []
    p = Producer(dict(conf, **{"enable.idempotence": True, "acks": "all"}))

    def delivered(err, _msg):
        if err is not None:
            errors.append(err)

    for i in range(n):
        p.produce(topic, value=b"v%d" % i, callback=delivered)
    left = p.flush(30)
    if left or errors:
        raise SystemExit("produce: %d left, errors %s" % (left, errors[:3]))

    c = Consumer(dict(conf, **{"group.id": "plain-" + topic, "auto.offset.reset": "earliest",
                               "enable.auto.commit": False}))
    c.subscribe([topic])
    got = []
    for _ in range(600):
        if len(got) >= n:
            break
        m = c.poll(0.1)
        if m is None:
            continue
        if m.error():
            raise KafkaException(m.error())
        got.append(m.value().decode())
    c.close()
    print("\n".join(got))


if __name__ == "__main__":
    main()
