"""A flood of JOIN texts through the test SMS gateway's inbound control
endpoint, from COUNT numbers (+4477009NNNNN from FIRST on), 8 senders at
once, each request with a 10 s deadline. Prints how many were answered 200
and how many of those answers said the service was full.

usage: /usr/bin/python3 join_flood.py GATEWAY_PORT API FIRST COUNT
(API: notify or twilio)"""
import json
import sys
import threading
import urllib.request

port, api, first, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])


def send(i):
    body = json.dumps({"api": api, "from": "+4477009%05d" % (first + i), "body": "JOIN soton"}).encode()
    req = urllib.request.Request("http://127.0.0.1:%s/_control/inbound" % port, data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(req, timeout=10).read())


results = []


def worker(k):
    for i in range(k, count, 8):
        results.append(send(i))


threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(sum(1 for r in results if r["status"] == 200), sum(1 for r in results if "full" in (r.get("body") or "")))
