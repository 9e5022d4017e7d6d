"""Read a rendered rating page the way a browser would, and fill it in; run raters at once."""
import html
import re
import threading

TASK_RE = re.compile(r'name="task" value="([^"]+)"')
RATING_RE = re.compile(r'name="rating-([^"]+)" value="1"')
DESCRIPTION_RE = re.compile(r'<q class="description-text">(.*?)</q>', re.S)
CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
CLAIM_RE = re.compile(r'name="claim" value="([^"]+)"')  # crowd pages: the assignment this page reserved


def read_task(page: str) -> dict:
    """Task token, slot tokens in page order, the description texts as shown, and the hidden tokens."""
    task = TASK_RE.search(page)
    return {
        "task": task.group(1) if task else None,
        "slots": RATING_RE.findall(page),
        "texts": [html.unescape(text) for text in DESCRIPTION_RE.findall(page)],
        "csrf": (CSRF_RE.search(page) or [None, None])[1],
        "claim": (CLAIM_RE.search(page) or [None, None])[1],
    }


def answer(task: dict, values=None, best_index=0, **extra) -> dict:
    """Form data rating every slot (default 5, 4, 3, ...) and picking slot `best_index` as best."""
    values = values or [max(1, 5 - i) for i in range(len(task["slots"]))]
    data = {"task": task["task"]}
    for token, value in zip(task["slots"], values):
        data[f"rating-{token}"] = str(value)
    if best_index is not None:
        data["best"] = task["slots"][best_index]
    if task.get("csrf"):
        data["csrfmiddlewaretoken"] = task["csrf"]
    if task.get("claim"):
        data["claim"] = task["claim"]
    data.update(extra)
    return data


def run_at_once(calls, timeout):
    """Run each zero-argument call in its own thread, all released together; fail if one hangs."""
    barrier = threading.Barrier(len(calls))

    def released(call):
        barrier.wait()
        call()

    threads = [threading.Thread(target=released, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(thread.is_alive() for thread in threads), "a rater thread hung"


LABEL_FIELD_RE = re.compile(r'name="(shows-\d+)" value="yes"')


def label_every_image(page: str, choice=lambda place: "yes" if place % 2 else "no") -> dict:
    """A labelling task's form with a yes/no for every image on the page (`choice` of its place)."""
    return {"task": TASK_RE.search(page).group(1),
            **{field: choice(int(field.split("-")[1])) for field in LABEL_FIELD_RE.findall(page)}}
