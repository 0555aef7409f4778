"""Reads Prometheus text exposition with the reference client library's parser
(prometheus_client, not written here) and prints what it found as JSON: for each URL,
the metric families with their type and the label sets of their samples. A page the
parser cannot read is an error (exit 1), as it would be for a Prometheus server.

Usage: python metrics.py URL...
"""
import json
import sys
import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def families(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        content_type = r.headers.get("Content-Type", "")
        text = r.read().decode("utf-8")
    out = {}
    for f in text_string_to_metric_families(text):
        out[f.name] = {
            "type": f.type,
            "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in f.samples],
        }
    return content_type, out


def main():
    result = {}
    failed = False
    for url in sys.argv[1:]:
        try:
            content_type, fams = families(url)
            result[url] = {"content_type": content_type, "families": fams}
        except Exception as e:  # noqa: BLE001 - every failure is reported
            failed = True
            result[url] = {"error": f"{type(e).__name__}: {e}"}
    json.dump(result, sys.stdout)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
