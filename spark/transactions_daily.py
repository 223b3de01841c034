"""The daily view of the archived transactions, built by Spark
(`comptoir views build --view transactions --engine spark`).

    spark-submit --py-files comptoir_lake.py transactions_daily.py ARCHIVE_URI OUTPUT_URI

Reads the archive's event files (ARCHIVE_URI/dt=YYYY-MM-DD/part-P-FIRST-LAST.jsonl, one JSON event
per line; `_rejects/` and other hidden names are not read) and writes one record per (day, status,
product line): DAY (UTC date of the event's `ts`), STATUS, PRODUCTLINE, EVENTS, QUANTITY, REVENUE
(the exact sum of `amount`), as headerless RFC 4180 CSV, like the embedded engine
(src/analytics/sales_view.cc). The last line on stdout is `COMPTOIR_VIEW {json}`.
"""
import json
import sys

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from comptoir_lake import result_line

EVENT = T.StructType([
    T.StructField("ts", T.StringType()),
    T.StructField("status", T.StringType()),
    T.StructField("product_line", T.StringType()),
    T.StructField("quantity", T.LongType()),
    T.StructField("amount", T.DecimalType(38, 2)),  # read from the number's text: exact
])


def main(archive, output):
    spark = SparkSession.builder.appName("comptoir-views-transactions").getOrCreate()
    spark.conf.set("spark.sql.session.timeZone", "UTC")  # days are UTC days, as in the embedded engine
    events = (spark.read.schema(EVENT).option("mode", "FAILFAST")
              .json(archive.rstrip("/") + "/dt=*/part-*"))
    day = F.to_date(F.to_timestamp(F.col("ts")))
    view = (events.groupBy(day.alias("DAY"),
                           F.coalesce(F.col("status"), F.lit("")).alias("STATUS"),
                           F.coalesce(F.col("product_line"), F.lit("")).alias("PRODUCTLINE"))
            .agg(F.count(F.lit(1)).alias("EVENTS"),
                 F.coalesce(F.sum("quantity"), F.lit(0)).alias("QUANTITY"),
                 F.coalesce(F.sum("amount"), F.lit(0)).cast("decimal(38,2)").alias("REVENUE"))
            .cache())
    (view.coalesce(1).sortWithinPartitions("DAY", "STATUS", "PRODUCTLINE")
         .write.mode("error")
         .options(sep=",", quote='"', escape='"', header="false", nullValue="\\N", emptyValue='""',
                  ignoreLeadingWhiteSpace="false", ignoreTrailingWhiteSpace="false", dateFormat="yyyy-MM-dd",
                  encoding="UTF-8", lineSep="\n")
         .csv(output))
    stats = view.agg(F.count(F.lit(1)).alias("records"), F.sum("EVENTS").alias("events")).collect()[0]
    result_line({"records": stats["records"], "source_rows": int(stats["events"] or 0),
                 "application": spark.sparkContext.applicationId})
    spark.stop()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: transactions_daily.py ARCHIVE_URI OUTPUT_URI")
    main(sys.argv[1], sys.argv[2])
