"""Parse Prometheus text exposition (a file, or standard input) with prometheus_client's parser
and print what it read as JSON: [{"name", "type", "help", "samples": [{"name", "labels",
"value"}]}]. A parse error exits 1 with the parser's message."""
import json
import math
import sys

from prometheus_client.parser import text_string_to_metric_families

text = open(sys.argv[1]).read() if len(sys.argv) > 1 else sys.stdin.read()
out = []
try:
    for fam in text_string_to_metric_families(text):
        out.append({
            "name": fam.name,
            "type": fam.type,
            "help": fam.documentation,
            "samples": [
                {"name": s.name, "labels": dict(s.labels),
                 "value": s.value if math.isfinite(s.value) else str(s.value)}
                for s in fam.samples
            ],
        })
except Exception as e:  # the parser raises ValueError and others on bad input
    print(f"prometheus_client cannot parse the metrics: {e!r}", file=sys.stderr)
    sys.exit(1)
json.dump(out, sys.stdout)
