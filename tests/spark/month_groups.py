"""Groups Comptoir datasets' rows by the month of a datetime column, in this Spark
session's time zone; prints one line per dataset: `MONTHS <path> <type> {"YYYY-MM": rows}`.

    spark-submit --py-files spark/comptoir_lake.py tests/spark/month_groups.py COLUMN DATASET[#legacy]...

`#legacy:KEY,KEY` reads Avro parts as those Comptoir wrote before 2026-12 were read: the
column's logical type taken as timestamp-micros (an instant in UTC), through spark-avro's
avroSchema; it also prints `MOVED <n>`: the rows whose month differs from the dataset's own
reading, matched on the KEY columns.
"""
import json
import sys

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from comptoir_lake import read_dataset, read_schema

column = sys.argv[1]
spark = SparkSession.builder.appName("comptoir-month-groups").getOrCreate()
for arg in sys.argv[2:]:
    path, _, mode = arg.partition("#")
    df = read_dataset(spark, path)
    if mode.startswith("legacy:"):
        keys = mode.split(":", 1)[1].split(",")
        avro = json.dumps(read_schema(spark, path)["avro_schema"]).replace("local-timestamp-micros", "timestamp-micros")
        legacy = spark.read.format("avro").option("avroSchema", avro).load(path)
        month = lambda d, name: d.select(*keys, F.date_format(F.col(column), "yyyy-MM").alias(name))
        moved = month(df, "own").join(month(legacy, "legacy"), keys).where(F.col("own") != F.col("legacy")).count()
        print(f"MOVED {moved}", flush=True)
        df = legacy
    rows = df.groupBy(F.date_format(F.col(column), "yyyy-MM").alias("month")).count().collect()
    months = json.dumps({r["month"]: r["count"] for r in rows}, sort_keys=True)
    print(f"MONTHS {arg} {df.schema[column].dataType.simpleString()} {months}", flush=True)
spark.stop()
