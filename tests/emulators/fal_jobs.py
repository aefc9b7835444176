"""The fal emulator's shared state: routes, queued jobs and their life cycle, rendered files,
per-stage faults and the request log of both listeners.
"""

import base64
import json
import secrets
import subprocess
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

import fal_apps
from audio import FFMPEG_OUTPUT_ARGS, RENDER_TIMEOUT_S, RenderError
from server import FaultError, FaultQueue, validate_fault

# Where a fault applies: the app request (sync POST or queue submit), a status poll, a result
# fetch, or a file fetch from the media listener.
STAGES = ("run", "status", "result", "media")

# fal-specific fault kinds, for the app request only, and the checks on their fields.
FAL_FAULT_KINDS = ("stuck", "infra_error", "media_url", "wrong_audio")
# fal's documented infrastructure codes are request_timeout, startup_timeout,
# runner_scheduling_failure, runner_connection_timeout and runner_disconnected.
DEFAULT_INFRA_ERROR = ("request_timeout", 504, "Request timed out.")

# The names fal's CDN uses for file folders, as in its example URLs.
FILE_FOLDERS = ("koala", "elephant", "kangaroo", "lion", "zebra", "panda")


def validate_stage_fault(stage, fault):
    """Raise FaultError unless `fault` is valid for `stage`."""
    kind = fault.get("kind") if isinstance(fault, dict) else None
    if kind not in FAL_FAULT_KINDS:
        validate_fault(fault)
        return
    if stage != "run":
        raise FaultError(f"fault kind {kind!r} applies to the app request only; post it to /__emulator/faults")

    fields = {
        "stuck": {"max_seconds": (int, float)},
        "infra_error": {"error_type": str, "status": int, "message": str},
        "media_url": {"url": str},
        "wrong_audio": {"format": str},
    }[kind]
    for name, value in fault.items():
        if name == "kind":
            continue
        if name not in fields:
            raise FaultError(f"fault kind {kind!r} has no field {name!r}; it accepts {sorted(fields)}")
        if isinstance(value, bool) or not isinstance(value, fields[name]):
            raise FaultError(f"field {name!r} of fault kind {kind!r} has the wrong type: {value!r}")
    if kind == "media_url" and "url" not in fault:
        raise FaultError("fault kind 'media_url' requires 'url'")
    if kind == "wrong_audio" and fault.get("format") not in FFMPEG_OUTPUT_ARGS:
        raise FaultError(f"fault kind 'wrong_audio' requires a 'format' from {sorted(FFMPEG_OUTPUT_ARGS)}")
    if kind == "infra_error" and not 400 <= fault.get("status", 504) <= 599:
        raise FaultError("field 'status' of fault kind 'infra_error' must be from 400 to 599")


class FalRequestLog:
    """Every request to either listener in arrival order, each entry naming its listener."""

    def __init__(self, path=None):
        self._entries = []
        self._lock = threading.Lock()
        self._path = path

    def record(self, request, listener):
        entry = {
            "time": datetime.fromtimestamp(request.received_at, timezone.utc).isoformat(),
            "listener": listener,
            "method": request.method,
            "path": request.path + ("?" + request.query if request.query else ""),
            "headers": request.headers,
        }
        try:
            entry["body"] = request.body.decode("utf-8")
        except UnicodeDecodeError:
            entry["body"] = None
            entry["body_base64"] = base64.b64encode(request.body).decode("ascii")

        with self._lock:
            self._entries.append(entry)
            if self._path:
                with open(self._path, "a", encoding="utf-8") as log_file:
                    log_file.write(json.dumps(entry) + "\n")

    def entries(self):
        with self._lock:
            return list(self._entries)

    def clear(self):
        with self._lock:
            self._entries.clear()


class ListenerLog:
    """The shared log, seen from one listener's server, which records under that listener's name."""

    def __init__(self, shared, listener):
        self.shared = shared
        self.listener = listener

    def record(self, request):
        self.shared.record(request, self.listener)

    def entries(self):
        return self.shared.entries()

    def clear(self):
        self.shared.clear()


@dataclass
class Route:
    """What an API path addresses: an app request, or one of a job's queue URLs."""

    kind: str  # "run", "status", "result" or "cancel"
    method: str
    app: object = None
    alias: str = None
    request_id: str = None


