#!/usr/bin/python3
"""Consume + parse + aggregate the kafka-python way: json.loads each message
and sum revenue by status and product line (Decimal, to compare exactly).

usage: peer_consumer.py BROKERS TOPIC COUNT
"""
import json
import sys
from collections import defaultdict
from decimal import Decimal

from kafka import KafkaConsumer

brokers, topic, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
consumer = KafkaConsumer(topic, bootstrap_servers=brokers.split(','), group_id=None,
                         auto_offset_reset='earliest', enable_auto_commit=False,
                         consumer_timeout_ms=10000)
by_status = defaultdict(Decimal)
by_line = defaultdict(Decimal)
seen = 0
for message in consumer:
    e = json.loads(message.value)
    amount = Decimal(str(e['amount']))
    by_status[e['status']] += amount
    by_line[e['product_line']] += amount
    seen += 1
    if seen >= count:
        break
print(seen, sum(by_status.values()))
