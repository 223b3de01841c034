#!/usr/bin/python3
"""The reference design's producer.py without its 0.5 s sleep: kafka-python
defaults, a random dict per event serialized with json.dumps.

usage: peer_producer.py BROKERS TOPIC COUNT
"""
import json
import random
import sys
import time

from kafka import KafkaProducer

brokers, topic, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
producer = KafkaProducer(bootstrap_servers=brokers.split(','),
                         value_serializer=lambda v: json.dumps(v).encode('utf-8'))
statuses = ['Shipped', 'Cancelled', 'On Hold', 'Disputed', 'In Process', 'Resolved']
lines = ['Classic Cars', 'Vintage Cars', 'Motorcycles', 'Trucks and Buses', 'Planes', 'Ships', 'Trains']
for i in range(count):
    producer.send(topic, {
        'event_id': f'py-{i:012d}', 'ts': time.strftime('%Y-%m-%dT%H:%M:%S.000Z', time.gmtime()),
        'order_number': random.randint(10100, 99999), 'order_line': random.randint(1, 9),
        'customer': 'Land of Toys Inc.', 'country': 'USA', 'territory': 'NA',
        'product_code': 'S10_1678', 'product_line': random.choice(lines),
        'quantity': random.randint(20, 50), 'price_each': 95.7,
        'amount': round(random.uniform(500, 9000), 2), 'status': random.choice(statuses),
        'deal_size': 'Medium'})
producer.flush()
