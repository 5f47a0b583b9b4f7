#!/usr/bin/python3
"""registrar.py - an example registrar client for regzoned.

What a registrar's backend does to "enable XMPP for example.org": send one
JSON request on regzoned's request socket, read the reply, then follow the
PUB feed until the service is active (or has failed).  Python 3 with
Debian's python3-zmq and the standard library, nothing else.

  registrar.py [--requests ENDPOINT] [--feed ENDPOINT]
               [--server-key Z85 | --server-key-file FILE] [--client-keys DIR]
               [--service xmpp] [--profile P] [--param K=V]... [--id ID]
               [--timeout S] enable|disable|status DOMAIN

  enable   ask for the service, then wait until it is active
  disable  ask for its removal, then wait until its records are gone
  status   print the state object (JSON)

The endpoints default to $REGZONE_REQUESTS and $REGZONE_FEED (deploy/devstack
writes them into DIR/env).  With --client-keys (a directory written by
"regzonectl keygen DIR") and the server's public key, both sockets use
CURVE, which regzoned requires on tcp:// endpoints.

Exit status: 0 done, 1 refused, failed or timed out, 2 usage error.
"""
import argparse
import json
import os
import sys
import time
import uuid

import zmq
from zmq.utils import z85
from zmq.utils.monitor import recv_monitor_message

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
STATUS_EVERY = 3.0     # seconds between status requests while watching
RETRY_WAIT = 1.0       # seconds before sending again after "unavailable"
MAX_MESSAGE = 1 << 20  # the longest message we accept from regzoned


class Usage(Exception):
    """A bad argument or key file: exit 2."""


class Failed(Exception):
    """Refused, failed or timed out: exit 1."""


def warn(text):
    print("registrar.py: " + text, file=sys.stderr, flush=True)


# ------------------------------------------------------------------ CURVE keys

def z85_key(text, where):
    """A CURVE key as regzone writes it: 40 Z85 characters (the text itself
    is never printed: it may be a secret key)."""
    key = text.strip()
    try:
        ok = len(key) == 40 and len(z85.decode(key)) == 32
    except (KeyError, ValueError):
        ok = False
    if not ok:
        raise Usage(f"{where}: not a CURVE key (40 Z85 characters, as "
                    f"\"regzonectl keygen\" writes them)")
    return key


def read_key_file(path, secret=False):
    try:
        if secret and os.stat(path).st_mode & 0o077:
            raise Usage(f"{path}: a secret key must not be readable by group or "
                        f"others (chmod 600)")
        with open(path, "rb") as f:
            return z85_key(f.read(100), path)
    except OSError as e:
        raise Usage(f"{path}: {e.strerror}")


def curve_keys(args):
    """(server public key, our public key, our secret key), or None when no
    keys are given (plain ZeroMQ, as on the default ipc:// sockets)."""
    server_given = args.server_key is not None or args.server_key_file is not None
    if args.client_keys is None and not server_given:
        return None
    if args.client_keys is None or not server_given:
        raise Usage("CURVE needs both --client-keys DIR and --server-key "
                    "(or --server-key-file)")
    if args.server_key is not None:
        server = z85_key(args.server_key.encode(), "--server-key")
    else:
        server = read_key_file(args.server_key_file)
    secret = read_key_file(os.path.join(args.client_keys, "curve.key"), secret=True)
    public = read_key_file(os.path.join(args.client_keys, "curve.pub"))
    if zmq.curve_public(secret) != public:
        raise Usage(f"{args.client_keys}: curve.pub is not the public key of curve.key")
    return server, public, secret


# ------------------------------------------------------------------ the link

