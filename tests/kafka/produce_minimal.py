#!/usr/bin/python3
"""The reference design's producer.py, minus its sleep: kafka-python defaults
(no key, leader-only acks) and the minimal event format. Also sends a few
malformed messages. Prints the number of valid events and their exact total.

usage: produce_minimal.py BROKERS TOPIC COUNT
"""
import json
import random
import sys
from decimal import Decimal

from kafka import KafkaProducer

brokers, topic, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
producer = KafkaProducer(bootstrap_servers=brokers.split(','),
                         value_serializer=lambda v: json.dumps(v).encode('utf-8'))
rng = random.Random(7)
total = Decimal('0')
for _ in range(count):
    cents = rng.randint(100, 999999)
    amount = Decimal(cents) / 100
    total += amount
    producer.send(topic, {'order_id': rng.randint(1000, 9999), 'amount': float(amount),
                          'status': rng.choice(['completed', 'pending', 'failed']),
                          'customer_id': rng.randint(1, 500)})
raw = KafkaProducer(bootstrap_servers=brokers.split(','))
for bad in [b'not json', b'{"order_id": 1, "status": "completed"}', b'{"order_id": 2, "amount": "abc", "status": "x"}']:
    raw.send(topic, bad)
producer.flush()
raw.flush()
print(count, f'{total:.2f}')
