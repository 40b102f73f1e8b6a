"""A local fake of the parts of Stripe's API this product calls, speaking Stripe's wire format.

The real ``stripe`` SDK talks to it over HTTP on 127.0.0.1 (``STRIPE_API_BASE``): requests
are form-encoded with nested keys (``line_items[0][price]``), authenticated with a bearer
key, and may carry an ``Idempotency-Key``; answers are JSON objects shaped like Stripe's
(API version 2025-03-31 and later: billing periods live on subscription items), and
errors come as ``{"error": {...}}`` with Stripe's status codes.

Like Stripe, a repeated idempotency key replays the first answer, and reusing one with
different parameters is refused. Every request is recorded for tests to inspect.

Tests drive the parts a customer would do in a browser with helpers:
``complete_checkout`` (the customer pays: the subscription appears), ``subscription_update``
and ``event`` (the payload of a webhook Stripe would send).
"""

from __future__ import annotations

import copy
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

API_VERSION = "2026-10-28.endive"
MONTH = 30 * 24 * 3600


def _id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def decode_form(body: str) -> dict:
    """Stripe's nested form encoding back into dicts and lists."""
    root: dict = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _lists(root)


def _lists(node):
    if isinstance(node, dict):
        node = {k: _lists(v) for k, v in node.items()}
        if node and all(k.isdigit() for k in node):
            return [node[k] for k in sorted(node, key=int)]
    return node


@dataclass
class Recorded:
    method: str
    path: str
    params: dict
    headers: dict
    status: int = 0

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("idempotency-key")


@dataclass
class Failure:
    method: str
    path_prefix: str
    status: int
    times: int


@dataclass
class FakeStripeState:
    api_key: str
    customers: dict = field(default_factory=dict)
    checkout_sessions: dict = field(default_factory=dict)
    portal_sessions: dict = field(default_factory=dict)
    subscriptions: dict = field(default_factory=dict)
    meter_events: dict = field(default_factory=dict)
    requests: list = field(default_factory=list)
    idempotent: dict = field(default_factory=dict)
    failures: list = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)


def _error(status: int, message: str, type_: str = "invalid_request_error", code: str = ""):
    body = {"error": {"type": type_, "message": message}}
    if code:
        body["error"]["code"] = code
    return status, body


class _Handler(BaseHTTPRequestHandler):
    server: FakeStripeServer
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def _handle(self, method: str):
        state = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        url = urlsplit(self.path)
        params = decode_form(raw if method == "POST" else url.query)
        headers = {k.lower(): v for k, v in self.headers.items()}
        record = Recorded(method, url.path, params, headers)
        if self.server.latency:
            time.sleep(self.server.latency)
        with state.lock:
            state.requests.append(record)
            status, body, extra = self._respond(state, method, url.path, params, headers)
            record.status = status
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Request-Id", _id("req"))
        self.send_header("Stripe-Version", API_VERSION)
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self):  # noqa: N802
        self._handle("GET")

    def do_POST(self):  # noqa: N802
        self._handle("POST")

    def _respond(self, state, method, path, params, headers):
        if headers.get("authorization") != f"Bearer {state.api_key}":
            return (*_error(401, "Invalid API Key provided.", "authentication_error"), {})
        for failure in state.failures:
            if failure.times and method == failure.method and path.startswith(
                failure.path_prefix
            ):
                failure.times -= 1
                # Stripe marks most 500s as not worth an automatic retry.
                return (*_error(failure.status, "An unknown error occurred.", "api_error"),
                        {"Stripe-Should-Retry": "false"})
        key = headers.get("idempotency-key")
        if method == "POST" and key:
            seen = state.idempotent.get(key)
            if seen is not None:
                if seen["path"] != path or seen["params"] != params:
                    return (*_error(400, "Keys for idempotent requests can only be used with "
                                    "the same parameters they were first used with.",
                                    "idempotency_error"), {})
                return seen["status"], copy.deepcopy(seen["body"]), {"Idempotent-Replayed":
                                                                    "true"}
        status, body = self.server.route(method, path, params)
        if method == "POST" and key and status < 500:
            state.idempotent[key] = {"path": path, "params": params, "status": status,
                                     "body": copy.deepcopy(body)}
        return status, body, {}


class FakeStripeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, api_key: str = "sk_test_fake"):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = FakeStripeState(api_key=api_key)
        # Seconds each answer takes: widens race windows in concurrency tests.
        self.latency = 0.0
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeStripeServer:
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), name="fake-stripe",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    # --- what tests look at ---------------------------------------------------------------

    @property
    def requests(self) -> list[Recorded]:
        with self.state.lock:
            return list(self.state.requests)

    def requests_to(self, method: str, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path == path]

    def fail_next(self, method: str, path_prefix: str, *, status: int = 500, times: int = 1):
        with self.state.lock:
            self.state.failures.append(Failure(method, path_prefix, status, times))

    # --- the API ------------------------------------------------------------------------

    def route(self, method: str, path: str, params: dict) -> tuple[int, dict]:
        parts = path.strip("/").split("/")
        if method == "POST" and path == "/v1/customers":
            return 200, self._customer_create(params)
        if method == "GET" and len(parts) == 3 and parts[:2] == ["v1", "customers"]:
            return self._get(self.state.customers, parts[2], "customer")
        if method == "POST" and path == "/v1/checkout/sessions":
            return self._checkout_create(params)
        if method == "GET" and len(parts) == 4 and parts[:3] == ["v1", "checkout", "sessions"]:
            return self._get(self.state.checkout_sessions, parts[3], "checkout.session")
        if method == "GET" and path == "/v1/checkout/sessions":
            return 200, self._checkout_list(params)
        if (method == "POST" and len(parts) == 5 and parts[:3] == ["v1", "checkout", "sessions"]
                and parts[4] == "expire"):
            return self._checkout_expire(parts[3])
        if method == "POST" and path == "/v1/billing_portal/sessions":
            return self._portal_create(params)
        if method == "GET" and len(parts) == 3 and parts[:2] == ["v1", "subscriptions"]:
            return self._get(self.state.subscriptions, parts[2], "subscription")
        if method == "POST" and path == "/v1/billing/meter_events":
            return self._meter_event_create(params)
        return _error(404, f"Unrecognized request URL ({method}: {path}).")

    @staticmethod
    def _get(store: dict, obj_id: str, kind: str) -> tuple[int, dict]:
        if obj_id not in store:
            return _error(404, f"No such {kind}: '{obj_id}'", code="resource_missing")
        return 200, copy.deepcopy(store[obj_id])

    def _checkout_list(self, params: dict) -> dict:
        found = [
            copy.deepcopy(s) for s in self.state.checkout_sessions.values()
            if (not params.get("customer") or s["customer"] == params["customer"])
            and (not params.get("status") or s["status"] == params["status"])
        ]
        return {"object": "list", "data": found, "has_more": False,
                "url": "/v1/checkout/sessions"}

    def _checkout_expire(self, sid: str) -> tuple[int, dict]:
        session = self.state.checkout_sessions.get(sid)
        if session is None:
            return _error(404, f"No such checkout.session: '{sid}'", code="resource_missing")
        if session["status"] != "open":
            return _error(400, "Only Checkout Sessions with a status in [\"open\"] can be "
                          "expired.", code="checkout_session_not_open")
        session["status"] = "expired"
        session["url"] = None
        return 200, copy.deepcopy(session)

    def _customer_create(self, params: dict) -> dict:
        customer = {
            "id": _id("cus"), "object": "customer", "created": int(time.time()),
            "email": params.get("email"), "name": params.get("name"),
            "metadata": params.get("metadata") or {}, "livemode": False,
            "currency": None, "delinquent": False, "invoice_prefix": secrets.token_hex(4).upper(),
            "invoice_settings": {"default_payment_method": None},
        }
        self.state.customers[customer["id"]] = customer
        return copy.deepcopy(customer)

    def _checkout_create(self, params: dict) -> tuple[int, dict]:
        customer = params.get("customer")
        if customer not in self.state.customers:
            return _error(400, f"No such customer: '{customer}'", code="resource_missing")
        items = params.get("line_items") or []
        if params.get("mode") != "subscription" or not items:
            return _error(400, "Subscription mode needs at least one line item.")
        for param in ("success_url", "cancel_url"):
            if not str(params.get(param, "")).startswith(("http://", "https://")):
                return _error(400, f"Not a valid URL: {param}", code="url_invalid")
        sid = f"cs_test_{secrets.token_hex(16)}"
        now = int(time.time())
        session = {
            "id": sid, "object": "checkout.session", "mode": "subscription",
            "customer": customer, "client_reference_id": params.get("client_reference_id"),
            "metadata": params.get("metadata") or {}, "status": "open",
            "payment_status": "unpaid", "subscription": None, "invoice": None,
            "success_url": params["success_url"], "cancel_url": params["cancel_url"],
            "url": f"https://checkout.stripe.com/c/pay/{sid}", "created": now,
            "expires_at": now + 24 * 3600, "livemode": False, "currency": "usd",
            "amount_total": None,
            # Kept to build the subscription when the customer pays; not sent by Stripe.
            "_line_items": items,
            "_subscription_metadata": (params.get("subscription_data") or {}).get("metadata")
            or {},
        }
        self.state.checkout_sessions[sid] = session
        return 200, self._public(session)

    def _portal_create(self, params: dict) -> tuple[int, dict]:
        customer = params.get("customer")
        if customer not in self.state.customers:
            return _error(400, f"No such customer: '{customer}'", code="resource_missing")
        pid = _id("bps")
        session = {
            "id": pid, "object": "billing_portal.session", "customer": customer,
            "return_url": params.get("return_url"), "created": int(time.time()),
            "livemode": False, "url": f"https://billing.stripe.com/p/session/test_{pid}",
            "configuration": "bpc_test_default", "locale": None, "on_behalf_of": None,
        }
        self.state.portal_sessions[pid] = session
        return 200, copy.deepcopy(session)

    def _meter_event_create(self, params: dict) -> tuple[int, dict]:
        identifier = params.get("identifier") or _id("mev")
        if identifier in self.state.meter_events:
            return _error(400, f"An event already exists with identifier {identifier}.",
                          code="resource_already_exists")
        payload = params.get("payload") or {}
        if payload.get("stripe_customer_id") not in self.state.customers:
            return _error(400, "No customer found for payload.stripe_customer_id.")
        event = {
            "object": "billing.meter_event", "event_name": params.get("event_name"),
            "identifier": identifier, "payload": payload, "livemode": False,
            "created": int(time.time()),
            "timestamp": int(params.get("timestamp") or time.time()),
        }
        self.state.meter_events[identifier] = event
        return 200, copy.deepcopy(event)

    @staticmethod
    def _public(obj: dict) -> dict:
        return {k: copy.deepcopy(v) for k, v in obj.items() if not k.startswith("_")}

    # --- what the customer and Stripe do outside our API calls ----------------------------------

    def complete_checkout(self, session_id: str, *, status: str = "active") -> dict:
        """The customer paid on Stripe's page: the subscription exists; returns the session."""
        with self.state.lock:
            session = self.state.checkout_sessions[session_id]
            now = int(time.time())
            sub_id = _id("sub")
            items = []
            for line in session["_line_items"]:
                metered = "quantity" not in line
                item = {
                    "id": _id("si"), "object": "subscription_item", "subscription": sub_id,
                    "created": now, "current_period_start": now,
                    "current_period_end": now + MONTH, "metadata": {},
                    "price": {
                        "id": line["price"], "object": "price", "active": True,
                        "currency": "usd", "type": "recurring",
                        "recurring": {"interval": "month", "interval_count": 1,
                                      "usage_type": "metered" if metered else "licensed"},
                    },
                }
                if not metered:
                    item["quantity"] = int(line["quantity"])
                items.append(item)
            subscription = {
                "id": sub_id, "object": "subscription", "customer": session["customer"],
                "status": status, "created": now, "start_date": now,
                "billing_cycle_anchor": now, "cancel_at": None,
                "cancel_at_period_end": False, "canceled_at": None, "ended_at": None,
                "collection_method": "charge_automatically", "currency": "usd",
                "livemode": False, "metadata": session["_subscription_metadata"],
                "latest_invoice": _id("in"),
                "items": {"object": "list", "data": items, "has_more": False,
                          "total_count": len(items),
                          "url": f"/v1/subscription_items?subscription={sub_id}"},
            }
            self.state.subscriptions[sub_id] = subscription
            session.update(status="complete", payment_status="paid", subscription=sub_id,
                           invoice=subscription["latest_invoice"])
            return self._public(session)

    def subscription_update(self, sub_id: str, **changes) -> dict:
        """Change a subscription as Stripe would (status, cancel_at_period_end, price, period)."""
        with self.state.lock:
            sub = self.state.subscriptions[sub_id]
            item = sub["items"]["data"][0]
            if "price" in changes:
                item["price"]["id"] = changes.pop("price")
            if "period_end" in changes:
                item["current_period_start"] = item["current_period_end"]
                item["current_period_end"] = changes.pop("period_end")
            sub.update(changes)
            if sub["status"] == "canceled" and not sub.get("ended_at"):
                sub["ended_at"] = sub["canceled_at"] = int(time.time())
            return copy.deepcopy(sub)

    def invoice(self, sub_id: str, *, paid: bool) -> dict:
        """An invoice for the subscription's period, in the 2025+ shape (``parent``)."""
        with self.state.lock:
            sub = self.state.subscriptions[sub_id]
            return {
                "id": _id("in"), "object": "invoice", "customer": sub["customer"],
                "status": "paid" if paid else "open", "amount_due": 1500,
                "amount_paid": 1500 if paid else 0, "attempt_count": 1, "currency": "usd",
                "created": int(time.time()), "livemode": False,
                "parent": {"type": "subscription_details", "quote_details": None,
                           "subscription_details": {"subscription": sub_id, "metadata": {}}},
            }

    @staticmethod
    def event(type_: str, obj: dict, *, created: int | None = None,
              event_id: str | None = None) -> dict:
        """A webhook event body as Stripe sends it (a snapshot event)."""
        return {
            "id": event_id or _id("evt"), "object": "event", "api_version": API_VERSION,
            "created": created if created is not None else int(time.time()),
            "data": {"object": copy.deepcopy(obj)}, "livemode": False,
            "pending_webhooks": 1, "request": {"id": _id("req"), "idempotency_key": None},
            "type": type_,
        }