class Regzoned:
    """A DEALER on the request socket and, to watch, a SUB on the feed."""

    def __init__(self, args, keys):
        self.ctx = zmq.Context()
        self.endpoint = args.requests
        self.keys = keys
        self.key_dir = args.client_keys
        self.handshake_failures = 0
        self.req = self.socket(zmq.DEALER)
        # The monitor tells a refused CURVE key apart from silence: the
        # server's ZAP handler answers 400 to a key it does not list.
        self.mon = self.req.get_monitor_socket(
            zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL |
            zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)
        self.req.connect(args.requests)
        self.sub = None
        self.topic = None

    def socket(self, kind):
        s = self.ctx.socket(kind)
        s.setsockopt(zmq.LINGER, 0)              # closing never waits
        s.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE)
        if self.keys is not None:
            server, public, secret = self.keys
            s.setsockopt(zmq.CURVE_SERVERKEY, server)
            s.setsockopt(zmq.CURVE_PUBLICKEY, public)
            s.setsockopt(zmq.CURVE_SECRETKEY, secret)
        return s

    def subscribe(self, endpoint, domain):
        """The feed sends two frames, [domain, state JSON]; ZeroMQ filters on
        a prefix of the first one, so next() also checks it exactly
        ("example.org" is a prefix of "example.org.test")."""
        self.topic = domain.encode()
        self.sub = self.socket(zmq.SUB)
        self.sub.setsockopt(zmq.SUBSCRIBE, self.topic)
        self.sub.connect(endpoint)

    def send(self, request):
        # regzoned's ROUTER reads [peer identity, empty frame, JSON]: the
        # identity is added by ZeroMQ, the empty frame is ours to send.
        try:
            self.req.send_multipart([b"", json.dumps(request).encode()], zmq.NOBLOCK)
        except zmq.Again:
            raise Failed(f"cannot send to regzoned at {self.endpoint}")

    def next(self, deadline):
        """The next message before deadline (time.monotonic()): ("reply",
        JSON object) or ("feed", state object); None at the deadline."""
        poller = zmq.Poller()
        for s in (self.req, self.mon, self.sub):
            if s is not None:
                poller.register(s, zmq.POLLIN)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready = dict(poller.poll(int(left * 1000) + 1))
            if self.mon in ready:
                self.check_handshake(recv_monitor_message(self.mon))
            if self.req in ready:
                frames = self.req.recv_multipart()
                if len(frames) == 2 and frames[0] == b"":
                    return "reply", json.loads(frames[1])
                warn("ignoring a malformed reply (expected [empty, JSON])")
            if self.sub is not None and self.sub in ready:
                frames = self.sub.recv_multipart()
                if len(frames) == 2 and frames[0] == self.topic:
                    return "feed", json.loads(frames[1])

    def check_handshake(self, event):
        if event["event"] == zmq.EVENT_HANDSHAKE_FAILED_AUTH and event["value"] == 400:
            raise Failed(f"unauthorized: regzoned at {self.endpoint} refused this "
                         f"client's CURVE key (is {self.key_dir}/curve.pub listed "
                         f"under listen.curve.clients?)")
        self.handshake_failures += 1   # a restarting daemon causes these too

    def no_reply(self, seconds):
        text = f"no reply from regzoned at {self.endpoint} within {seconds:g} s"
        if self.handshake_failures:
            text += (f" ({self.handshake_failures} ZeroMQ handshakes failed: do both "
                     f"sides agree on CURVE, the server's key and this client's?)")
        return Failed(text)

    def close(self):
        self.ctx.destroy(linger=0)


# ------------------------------------------------------------------ requests

def new_id(prefix="registrar"):
    """A request id: 1..128 of [A-Za-z0-9._:@/+=-].  A real registrar uses
    its own event id (an order number), stored before sending."""
    return f"{prefix}-{uuid.uuid4().hex}"