@dataclass
class Job:
    """One queued request."""

    request_id: str
    app: object
    alias: str
    body: object
    fault: dict = None
    polls: int = 0
    cancelled: bool = False
    # (status, headers, body) once the job ran.
    outcome: tuple = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class FalState:
    """State shared by the API and media listeners."""

    def __init__(self, api_url, media_url, renderer, queue_polls, progress_polls):
        self.api_url = api_url
        self.queue_url = api_url + "/queue"
        self.media_url = media_url
        self.renderer = renderer
        self.queue_polls = queue_polls
        self.progress_polls = progress_polls
        self.faults = {stage: FaultQueue() for stage in STAGES}
        self._jobs = {}
        self._files = {}
        self._encoded = {}
        self._lock = threading.Lock()

    # --- Routes ---

    def route(self, path, queued):
        """Return the Route for an API path, or None. `path` excludes the `/queue` prefix."""
        endpoint = path.strip("/")
        app = fal_apps.APPS.get(endpoint)
        if app is not None:
            return Route("run", "POST", app=app)
        if not queued:
            return None

        # Queue URLs keep only `owner/alias`: `fal-ai/kokoro/requests/{id}/status`, never
        # `fal-ai/kokoro/american-english/requests/...`.
        parts = endpoint.split("/")
        if len(parts) < 4 or parts[2] != "requests":
            return None
        alias, request_id, rest = "/".join(parts[:2]), parts[3], parts[4:]
        kinds = {(): ("result", "GET"), ("status",): ("status", "GET"), ("cancel",): ("cancel", "PUT")}
        if tuple(rest) not in kinds:
            return None
        kind, method = kinds[tuple(rest)]
        return Route(kind, method, alias=alias, request_id=request_id)

    # --- Queue ---

    def submit(self, app, body, fault):
        alias = "/".join(app.endpoint_id.split("/")[:2])
        job = Job(str(uuid.uuid4()), app, alias, body, fault)
        with self._lock:
            self._jobs[job.request_id] = job
        return job

    def job(self, alias, request_id):
        with self._lock:
            job = self._jobs.get(request_id)
        return job if job is not None and job.alias == alias else None

    def urls(self, job):
        base = f"{self.queue_url}/{job.alias}/requests/{job.request_id}"
        return {"response_url": base, "status_url": base + "/status", "cancel_url": base + "/cancel"}

    def submit_body(self, job):
        return {"status": "IN_QUEUE", "request_id": job.request_id, **self.urls(job), "queue_position": 0}

    def poll(self, job, with_logs):
        """Count one status poll and return (HTTP status, status body)."""
        with job.lock:
            job.polls += 1
        return self.status(job, with_logs)

    def status(self, job, with_logs=False):
        state = self.state(job)
        body = {"status": state, "request_id": job.request_id, **self.urls(job), "logs": [] if with_logs else None}
        if state == "IN_QUEUE":
            body["queue_position"] = 0
        if state != "COMPLETED":
            return 202, body

        status, headers, result = self.run_job(job)
        body["metrics"] = {"inference_time": 0.05}
        if status >= 400 and isinstance(result, dict) and "error_type" in result:
            body["error"] = result["detail"]
            body["error_type"] = result["error_type"]
        return 200, body

    def state(self, job):
        with job.lock:
            if job.cancelled:
                return "COMPLETED"
            if job.fault and job.fault["kind"] == "stuck":
                return "IN_PROGRESS"
            if job.polls <= self.queue_polls:
                return "IN_QUEUE"
            if job.polls <= self.queue_polls + self.progress_polls:
                return "IN_PROGRESS"
            return "COMPLETED"

    def result(self, job):
        """Return (status, headers, body) of the result URL."""
        if self.state(job) != "COMPLETED":
            # NOTE: fal's response to a result fetched early is not documented. This follows
            # the 202 with the status body that third-party mocks use.
            status, body = self.status(job)
            return status, [], body
        return self.run_job(job)

    def cancel(self, job):
        with job.lock:
            completed = job.outcome is not None or job.cancelled
            if not completed:
                job.cancelled = True
                # NOTE: what fal reports for a cancelled job afterwards is not documented.
                job.outcome = (400, [], {"detail": "The request was cancelled."})
        if completed:
            return 400, {"status": "ALREADY_COMPLETED"}
        return 202, {"status": "CANCELLATION_REQUESTED"}

    def run_job(self, job):
        """Run the app for a job once, when it completes, and keep its outcome."""
        with job.lock:
            if job.outcome is None:
                try:
                    values = fal_apps.validate_input(job.app, job.body)
                except fal_apps.ValidationFailed as failed:
                    job.outcome = (422, [], {"detail": failed.items})
                else:
                    job.outcome = self.run_app(job.app, values, job.fault)
            return job.outcome

    def clear_jobs(self):
        with self._lock:
            self._jobs.clear()

    def describe_jobs(self):
        with self._lock:
            jobs = list(self._jobs.values())
        return [{"request_id": job.request_id, "app": job.app.endpoint_id, "polls": job.polls, "cancelled": job.cancelled, "state": self.state(job)} for job in jobs]

    # --- Apps and files ---

    def run_app(self, app, values, fault=None):
        """Run an app on validated input and return (status, headers, output)."""
        kind = fault["kind"] if fault else None
        if kind == "infra_error":
            default_code, default_status, default_message = DEFAULT_INFRA_ERROR
            code = fault.get("error_type", default_code)
            body = {"detail": fault.get("message", default_message), "error_type": code}
            return fault.get("status", default_status), [("x-fal-error-type", code)], body

        text, espeak_voice, speed = fal_apps.speech_plan(app, values)
        format = fault["format"] if kind == "wrong_audio" else None
        try:
            data = self.encode(app.output, text, espeak_voice, speed, format)
        except RenderError as error:
            return 500, [], {"detail": f"Internal Server Error: {error}"}

        url = self.store(app.output, data)
        if kind == "media_url":
            url = fault["url"]
        file_name = url.rsplit("/", 1)[-1]
        output = {app.output.key: {"url": url, "content_type": app.output.content_type, "file_name": file_name, "file_size": len(data)}}
        if app.family == "elevenlabs" and values.get("timestamps"):
            output["timestamps"] = word_timestamps(text, speed)
        return 200, [], output

    def encode(self, output, text, espeak_voice, speed, format=None):
        """Return speech in the app's format, or in `format` for a wrong_audio fault."""
        if format is not None or (output.sample_rate == 24000 and output.format in FFMPEG_OUTPUT_ARGS):
            return self.renderer.render(text, espeak_voice, format or output.format, speed)

        key = (text, espeak_voice, speed, output)
        with self._lock:
            cached = self._encoded.get(key)
        if cached is not None:
            return cached
        wav = self.renderer.render(text, espeak_voice, "wav", speed)
        command = ["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "wav", "-i", "pipe:0", "-ac", "1", "-ar", str(output.sample_rate)]
        command += ["-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact", *output.ffmpeg_args, "pipe:1"]
        try:
            completed = subprocess.run(command, input=wav, capture_output=True, timeout=RENDER_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise RenderError(f"ffmpeg could not run: {error}") from error
        if completed.returncode != 0:
            raise RenderError(f"ffmpeg exited with status {completed.returncode}: {completed.stderr.decode('utf-8', 'replace').strip()}")
        with self._lock:
            self._encoded[key] = completed.stdout
        return completed.stdout

    def store(self, output, data):
        """Keep a file for the media listener and return its URL."""
        folder = FILE_FOLDERS[secrets.randbelow(len(FILE_FOLDERS))]
        name = f"{secrets.token_urlsafe(15)}_tmp{secrets.token_hex(4)}.{output.format}"
        path = f"/files/{folder}/{name}"
        with self._lock:
            self._files[path] = (output.content_type, data)
        return self.media_url + path

    def file(self, path):
        with self._lock:
            return self._files.get(path)


def word_timestamps(text, speed):
    """Return rough per-word timings at espeak-ng's 175 words per minute.

    NOTE: fal types the elements as unknown; this follows the {text, start, end, type} shape
    that third-party clients of the app expect.
    """
    seconds_per_word = 60.0 / 175 / max(speed, 0.1)
    return [
        {"text": word, "start": round(index * seconds_per_word, 3), "end": round((index + 1) * seconds_per_word, 3), "type": "word"}
        for index, word in enumerate(text.split())
    ]
