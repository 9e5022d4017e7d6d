"""From explanation files to a comparison table, through the REST API.

    NEURONEVAL_URL=http://127.0.0.1:8000 NEURONEVAL_TOKEN=nev_... \
        python api_example.py NETWORK STUDY METHOD=FILE.csv METHOD=FILE.csv [...]

Each FILE.csv is in the plain import format (layer,unit,description[,score]); the network must already have
top images for those units (an explain job, or the demo). The script imports the files, creates a study of
the methods, invites two raters and prints their links, waits until the raters are done, then downloads the
comparison table (per layer) and the tidy ratings.
"""
import json
import os
import sys
import time

import httpx

site = os.environ.get("NEURONEVAL_URL", "http://127.0.0.1:8000")
network, study_name, *method_files = sys.argv[1:]
api = httpx.Client(base_url=f"{site}/api/v1", timeout=120,
                   headers={"Authorization": f"Bearer {os.environ['NEURONEVAL_TOKEN']}"})


def check(response: httpx.Response) -> httpx.Response:
    if response.is_error:  # the API answers errors as problem details: title, detail and the field errors
        response.read()
        sys.exit(f"{response.request.method} {response.request.url}: {response.status_code} {response.text}")
    return response


# 1. Import each method's explanations (a retry with the same Idempotency-Key is not imported twice).
methods = []
for method_file in method_files:
    method, path = method_file.split("=", 1)
    with open(path, "rb") as upload:
        imported = check(api.post("/explanations/", data={"network": network, "method": method, "format": "csv"},
                                  files={"file": (os.path.basename(path), upload, "text/csv")},
                                  headers={"Idempotency-Key": f"{study_name}-import-{method}"})).json()
    print(f"imported {imported['count']} explanations by {method}: {imported['per_layer']}")
    methods.append(method)

# 2. Create the study: two random neurons a layer, two raters a neuron.
study = check(api.post("/studies/", json={"name": study_name, "network": network, "methods": methods,
                                          "per_layer": 2, "raters_per_neuron": 2, "images_per_task": 5},
                       headers={"Idempotency-Key": f"{study_name}-create"})).json()
print(f"study {study['name']}: {study['neuron_count']} neurons, status {study['status']}")

# 3. Invite two raters and send them their links.
invited = check(api.post(f"/studies/{study_name}/invites/", json={"count": 2},
                         headers={"Idempotency-Key": f"{study_name}-invite"})).json()
for rater in invited["raters"]:
    print(f"rater link: {rater['link']}", flush=True)

# 4. Wait until every neuron has its ratings.
deadline = time.monotonic() + float(os.environ.get("NEURONEVAL_WAIT_SECONDS", 3600))
while True:
    progress = check(api.get(f"/studies/{study_name}/progress/")).json()
    print(f"{progress['responses']} of {progress['target']} responses", flush=True)
    if progress["responses"] >= progress["target"]:
        break
    if time.monotonic() > deadline:
        sys.exit("gave up waiting for the raters")
    time.sleep(2)

# 5. Download the comparison table (overall and per layer) and the tidy ratings.
table = check(api.get(f"/studies/{study_name}/comparison/", params={"by": "layer"})).json()
for row in table:
    print(f"{row['layer'] or 'all layers':>10}  {row['method']:<20} mean {row['mean']:.2f} (n={row['n']})  "
          f"best {row['best_rate']:.0%}")
with open(f"{study_name}-comparison.json", "w") as out:
    json.dump(table, out, indent=2)
with open(f"{study_name}-ratings.csv", "wb") as out, api.stream("GET", f"/studies/{study_name}/ratings/") as ratings:
    for chunk in check(ratings).iter_bytes():
        out.write(chunk)
print(f"wrote {study_name}-comparison.json and {study_name}-ratings.csv")