def call(link, request, deadline, seconds):
    """Send request and return its reply (ok or not).

    "unavailable" means PostgreSQL or knotd could not be reached and nothing
    was stored: we send the very same request again, same id.  That is the
    point of the id: regzoned stores each id once, and a request it has
    already stored is answered with its first reply, byte for byte, with
    nothing changed.  So a registrar may always send again when in doubt
    (no reply, a crash before it noted the reply), and never enables twice.
    """
    link.send(request)
    while True:
        got = link.next(deadline)
        if got is None:
            raise link.no_reply(seconds)
        kind, msg = got
        if kind != "reply" or msg.get("id") != request["id"]:
            continue               # the feed, or an older request's reply
        if msg.get("ok") is False and msg["error"]["code"] == "unavailable":
            warn(f"unavailable: {msg['error']['message']} (sending {request['id']} "
                 f"again in {RETRY_WAIT:g} s)")
            time.sleep(max(0.0, min(RETRY_WAIT, deadline - time.monotonic())))
            link.send(request)
            continue
        return msg


def refused(reply):
    err = reply["error"]
    return Failed(f"refused: {err['code']}: {err['message']}")


def show(state):
    """One line per state change."""
    line = (f"{state['updated_at'] or '-'} {state['domain']} {state['service']}: "
            f"desired={state['desired']} dns={state['dns']} "
            f"certificate={state['certificate']['state']} "
            f"active={str(state['active']).lower()}")
    if state.get("last_error"):
        line += f" last_error={state['last_error']}"
    print(line, flush=True)


def enable_outcome(state):
    """None while there is more to wait for, else (exit code, message)."""
    if state["active"]:
        return EXIT_OK, "active"
    if state["desired"] != "enabled":
        return EXIT_FAILED, "disabled meanwhile"
    if state["dns"] in ("conflict", "error"):
        return EXIT_FAILED, f"dns {state['dns']}: {state['last_error']}"
    if state["certificate"]["state"] == "failed":
        return EXIT_FAILED, f"certificate failed: {state['last_error']}"
    return None


def disable_outcome(state):
    if state["desired"] == "disabled" and state["dns"] == "removed":
        return EXIT_OK, "removed"
    if state["desired"] != "disabled":
        return EXIT_FAILED, "enabled meanwhile"
    if state["dns"] == "error":
        return EXIT_FAILED, f"dns error: {state['last_error']}"
    return None


def watch(link, args, request, outcome, goal, deadline):
    """Send request, then follow the domain's state until outcome() decides.

    States come from the reply, the feed and status requests sent every
    STATUS_EVERY seconds: a PUB socket drops what a subscriber misses (not
    connected yet, or too slow), so the feed alone could miss the change we
    wait for.  Until our reply has come, feed messages are not ours.
    """
    reply = call(link, request, deadline, args.timeout)
    if not reply["ok"]:
        raise refused(reply)
    print(f"request {request['id']} stored", flush=True)
    last, shown = None, None
    state = reply["state"]
    status_ids, next_status = set(), time.monotonic() + STATUS_EVERY
    while True:
        # Replies and feed messages may cross: an older state is skipped
        # (updated_at is ISO 8601 UTC, null for a domain never enabled).
        if state is not None and state["service"] == args.service and (
                last is None or (state["updated_at"] or "") >= (last["updated_at"] or "")):
            last = state
            change = (state["desired"], state["dns"], state["certificate"]["state"],
                      state["active"], state["last_error"])
            if change != shown:
                show(state)
                shown = change
            result = outcome(state)
            if result is not None:
                code, text = result
                if code == EXIT_OK:
                    print(f"{state['domain']}: {text}", flush=True)
                else:
                    warn(f"{state['domain']}: {text}")
                return code
        state = None
        if time.monotonic() >= next_status:
            status = {"id": new_id("status"), "action": "status",
                      "service": args.service, "domain": args.domain}
            status_ids.add(status["id"])
            link.send(status)
            next_status = time.monotonic() + STATUS_EVERY
        got = link.next(min(deadline, next_status))
        if got is None:
            if time.monotonic() < deadline:
                continue
            raise Failed(f"{args.domain}: not {goal} within {args.timeout:g} s "
                         f"(last state above)")
        kind, msg = got
        if kind == "feed":
            state = msg
        elif msg.get("id") in status_ids and msg.get("ok"):
            state = msg["state"]


