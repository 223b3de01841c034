"""The sales view of a Comptoir sales dataset, built by Spark (`comptoir views build --engine spark`).

    spark-submit --py-files comptoir_lake.py sales_views.py SOURCE_URI OUTPUT_URI

Reads the dataset at SOURCE_URI (file:// or webhdfs:// / hdfs://, text or Avro parts, through its
_schema.json) and writes the view's records to OUTPUT_URI as headerless RFC 4180 CSV parts, one
order group never split across two parts, each part sorted. `comptoir` moves the parts into the
view's publication and writes its _schema.json, _view.json and _SUCCESS. The last line on stdout is
`COMPTOIR_VIEW {json}` with the counts the manifest records.

The records are those of the embedded engine (src/analytics/sales_view.cc, docs/views.md), value for
value: one per (order group, product line, deal size), where an order group gathers the orders with
the same date, status, customer, country, territory and set of (product line, deal size) cells, and
ORDER_GROUP is its smallest order number. An order whose lines disagree on one of those columns
forms groups of its own (ORDER_GROUP = its number, ORDERS = 1). NULL strings count as "", NULL
numbers as 0, as in the embedded engine.
"""
import json
import sys

from pyspark.sql import SparkSession
from pyspark.sql import Window
from pyspark.sql import functions as F

from comptoir_lake import read_dataset

ATTRS = ["ORDERDATE", "STATUS", "CUSTOMERNAME", "COUNTRY", "TERRITORY"]
CELL = ["PRODUCTLINE", "DEALSIZE"]


def main(source, output):
    spark = SparkSession.builder.appName("comptoir-views-sales").getOrCreate()
    raw = read_dataset(spark, source)
    missing = [c for c in ["ORDERNUMBER", "ORDERDATE", "SALES"] if c not in raw.columns]
    if missing:
        raise SystemExit(f"COMPTOIR_ERROR {source}: the dataset has no {', '.join(missing)} column")
    text = lambda c: F.coalesce(F.col(c).cast("string"), F.lit("")) if c in raw.columns else F.lit("")
    rows = raw.select(
        F.coalesce(F.col("ORDERNUMBER").cast("long"), F.lit(0)).alias("ORDERNUMBER"),
        F.to_date(F.col("ORDERDATE")).alias("ORDERDATE"),
        *[text(c).alias(c) for c in ATTRS[1:] + CELL],
        F.coalesce(F.col("QUANTITYORDERED").cast("long"), F.lit(0)).alias("QTY")
        if "QUANTITYORDERED" in raw.columns else F.lit(0).cast("long").alias("QTY"),
        F.coalesce(F.col("SALES").cast("decimal(38,2)"), F.lit(0).cast("decimal(38,2)")).alias("AMOUNT"),
    )
    # Order cells.
    cells = rows.groupBy("ORDERNUMBER", *ATTRS, *CELL).agg(
        F.count(F.lit(1)).alias("LINES"), F.sum("QTY").alias("QUANTITY"), F.sum("AMOUNT").alias("SALES"))
    cells = cells.withColumn("SALES", F.col("SALES").cast("decimal(38,2)"))
    # Orders whose cells disagree on an order-level column stay groups of their own.
    by_order = Window.partitionBy("ORDERNUMBER")
    attrs_key = F.struct(*ATTRS)
    cells = cells.withColumn("SPLIT", F.min(attrs_key).over(by_order) != F.max(attrs_key).over(by_order))
    orders = cells.groupBy("ORDERNUMBER", *ATTRS, "SPLIT").agg(
        F.array_sort(F.collect_list(F.struct(*CELL))).alias("CELLS"))
    orders = orders.withColumn("OWN", F.when(F.col("SPLIT"), F.col("ORDERNUMBER")))
    group = Window.partitionBy("OWN", *ATTRS, "CELLS")
    orders = orders.withColumn("ORDER_GROUP", F.min("ORDERNUMBER").over(group))
    view = (cells.join(orders.select("ORDERNUMBER", *ATTRS, "ORDER_GROUP"), ["ORDERNUMBER", *ATTRS])
            .groupBy("ORDER_GROUP", *ATTRS, *CELL)
            .agg(F.count(F.lit(1)).alias("ORDERS"), F.sum("LINES").alias("LINES"),
                 F.sum("QUANTITY").alias("QUANTITY"), F.sum("SALES").cast("decimal(38,2)").alias("SALES")))
    view = view.select("ORDER_GROUP", *ATTRS, *CELL, "ORDERS", "LINES", "QUANTITY", "SALES").cache()
    parts = max(1, spark.sparkContext.defaultParallelism)
    (view.repartition(parts, "ORDER_GROUP")
         .sortWithinPartitions("ORDER_GROUP", *ATTRS, *CELL)
         .write.mode("error")
         .options(sep=",", quote='"', escape='"', header="false", nullValue="\\N", emptyValue='""',
                  ignoreLeadingWhiteSpace="false", ignoreTrailingWhiteSpace="false", dateFormat="yyyy-MM-dd",
                  encoding="UTF-8", lineSep="\n")
         .csv(output))
    stats = view.agg(F.count(F.lit(1)).alias("records"), F.sum("LINES").alias("source_rows")).collect()[0]
    counts = orders.agg(
        F.countDistinct("ORDERNUMBER").alias("orders"),
        F.countDistinct(F.when(F.col("SPLIT"), F.col("ORDERNUMBER"))).alias("split_orders"),
        F.countDistinct(F.when(~F.col("SPLIT"), F.col("ORDER_GROUP"))).alias("shared_groups"),
        F.sum(F.when(F.col("SPLIT"), 1).otherwise(0)).alias("own_groups")).collect()[0]
    out = {"records": stats["records"], "source_rows": int(stats["source_rows"] or 0), "orders": counts["orders"],
           "split_orders": counts["split_orders"],
           "groups": counts["shared_groups"] + int(counts["own_groups"] or 0),
           "application": spark.sparkContext.applicationId}
    print("COMPTOIR_VIEW " + json.dumps(out), flush=True)
    spark.stop()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: sales_views.py SOURCE_URI OUTPUT_URI")
    main(sys.argv[1], sys.argv[2])
