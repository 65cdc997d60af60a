"""Read locust's CSV statistics and print the figures `make load` reports."""

from __future__ import annotations

import csv
import sys

with open(sys.argv[1], encoding="utf-8") as stats:
    rows = {row["Name"]: row for row in csv.DictReader(stats)}
total = rows["Aggregated"]
# A task that crashed in the load driver is an error too, not just a failed request.
exceptions_file = sys.argv[1].replace("_stats.csv", "_exceptions.csv")
with open(exceptions_file, encoding="utf-8") as handle:
    crashes = sum(int(row["Count"]) for row in csv.DictReader(handle))
errors = int(total["Failure Count"]) + crashes
print(f"requests: {total['Request Count']}")
print(f"errors: {errors}")
for label, column in (("p50_ms", "50%"), ("p95_ms", "95%"), ("p99_ms", "99%")):
    print(f"{label}: {total[column]}")
for name, row in sorted(rows.items()):
    if name != "Aggregated":
        print(
            f"  {name}: {row['Request Count']} requests, {row['Failure Count']} failed, median {row['50%']} ms"
        )
sys.exit(1 if errors else 0)