# ------------------------------------------------------------------ main

def parse_args():
    p = argparse.ArgumentParser(
        description="An example registrar client for regzoned: enable, disable "
                    "or look at a domain's service, and wait for the outcome.",
        epilog="Exit status: 0 done, 1 refused, failed or timed out, 2 usage.")
    p.add_argument("--requests", metavar="ENDPOINT", default=os.environ.get("REGZONE_REQUESTS"),
                   help="request endpoint (default $REGZONE_REQUESTS)")
    p.add_argument("--feed", metavar="ENDPOINT", default=os.environ.get("REGZONE_FEED"),
                   help="feed endpoint (default $REGZONE_FEED)")
    server = p.add_mutually_exclusive_group()
    server.add_argument("--server-key", metavar="Z85", help="the server's CURVE public key")
    server.add_argument("--server-key-file", metavar="FILE",
                        help="a file holding the server's CURVE public key")
    p.add_argument("--client-keys", metavar="DIR",
                   help="this client's key pair, curve.pub and curve.key "
                        "(\"regzonectl keygen DIR\")")
    p.add_argument("--service", metavar="NAME", default="xmpp", help="xmpp (default) or mail")
    p.add_argument("--profile", metavar="P", help="enable: the profile (default: the server's)")
    p.add_argument("--param", action="append", default=[], metavar="K=V",
                   help="enable: a profile parameter (repeatable)")
    p.add_argument("--id", help="the request id (default: a new one); sending an "
                                "id again changes nothing")
    p.add_argument("--timeout", type=float, default=300.0, metavar="S",
                   help="give up after S seconds (default 300)")
    p.add_argument("action", choices=["enable", "disable", "status"])
    p.add_argument("domain")
    args = p.parse_args()
    if not args.requests:
        p.error("no request endpoint: give --requests or set REGZONE_REQUESTS")
    if args.action != "status" and not args.feed:
        p.error("no feed endpoint: give --feed or set REGZONE_FEED")
    if args.action != "enable" and (args.profile or args.param):
        p.error("--profile and --param go with enable only")
    if args.timeout <= 0:
        p.error("--timeout must be positive")
    args.params = {}
    for kv in args.param:
        key, eq, value = kv.partition("=")
        if not key or not eq:
            p.error(f"--param {kv!r}: expected K=V")
        args.params[key] = value
    return args


def main():
    args = parse_args()
    link = None
    try:
        link = Regzoned(args, curve_keys(args))
        deadline = time.monotonic() + args.timeout
        request = {"id": args.id or new_id(), "action": args.action,
                   "service": args.service, "domain": args.domain}
        if args.profile:
            request["profile"] = args.profile
        if args.params:
            request["params"] = args.params
        if args.action == "status":
            reply = call(link, request, deadline, args.timeout)
            if not reply["ok"]:
                raise refused(reply)
            print(json.dumps(reply["state"]))
            return EXIT_OK
        # Subscribe before sending, so that the changes our request causes
        # find us listening.  The feed's topic is the domain as regzoned
        # writes it: lower case, no final dot.
        link.subscribe(args.feed, args.domain.lower().rstrip("."))
        if args.action == "enable":
            return watch(link, args, request, enable_outcome, "active", deadline)
        return watch(link, args, request, disable_outcome, "removed", deadline)
    except Usage as e:
        warn(str(e))
        return EXIT_USAGE
    except Failed as e:
        warn(str(e))
        return EXIT_FAILED
    except (KeyError, TypeError, ValueError) as e:
        warn(f"malformed message from regzoned: {e!r}")
        return EXIT_FAILED
    except zmq.ZMQError as e:
        warn(f"ZeroMQ: {e}")
        return EXIT_FAILED
    except KeyboardInterrupt:
        warn("interrupted")
        return EXIT_FAILED
    finally:
        if link is not None:
            link.close()


if __name__ == "__main__":
    sys.exit(main())
