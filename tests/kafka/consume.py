#!/usr/bin/python3
"""kafka-python consumer for the interop tests: prints every value of a topic, one per line.

usage: consume.py BROKERS TOPIC EXPECTED  (stops after EXPECTED records or 20 s of silence)
"""
import sys

from kafka import KafkaConsumer

brokers, topic, expected = sys.argv[1], sys.argv[2], int(sys.argv[3])
consumer = KafkaConsumer(topic, bootstrap_servers=brokers.split(','), group_id=None,
                         auto_offset_reset='earliest', enable_auto_commit=False,
                         consumer_timeout_ms=20000)
out = sys.stdout.buffer
seen = 0
for message in consumer:
    out.write(message.value + b'\n')
    seen += 1
    if seen >= expected:
        break
consumer.close()
